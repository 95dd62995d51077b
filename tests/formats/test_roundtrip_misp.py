"""MISP round trip: every ESET event imported, exported as MISP, and equal to the original.

Each event of `../shared/data/misp/eset/` is imported leniently by one
organisation, then everything that organisation may see is exported with
`GET /api/v1/export?format=misp`. The exported events are compared with the
original JSON value by value: the event's fields, every attribute (top level
and in objects) with its object, and the object references. MISP writes
numbers and flags as strings or as JSON values (`"to_ids": "1"` or `true`),
so both sides are read through the same small normalisers before comparing.

The only items allowed to be missing are those the import report refused,
found through the place each rejection names (`Event[uuid].Attribute[i]`,
`Event[uuid].Object[j].Attribute[k]`, `...ObjectReference[r]`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymisp import MISPEvent
from sqlalchemy import Engine

from shieldwall.intel.ingest import ImportReport
from shieldwall.members.model import Role
from tests.factories import Coalition
from tests.formats.helpers import ORG, import_bytes

pytestmark = pytest.mark.shared_data

#: The place of a refused item, as the import report names it.
_PLACE = re.compile(
    r"Event\[(?P<event>[^\]]+)\]"
    r"(?:\.Object\[(?P<object>\d+)\])?"
    r"\.(?P<kind>Attribute|ObjectReference)\[(?P<item>\d+)\]"
)


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true")


def _number(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _optional(value: Any) -> Any:
    return value or None


Normaliser = Callable[[Any], Any]

EVENT_FIELDS: dict[str, Normaliser] = {
    "uuid": str,
    "info": str,
    "date": str,
    "threat_level_id": _number,
    "analysis": _number,
    "distribution": _number,
    "published": _flag,
    "timestamp": _number,
}
ATTRIBUTE_FIELDS: dict[str, Normaliser] = {
    "type": str,
    "category": str,
    "value": str,
    "to_ids": _flag,
    "comment": _text,
    "distribution": _number,
    "timestamp": _number,
    "first_seen": _optional,
    "last_seen": _optional,
    "object_relation": _optional,
}
ORGC_FIELDS: dict[str, Normaliser] = {"uuid": str, "name": str}
OBJECT_FIELDS: dict[str, Normaliser] = {"uuid": str, "name": str, "meta-category": str}
REFERENCE_FIELDS: dict[str, Normaliser] = {
    "referenced_uuid": str,
    "relationship_type": str,
}


def _event_of(document: Any) -> dict[str, Any]:
    if "response" in document:
        document = document["response"][0]
    return document.get("Event", document)  # type: ignore[no-any-return]


def _tags(item: dict[str, Any]) -> list[str]:
    """Tag names, galaxy clusters included by their tag name (the documented mapping)."""
    names = {tag["name"] for tag in item.get("Tag") or ()}
    for galaxy in item.get("Galaxy") or ():
        names.update(cluster["tag_name"] for cluster in galaxy.get("GalaxyCluster") or ())
    return sorted(names)


@dataclass(frozen=True)
class Item:
    """An attribute or object reference, with the MISP object it sits in (if any)."""

    data: dict[str, Any]
    misp_object: dict[str, Any] | None


def _attributes(event: dict[str, Any]) -> Iterator[Item]:
    for attribute in event.get("Attribute") or ():
        yield Item(attribute, None)
    for misp_object in event.get("Object") or ():
        for attribute in misp_object.get("Attribute") or ():
            yield Item(attribute, misp_object)


def _references(event: dict[str, Any]) -> Iterator[Item]:
    for misp_object in event.get("Object") or ():
        for reference in misp_object.get("ObjectReference") or ():
            yield Item(reference, misp_object)


def _refused(event: dict[str, Any], report: ImportReport) -> dict[str, str]:
    """uuid -> reason of every attribute or reference the import report refused."""
    refused: dict[str, str] = {}
    for rejection in report.rejected:
        place = _PLACE.match(rejection.field or "")
        assert place is not None, f"a rejection names no attribute: {rejection}"
        assert place["event"] == event["uuid"], rejection
        holder = event if place["object"] is None else event["Object"][int(place["object"])]
        item = holder[place["kind"]][int(place["item"])]
        assert rejection.reason, rejection
        refused[item["uuid"]] = rejection.reason
    return refused


class Comparison:
    """Differences between an original event and its export, one line each."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.differences: list[str] = []

    def fields(
        self, what: str, fields: dict[str, Normaliser], original: Any, exported: Any
    ) -> None:
        for name, normalise in fields.items():
            before, after = normalise(original.get(name)), normalise(exported.get(name))
            if before != after:
                self.differences.append(
                    f"{self.name}: {what} {name}: original {before!r}, exported {after!r}"
                )

    def same(self, what: str, before: Any, after: Any) -> None:
        if before != after:
            self.differences.append(f"{self.name}: {what}: original {before!r}, exported {after!r}")

    def missing(self, what: str) -> None:
        self.differences.append(f"{self.name}: {what} was imported but is not in the export")

    def extra(self, what: str) -> None:
        self.differences.append(f"{self.name}: {what} is in the export but not in the original")


