"""What a stored sighting says, pulled out at ingest into `sighting_refs`.

Kept apart from `sightings.service` because ingest calls it: it must not
import the import path back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection

from shieldwall.intel.stix import ObjectInvalid, timestamp_key
from shieldwall.sightings import repository


def sighting_ref_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`sighting_refs` rows for the sightings among freshly stored object rows."""
    found = []
    for row in rows:
        if row["type"] != "sighting":
            continue
        data = orjson.loads(row["data"])
        count = data.get("count")
        found.append(
            {
                "object_pk": row["pk"],
                "sighting_of_ref": data["sighting_of_ref"],
                "count": count if isinstance(count, int) and not isinstance(count, bool) else 1,
                "last_seen": _seen_key(data, row["version_key"]),
            }
        )
    return found


def _seen_key(data: dict[str, Any], fallback: str) -> str:
    """`last_seen`, else `first_seen`, else the version's `modified`, as a timestamp key."""
    for name in ("last_seen", "first_seen"):
        try:
            return timestamp_key(data.get(name), name)
        except ObjectInvalid:
            continue
    return fallback


def record_sightings(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    repository.insert_refs(conn, sighting_ref_rows(rows))
