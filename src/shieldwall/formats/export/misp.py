"""`misp`: MISP event JSON (`{"response": [{"Event": ...}, ...]}`) of the objects in scope.

Grouping, in this order:

1. every visible report becomes one event. A report imported from MISP
   (`x_misp_event_uuid`, see the MISP contract) is rebuilt as the original
   event: its fields from the report's `x_misp_*` properties, each attribute
   from its object's `x_misp_*` properties (value verbatim), MISP objects
   regrouped by `x_misp_object_uuid` and object references restored from
   their relationships. Any other report becomes an event of the observables
   of the objects it refers to;
2. objects imported from MISP whose report the caller cannot see are grouped
   by their `x_misp_event_uuid` (the report's own fields stay hidden);
3. every other object with observables goes into one event "for the rest",
   written as a stream: one attribute per observable, with a `tlp:*` tag and
   a `shieldwall:source` tag naming the owner.

Reports and MISP-origin objects are held in memory one event at a time; the
rest (the bulk of a large store) streams in flat memory.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection

from shieldwall.formats.export import repository
from shieldwall.formats.export.common import TLP_SLUG, epoch_seconds, stix_uuid
from shieldwall.formats.export.model import ObjectRow
from shieldwall.formats.export.repository import Scope
from shieldwall.sharing.tlp import DistKind

#: Namespace of the UUIDs this exporter derives (rest event, per-value attributes).
NAMESPACE = uuid.UUID("0d8b7e4c-3f57-4c8e-9a43-5c1b2f6a9e10")

KIND_TYPES: dict[str, tuple[str, str]] = {
    "ipv4": ("ip-dst", "Network activity"),
    "ipv6": ("ip-dst", "Network activity"),
    "cidr": ("ip-dst", "Network activity"),
    "domain": ("domain", "Network activity"),
    "url": ("url", "Network activity"),
    "email": ("email-src", "Payload delivery"),
    "md5": ("md5", "Payload delivery"),
    "sha1": ("sha1", "Payload delivery"),
    "sha256": ("sha256", "Payload delivery"),
    "sha512": ("sha512", "Payload delivery"),
    "filename": ("filename", "Payload delivery"),
}

#: shieldwall distribution -> MISP distribution. A sharing group has no MISP
#: counterpart without the group itself, so it narrows to "your organisation".
MISP_DISTRIBUTION = {
    int(DistKind.ORG): "0",
    int(DistKind.GROUP): "0",
    int(DistKind.MEMBERS): "1",
    int(DistKind.PUBLIC): "3",
}
_NOT_ATTRIBUTES = frozenset({"report", "identity", "marking-definition", "relationship"})
_THREAT_UNDEFINED = "4"
_ANALYSIS_COMPLETED = "2"


def _tag(name: str) -> dict[str, str]:
    return {"name": name}


def _date(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def _is_misp(row: ObjectRow) -> bool:
    return '"x_misp_' in row.data


# --------------------------------------------------------------------------- attributes


def misp_attribute(doc: dict[str, Any]) -> dict[str, Any]:
    """An attribute rebuilt from an object imported from MISP, field by field."""
    attribute: dict[str, Any] = {
        "uuid": doc["x_misp_uuid"],
        "type": doc.get("x_misp_type"),
        "category": doc.get("x_misp_category"),
        "value": doc.get("x_misp_value"),
        "to_ids": bool(doc.get("x_misp_to_ids")),
        "comment": doc.get("x_misp_comment") or "",
        "timestamp": str(doc.get("x_misp_timestamp", 0)),
        "distribution": str(doc.get("x_misp_distribution", 5)),
        "Tag": [_tag(str(name)) for name in doc.get("x_misp_tags") or ()],
    }
    for seen in ("first_seen", "last_seen"):
        if doc.get(f"x_misp_{seen}"):
            attribute[seen] = doc[f"x_misp_{seen}"]
    if doc.get("x_misp_object_relation"):
        attribute["object_relation"] = doc["x_misp_object_relation"]
    return attribute


def value_attributes(row: ObjectRow) -> list[dict[str, Any]]:
    """One attribute per observable of an object that did not come from MISP."""
    object_uuid = stix_uuid(row.stix_id)
    single = len(row.observables) == 1
    tags = [_tag(f"tlp:{TLP_SLUG[row.tlp]}"), _tag(f'shieldwall:source="{row.owner}"')]
    attributes = []
    for kind, value in row.observables:
        misp_type, category = KIND_TYPES[kind]
        attributes.append(
            {
                "uuid": object_uuid
                if single
                else str(uuid.uuid5(NAMESPACE, f"{row.stix_id}|{kind}|{value}")),
                "type": misp_type,
                "category": category,
                "value": value,
                "to_ids": row.stix_type == "indicator",
                "comment": row.stix_id,
                "timestamp": str(epoch_seconds(row.version_key)),
                "distribution": MISP_DISTRIBUTION[row.dist],
                "Tag": tags,
            }
        )
    return attributes


# --------------------------------------------------------------------------- events


@dataclass
class EventStream:
    """One event, written as a stream of bytes; `header` is complete once it is written.

    `on_attribute` sees every attribute written (the feed hashes their values).
    """

    uuid: str
    header: dict[str, Any]
    attribute_batches: Iterable[list[dict[str, Any]]]
    objects: list[dict[str, Any]] = field(default_factory=list)
    on_attribute: Callable[[dict[str, Any]], None] | None = None

    def chunks(self) -> Iterator[bytes]:
        newest = int(self.header.get("timestamp") or 0)
        yield b'{"Event": {"Attribute": ['
        separator = b""
        for batch in self.attribute_batches:
            if not batch:
                continue
            newest = max(newest, self._observe(batch))
            yield separator + b",".join(orjson.dumps(a) for a in batch)
            separator = b","
        for misp_object in self.objects:
            newest = max(newest, self._observe(misp_object["Attribute"]))
        self.header["timestamp"] = str(newest)
        self.header.setdefault("date", _date(newest))
        tail = orjson.dumps({"Object": self.objects, **self.header})
        yield b"], " + tail[1:] + b"}\n"

    def _observe(self, attributes: list[dict[str, Any]]) -> int:
        newest = 0
        for attribute in attributes:
            newest = max(newest, int(attribute.get("timestamp") or 0))
            if self.on_attribute is not None:
                self.on_attribute(attribute)
        return newest


def _orgc(name: str | None, org_uuid: str | None = None) -> dict[str, str]:
    label = name or "unknown"
    return {"name": label, "uuid": org_uuid or str(uuid.uuid5(NAMESPACE, f"org|{label}"))}


class _Grouped:
    """The attributes and MISP objects of one event, from its STIX objects."""

    def __init__(self) -> None:
        self.attributes: list[dict[str, Any]] = []
        self.objects: dict[str, dict[str, Any]] = {}
        self.references: list[dict[str, Any]] = []

    def add(self, row: ObjectRow) -> None:
        if row.stix_type in ("report", "identity", "marking-definition"):
            return
        doc = orjson.loads(row.data) if _is_misp(row) else None
        if doc is not None and doc.get("x_misp_object_reference"):
            self.references.append(doc)
        elif doc is not None and isinstance(doc.get("x_misp_uuid"), str):
            self._add_misp(doc)
        elif row.stix_type != "relationship":
            self.attributes.extend(value_attributes(row))

    def _add_misp(self, doc: dict[str, Any]) -> None:
        attribute = misp_attribute(doc)
        object_uuid = doc.get("x_misp_object_uuid")
        if not isinstance(object_uuid, str):
            self.attributes.append(attribute)
            return
        misp_object = self.objects.setdefault(
            object_uuid,
            {
                "uuid": object_uuid,
                "name": doc.get("x_misp_object_name"),
                "meta-category": doc.get("x_misp_object_meta_category"),
                "distribution": "5",
                "Attribute": [],
                "ObjectReference": [],
            },
        )
        misp_object["Attribute"].append(attribute)

    def misp_objects(self) -> list[dict[str, Any]]:
        for reference in self.references:
            source = self.objects.get(str(reference.get("x_misp_source_uuid")))
            if source is None:
                continue
            source["ObjectReference"].append(
                {
                    "uuid": stix_uuid(reference["id"]),
                    "object_uuid": reference.get("x_misp_source_uuid"),
                    "referenced_uuid": reference.get("x_misp_target_uuid"),
                    "relationship_type": reference.get("relationship_type"),
                    "comment": reference.get("x_misp_comment") or "",
                }
            )
        return list(self.objects.values())


def _misp_report_header(doc: dict[str, Any]) -> dict[str, Any]:
    creator = doc.get("created_by_ref")
    org_uuid = stix_uuid(creator) if isinstance(creator, str) else None
    header: dict[str, Any] = {
        "uuid": doc["x_misp_event_uuid"],
        "info": doc.get("x_misp_info") or doc.get("name"),
        "threat_level_id": str(doc.get("x_misp_threat_level_id", 4)),
        "analysis": str(doc.get("x_misp_analysis", 0)),
        "distribution": str(doc.get("x_misp_distribution", 0)),
        "published": bool(doc.get("x_misp_published")),
        "timestamp": str(doc.get("x_misp_timestamp", 0)),
        "Orgc": _orgc(doc.get("x_misp_orgc"), org_uuid),
        "Tag": [_tag(str(name)) for name in doc.get("x_misp_tags") or ()],
    }
    if doc.get("x_misp_date"):
        header["date"] = doc["x_misp_date"]
    return header


def _report_header(row: ObjectRow, doc: dict[str, Any]) -> dict[str, Any]:
    published = doc.get("published")
    header: dict[str, Any] = {
        "uuid": stix_uuid(row.stix_id),
        "info": str(doc.get("name") or row.stix_id),
        "threat_level_id": _THREAT_UNDEFINED,
        "analysis": _ANALYSIS_COMPLETED,
        "distribution": MISP_DISTRIBUTION[row.dist],
        "published": False,
        "timestamp": str(epoch_seconds(row.version_key)),
        "Orgc": _orgc(row.owner),
        "Tag": [_tag(f"tlp:{TLP_SLUG[row.tlp]}")],
    }
    if isinstance(published, str) and len(published) >= 10:
        header["date"] = published[:10]
    return header


@dataclass
class _Coverage:
    """What the report events already wrote, so the rest leaves it out."""

    misp_events: set[str] = field(default_factory=set)
    referenced: set[str] = field(default_factory=set)


def _report_events(
    conn: Connection, scope: Scope, page_size: int, covered: _Coverage
) -> Iterator[EventStream]:
    if scope.object_types and "report" not in scope.object_types:
        return
    reports = Scope(
        principal=scope.principal,
        filters=scope.filters,
        object_types=("report",),
        include_revoked=scope.include_revoked,
        anonymous_public=scope.anonymous_public,
    )
    for page in repository.object_pages(conn, reports, page_size=page_size, with_observables=False):
        for row in page:
            doc = orjson.loads(row.data)
            refs = [ref for ref in doc.get("object_refs") or () if isinstance(ref, str)]
            grouped = _Grouped()
            for member in repository.objects_by_id(conn, scope, refs):
                grouped.add(member)
            event_uuid = doc.get("x_misp_event_uuid")
            if isinstance(event_uuid, str):
                covered.misp_events.add(event_uuid)
                header = _misp_report_header(doc)
            else:
                covered.referenced.update(refs)
                header = _report_header(row, doc)
            yield EventStream(header["uuid"], header, [grouped.attributes], grouped.misp_objects())


def _rest_header(caller: str) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid5(NAMESPACE, f"rest|{caller}")),
        "info": f"shieldwall: indicators outside any report, as exported for {caller}",
        "threat_level_id": _THREAT_UNDEFINED,
        "analysis": _ANALYSIS_COMPLETED,
        "distribution": "0",
        "published": False,
        "timestamp": "0",
        "Orgc": _orgc("shieldwall"),
        "Tag": [],
    }


def _rest_batches(
    conn: Connection,
    scope: Scope,
    page_size: int,
    covered: _Coverage,
    orphans: dict[str, _Grouped],
) -> Iterator[list[dict[str, Any]]]:
    for page in repository.object_pages(conn, scope, page_size=page_size):
        batch: list[dict[str, Any]] = []
        for row in page:
            if row.stix_type in _NOT_ATTRIBUTES or row.stix_id in covered.referenced:
                continue
            if _is_misp(row):
                event_uuid = orjson.loads(row.data).get("x_misp_event_uuid")
                if isinstance(event_uuid, str):
                    if event_uuid not in covered.misp_events:
                        orphans.setdefault(event_uuid, _Grouped()).add(row)
                    continue
            if row.observables:
                batch.extend(value_attributes(row))
        yield batch


def events(
    conn: Connection,
    scope: Scope,
    caller: str,
    page_size: int,
    on_attribute: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[EventStream]:
    """Every event of the export, in the order of the module docstring (orphans last)."""
    covered = _Coverage()
    for event in _report_events(conn, scope, page_size, covered):
        event.on_attribute = on_attribute
        yield event
    orphans: dict[str, _Grouped] = {}
    batches = _rest_batches(conn, scope, page_size, covered, orphans)
    first = next((batch for batch in batches if batch), None)
    if first is not None:
        rest = _rest_header(caller)
        yield EventStream(rest["uuid"], rest, _chain(first, batches), [], on_attribute)
    for event_uuid, grouped in orphans.items():
        header = {
            "uuid": event_uuid,
            "info": f"MISP event {event_uuid}",
            "threat_level_id": _THREAT_UNDEFINED,
            "analysis": "0",
            "distribution": "0",
            "published": False,
            "timestamp": "0",
            "Orgc": _orgc("unknown"),
            "Tag": [],
        }
        yield EventStream(
            event_uuid, header, [grouped.attributes], grouped.misp_objects(), on_attribute
        )


def _chain(
    first: list[dict[str, Any]], rest: Iterator[list[dict[str, Any]]]
) -> Iterator[list[dict[str, Any]]]:
    yield first
    yield from rest


def write(conn: Connection, scope: Scope, caller: str, page_size: int) -> Iterator[bytes]:
    yield b'{"response": [\n'
    separator = b""
    for event in events(conn, scope, caller, page_size):
        yield separator
        yield from event.chunks()
        separator = b","
    yield b"]}\n"


def value_hashes(attribute: dict[str, Any]) -> list[str]:
    """MD5s of an attribute's value (each part of a composite value), as feeds list them."""
    value = str(attribute.get("value") or "")
    parts = value.split("|") if "|" in str(attribute.get("type")) else [value]
    return [hashlib.md5(part.encode(), usedforsecurity=False).hexdigest() for part in parts]