def _compare_event(
    comparison: Comparison,
    original: dict[str, Any],
    exported: dict[str, Any],
    refused: dict[str, str],
) -> int:
    """Adds the differences of one event; returns how many attributes were compared."""
    comparison.fields("event", EVENT_FIELDS, original, exported)
    comparison.fields("event Orgc", ORGC_FIELDS, original["Orgc"], exported["Orgc"])
    comparison.same("event tags", _tags(original), _tags(exported))

    out_attributes = {item.data["uuid"]: item for item in _attributes(exported)}
    compared = 0
    for item in _attributes(original):
        uuid = item.data["uuid"]
        found = out_attributes.pop(uuid, None)
        if uuid in refused:
            if found is not None:
                comparison.extra(f"refused attribute {uuid} ({refused[uuid]})")
            continue
        if found is None:
            comparison.missing(f"attribute {uuid} ({item.data['type']} {item.data['value']!r})")
            continue
        compared += 1
        what = f"attribute {uuid}"
        comparison.fields(what, ATTRIBUTE_FIELDS, item.data, found.data)
        comparison.same(f"{what} tags", _tags(item.data), _tags(found.data))
        if item.misp_object is None or found.misp_object is None:
            comparison.same(f"{what} object", item.misp_object, found.misp_object)
        else:
            comparison.fields(f"{what} object", OBJECT_FIELDS, item.misp_object, found.misp_object)
    for uuid in out_attributes:
        comparison.extra(f"attribute {uuid}")

    out_references = {item.data["uuid"]: item for item in _references(exported)}
    for item in _references(original):
        uuid = item.data["uuid"]
        found = out_references.pop(uuid, None)
        if uuid in refused:
            continue
        if found is None:
            comparison.missing(f"object reference {uuid}")
            continue
        comparison.fields(f"object reference {uuid}", REFERENCE_FIELDS, item.data, found.data)
        comparison.same(
            f"object reference {uuid} source object",
            item.misp_object["uuid"] if item.misp_object else None,
            found.misp_object["uuid"] if found.misp_object else None,
        )
    for uuid in out_references:
        comparison.extra(f"object reference {uuid}")
    return compared


def test_every_eset_event_comes_back_from_a_misp_export_value_by_value(
    engine: Engine, client: TestClient, coalition: Coalition, shared_data: Path
) -> None:
    files = sorted((shared_data / "misp" / "eset").rglob("*.json"))
    assert len(files) == 39
    originals: dict[str, tuple[str, dict[str, Any], ImportReport]] = {}
    for path in files:
        event = _event_of(json.loads(path.read_bytes()))
        report = import_bytes(engine, path.read_bytes(), name=path.name)
        assert report.committed, path.name
        originals[event["uuid"]] = (path.name, event, report)

    response = client.get(
        "/api/v1/export", params={"format": "misp"}, headers=coalition.auth(ORG, Role.READER)
    )
    assert response.status_code == 200, response.text
    exported = {item["Event"]["uuid"]: item for item in response.json()["response"]}
    # Every object came from one of these events: no event "for the rest", none lost.
    assert set(exported) == set(originals)

    differences: list[str] = []
    compared = refused_count = 0
    for event_uuid, (name, original, report) in originals.items():
        refused = _refused(original, report)
        refused_count += len(refused)
        comparison = Comparison(name)
        compared += _compare_event(comparison, original, exported[event_uuid]["Event"], refused)
        differences += comparison.differences
        # The field's own reader loads what we wrote, with every attribute.
        written = sum(1 for _ in _attributes(exported[event_uuid]["Event"]))
        loaded = MISPEvent()
        loaded.load(exported[event_uuid])  # (PyMISP consumes the dictionary it loads)
        assert len(loaded.attributes) + sum(len(o.attributes) for o in loaded.objects) == written
    assert not differences, f"{len(differences)} difference(s):\n" + "\n".join(differences[:60])
    # 3,401 attributes; the 8 URLs without a scheme are the ones STIX cannot hold.
    assert (compared, refused_count) == (3401 - 8, 8)
