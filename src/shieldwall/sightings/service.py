"""Sightings: members saying "we saw this indicator, this often, until then".

A sighting is a STIX `sighting` object, filed through the one import path
(`intel.imports.run_import`): it carries the reporter's TLP and distribution
and is read through the access policy like any intel. The owner of the
sighted indicator therefore sees a sighting, and who filed it, exactly when
the reporter's marking lets it; a caller never learns of sightings it may not
read, not even through a score (scores count visible sightings only).

At ingest, `sightings.refs` copies what each sighting says (object sighted,
count, last seen) into `sighting_refs`, so that scores and listings never
parse STIX JSON.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine

from shieldwall.config import Settings
from shieldwall.db.engine import read_transaction
from shieldwall.errors import BadInput, NotFound
from shieldwall.intel import service as intel
from shieldwall.intel.imports import ImportRequest, run_import
from shieldwall.intel.ingest import Mode
from shieldwall.intel.service import Reader
from shieldwall.intel.stix import ObjectInvalid, timestamp_key
from shieldwall.match import service as matching
from shieldwall.match.service import IndexHolder, MatchOptions, Wanted
from shieldwall.members.model import Role
from shieldwall.sharing.policy import Action, Principal, may, require
from shieldwall.sharing.tlp import TLP
from shieldwall.sightings import repository

#: Sightings listed per object at most.
LIST_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class SightingItem:
    """One thing seen: an object by id, or a value (every visible indicator it hits)."""

    object_id: str | None = None
    value: str | None = None
    type: str | None = None
    count: int = 1
    first_seen: str | None = None
    last_seen: str | None = None
    where: str | None = None


@dataclass(frozen=True, slots=True)
class SightingReport:
    items: Sequence[SightingItem]
    tlp: str = "amber"
    distribution: str = "members"

    @classmethod
    def from_scan(cls, rows: Sequence[dict[str, Any]], where: str | None = None) -> SightingReport:
        """One sighting per indicator hit by a scan, counting the hit's occurrences."""
        items = [
            SightingItem(object_id=indicator["id"], count=max(row["count"], 1), where=where)
            for row in rows
            for indicator in row["indicators"]
        ]
        return cls(items)

    def as_request(self) -> dict[str, Any]:
        return {
            "sightings": [
                {k: v for k, v in dataclasses.asdict(item).items() if v is not None}
                for item in self.items
            ],
            "tlp": self.tlp,
            "distribution": self.distribution,
        }


def _stix_time(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _sighting(target: str, item: SightingItem, now: str) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": now,
        "modified": now,
        "sighting_of_ref": target,
        "count": item.count,
        "first_seen": item.first_seen or item.last_seen or now,
        "last_seen": item.last_seen or item.first_seen or now,
    }
    if item.where:
        obj["x_shieldwall_where"] = item.where
    return obj


def _check(item: SightingItem, position: int) -> None:
    where = f"sightings[{position}]"
    if (item.object_id is None) == (item.value is None):
        raise BadInput("give either object_id or value", where=where)
    if not 0 <= item.count <= 999_999_999:
        raise BadInput("count must be between 0 and 999999999", where=f"{where}.count")
    for name in ("first_seen", "last_seen"):
        stamp = getattr(item, name)
        try:
            if stamp is not None:
                timestamp_key(stamp, name)
        except ObjectInvalid as exc:
            raise BadInput(exc.reason, where=f"{where}.{name}") from None
    if item.first_seen and item.last_seen and item.last_seen < item.first_seen:
        raise BadInput("last_seen is earlier than first_seen", where=f"{where}.last_seen")


def _targets(
    conn: Connection, reader: Reader, holder: IndexHolder, item: SightingItem, position: int
) -> list[str]:
    if item.object_id is not None:
        intel.get_object(conn, reader, item.object_id)  # NotFound unless visible
        return [item.object_id]
    assert item.value is not None
    matching.check_kind(item.type)
    options = MatchOptions(include_warninglisted=True)
    found = matching.match(conn, holder.current(), reader, [Wanted(item.type, item.value)], options)
    ids = sorted({i["id"] for hit in found["hits"] for i in hit["indicators"]})
    if not ids:
        raise NotFound(f"no indicator matches {item.value!r}", where=f"sightings[{position}].value")
    return ids


def report(
    engine: Engine,
    settings: Settings,
    principal: Principal,
    holder: IndexHolder,
    sighting_report: SightingReport,
) -> dict[str, Any]:
    """Files the sightings as one import of the reporter's organisation."""
    require(principal, Action.REPORT_SIGHTING)
    TLP.parse(sighting_report.tlp)
    reader = Reader(principal)
    now = _stix_time(datetime.now(UTC))
    objects: list[dict[str, Any]] = []
    with read_transaction(engine) as conn:
        for position, item in enumerate(sighting_report.items):
            _check(item, position)
            for target in _targets(conn, reader, holder, item, position):
                objects.append(_sighting(target, item, now))
    request = ImportRequest(
        principal=_filer(principal),
        owner=principal.org_name or "",
        tlp=sighting_report.tlp,
        distribution=sighting_report.distribution,
        mode=Mode.STRICT,
    )
    imported = run_import(engine, settings, request, lambda: iter(objects), "sightings")
    return {"created": imported.created, "sightings": [obj["id"] for obj in objects]}


def _filer(principal: Principal) -> Principal:
    """The principal the import runs as.

    The import path asks for the right to write intel; a sensor key has only
    the right to report sightings, which was checked above. The objects
    imported are the sightings built here, nothing the caller wrote itself.
    """
    if may(principal, Action.WRITE_INTEL):
        return principal
    return dataclasses.replace(principal, role=Role.ANALYST)


def list_sightings(conn: Connection, reader: Reader, stix_id: str) -> dict[str, Any]:
    """The sightings of a visible object that the reader may see."""
    intel.get_object(conn, reader, stix_id)  # the same 404 for absent and invisible
    rows = repository.visible_sightings_of(conn, reader.policy(), stix_id, LIST_LIMIT)
    views = []
    for row in rows:
        data = orjson.loads(row["data"])
        views.append(
            {
                "id": row["stix_id"],
                "by": row["owner"],
                "tlp": TLP(row["tlp"]).slug,
                "count": row["count"],
                "first_seen": data.get("first_seen"),
                "last_seen": data.get("last_seen"),
                "where": data.get("x_shieldwall_where"),
            }
        )
    return {"object_id": stix_id, "sightings": views}
