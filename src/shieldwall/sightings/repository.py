"""SQL of sightings: the sighting index filled at ingest, and visible sightings of an object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, insert, select, true

from shieldwall.correlate.tables import sighting_refs
from shieldwall.intel.tables import stix_objects
from shieldwall.members.tables import organisations


def insert_refs(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(sighting_refs), list(rows))


def visible_sightings_of(
    conn: Connection, policy: ColumnElement[bool], stix_id: str, limit: int
) -> list[RowMapping]:
    """The latest version of each sighting of `stix_id` the policy lets through, newest first."""
    query = (
        select(
            stix_objects.c.stix_id,
            stix_objects.c.tlp,
            stix_objects.c.data,
            sighting_refs.c.count,
            sighting_refs.c.last_seen,
            organisations.c.name.label("owner"),
        )
        .select_from(sighting_refs)
        .join(stix_objects, stix_objects.c.pk == sighting_refs.c.object_pk)
        .join(organisations, organisations.c.id == stix_objects.c.owner_org_id)
        .where(
            sighting_refs.c.sighting_of_ref == stix_id, stix_objects.c.is_latest == true(), policy
        )
        .order_by(sighting_refs.c.last_seen.desc(), stix_objects.c.pk.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
