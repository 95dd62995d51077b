"""MISP event JSON in: every shape MISP writes, mapped to STIX 2.1 (see docs/formats.md).

Shapes: a bare event, `{"Event": ...}`, `{"response": [{"Event": ...}]}` and
lists of any of these. The mapping follows the contract shared with the MISP
exporter, so that a round trip returns the same event:

- the event becomes `report--<event uuid>`, its creator organisation an
  `identity--<orgc uuid>` (the report's `created_by_ref`);
- each attribute (top level or in a MISP object) becomes exactly one object
  whose id reuses the attribute UUID: an indicator when `to_ids` is set and a
  pattern exists for its type, else an SCO where STIX has one, else a
  vulnerability (for `vulnerability`) or a note; every MISP field is kept in
  `x_misp_*` properties, the value verbatim;
- object references become `relationship--<reference uuid>`;
- `tlp:*` tags become TLP 2.0 marking refs (an attribute carries its own and
  its event's; the ingest keeps the most restrictive).

Distribution: the ingest applies one distribution per import (one import is
one transaction), so an input gets the narrowest distribution found in its
events, attributes and objects: nothing is ever shared wider than MISP said.

An attribute that cannot be mapped is refused with its place in the event
(`Event[uuid].Object[j].Attribute[k]`) and the reason; the report counts it.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

from shieldwall.errors import BadInput
from shieldwall.formats.common import Conversion, Unmappable
from shieldwall.formats.misp_types import MAPPERS, Mapped
from shieldwall.intel.ingest import untrack_parsed
from shieldwall.sharing.tlp import TLP, TLP2_MARKING_ID

_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")

#: MISP distribution levels -> shieldwall distribution (4 is resolved per event).
_DISTRIBUTIONS = {0: "org", 1: "members", 2: "members", 3: "public"}
#: Narrowest first: what an input made of several levels is given.
_NARROW_ORDER = ("org", "group", "members", "public")
_INHERIT = 5
_SHARING_GROUP = 4


# --------------------------------------------------------------------------- shapes


def load_events(data: bytes) -> list[dict[str, Any]]:
    """The events of a MISP JSON document, whatever its shape."""
    try:
        with _collector_paused():
            document = orjson.loads(data)
            # The events are only read from here on (the mapper keeps its
            # own state apart): no cycle can form through them.
            untrack_parsed(document)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"invalid JSON: {exc}", where="body") from None
    events: list[dict[str, Any]] = []
    _collect(document, events, "body")
    if not events:
        raise BadInput("no MISP event found (expected an Event object)", where="body")
    return events


#: Imports that have the collector paused now, and whether it was on before the
#: first of them: imports run in threads of one process, and the collector is
#: the process's (`_collector_paused`).
_PAUSE_LOCK = threading.Lock()
_pausers = 0
_was_enabled = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a document's tree is built and untracked.

    Parsing makes one container per JSON object and array and frees none, so
    every collection the allocations start finds no garbage and walks the
    growing tree again, as every collection the mapping starts afterwards
    would: 18 of 127 ms CPU per ESET copy (3.5 MB) went to it
    (bench.misp_import, issue 4). A JSON tree holds no cycle, so nothing is
    left uncollected. The first of overlapping imports turns it off and the
    last turns it back on, only if it was on: a caller who turned it off
    keeps it off, and two imports in two threads cannot leave it off.
    """
    global _pausers, _was_enabled
    with _PAUSE_LOCK:
        if _pausers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _PAUSE_LOCK:
            _pausers -= 1
            if _pausers == 0 and _was_enabled:
                gc.enable()


def _collect(node: Any, events: list[dict[str, Any]], where: str) -> None:
    if isinstance(node, list):
        for position, item in enumerate(node):
            _collect(item, events, f"{where}[{position}]")
        return
    if not isinstance(node, dict):
        raise BadInput("expected a MISP event object", where=where)
    if "response" in node:
        _collect(node["response"], events, f"{where}.response")
    elif isinstance(node.get("Event"), dict):
        events.append(node["Event"])
    elif is_bare_event(node):
        events.append(node)
    else:
        raise BadInput("expected a MISP event: an object with Event, or uuid and info", where=where)


def is_bare_event(node: dict[str, Any]) -> bool:
    return "uuid" in node and ("info" in node or "Attribute" in node or "Object" in node)


# --------------------------------------------------------------------------- scalars


#: Numbers as MISP writes them and their values: an event's attributes share
#: a few timestamps and distributions (bounded: values come from the input).
_INTS: dict[str, int] = {}


#: The most digits a number may have: every MISP number (an id, a level, an
#: epoch timestamp) has far fewer, and more would pass JSON's 64-bit integers.
_MAX_DIGITS = 18


def _int(value: Any, default: int) -> int:
    """MISP writes numbers as strings ("distribution": "1"); both are accepted.

    Anything else, or a number of more than `_MAX_DIGITS` digits, is `default`.
    """
    if isinstance(value, str):
        number = _INTS.get(value)
        if number is not None:
            return number
        text = value.strip()
        # isdecimal, not isdigit: "²" is a digit that int() refuses.
        if not text.isdecimal() or len(text) > _MAX_DIGITS:
            return default
        if len(_INTS) > 100_000:
            _INTS.clear()
        number = _INTS[value] = int(text)
        return number
    if isinstance(value, bool):
        return default
    if isinstance(value, int) and abs(value) < 10**_MAX_DIGITS:
        return value
    return default


#: 9999-12-31T23:59:59Z, the last second a STIX timestamp (and a datetime) can hold.
_LAST_EPOCH = 253_402_300_799


def epoch(value: Any, default: int) -> int:
    """A MISP timestamp (seconds since 1970); `default` where it is none or past year 9999."""
    number = _int(value, default)
    return number if number <= _LAST_EPOCH else default


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return bool(value)


_TIMES: dict[int, str] = {}


def _stix_time(epoch: int) -> str:
    # Attributes of one event share a handful of timestamps: format each once.
    text = _TIMES.get(epoch)
    if text is None:
        if len(_TIMES) > 100_000:
            _TIMES.clear()
        moment = datetime.fromtimestamp(max(epoch, 0), UTC)
        text = _TIMES[epoch] = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return text


def _tag_names(item: dict[str, Any]) -> list[str]:
    names = [t["name"] for t in item.get("Tag") or () if isinstance(t, dict) and "name" in t]
    for galaxy in item.get("Galaxy") or ():
        for cluster in galaxy.get("GalaxyCluster") or () if isinstance(galaxy, dict) else ():
            tag = cluster.get("tag_name") if isinstance(cluster, dict) else None
            if isinstance(tag, str) and tag not in names:
                names.append(tag)
    return names


def _tlp_refs(tags: list[str]) -> list[str]:
    refs: list[str] = []
    for tag in tags:
        if tag.lower().startswith("tlp:"):
            try:
                ref = TLP2_MARKING_ID[TLP.parse(tag)]
            except BadInput:
                continue  # tlp:unclear and the like are no TLP level
            if ref not in refs:
                refs.append(ref)
    return refs


# --------------------------------------------------------------------------- distribution


def event_distribution(event: dict[str, Any]) -> str:
    """The narrowest distribution of the event and everything in it, as shieldwall text."""
    own = _distribution_text(event, _int(event.get("distribution"), 0), None)
    levels = [own]
    for item in _distributed_items(event):
        level = _int(item.get("distribution"), _INHERIT)
        if level != _INHERIT:
            levels.append(_distribution_text(item, level, own))
    return narrowest(levels)


def _distributed_items(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from event.get("Attribute") or ()
    for misp_object in event.get("Object") or ():
        yield misp_object
        yield from misp_object.get("Attribute") or ()


def _distribution_text(item: dict[str, Any], level: int, inherited: str | None) -> str:
    if level == _INHERIT:
        return inherited or "org"
    if level == _SHARING_GROUP:
        group = item.get("SharingGroup")
        name = group.get("name") if isinstance(group, dict) else None
        return f"group:{name}" if isinstance(name, str) and name else "org"
    return _DISTRIBUTIONS.get(level, "org")


def narrowest(levels: list[str]) -> str:
    """The narrowest of several distributions; two different groups meet in `org`."""
    groups = {level for level in levels if level.startswith("group:")}
    if len(groups) > 1:
        return "org"
    ranked = sorted(levels, key=lambda level: _NARROW_ORDER.index(level.split(":")[0]))
    return ranked[0] if ranked else "org"


# --------------------------------------------------------------------------- events


class EventMapper:
    """Maps the events of one input to STIX objects, recording origins and refusals."""

    def __init__(self, conversion: Conversion) -> None:
        self.conversion = conversion

    def objects(self, events: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for index, event in enumerate(events):
            uuid = event.get("uuid")
            if not isinstance(uuid, str) or not _UUID_RE.fullmatch(uuid):
                self.conversion.refuse(index, None, f"Event[{index}].uuid", "is not a UUID")
                continue
            yield from _Event(self.conversion, index, event, uuid).objects()


class _Event:
    """One event's mapping: attributes first (their ids are needed by references)."""

    def __init__(
        self, conversion: Conversion, index: int, event: dict[str, Any], uuid: str
    ) -> None:
        self.conversion = conversion
        self.index = index
        self.event = event
        self.uuid = uuid
        self.where = f"Event[{uuid}]"
        self.timestamp = epoch(event.get("timestamp"), 0)
        self.time = _stix_time(self.timestamp)
        self.distribution = _int(event.get("distribution"), 0)
        self.tags = _tag_names(event)
        self.tlp_refs = _tlp_refs(self.tags)
        self.report_id = f"report--{uuid}"
        self.identity = self._identity()
        self.refs: list[str] = []
        #: MISP uuid (attribute or object) -> the STIX id standing for it.
        self.stix_ids: dict[str, str] = {}

    def objects(self) -> Iterator[dict[str, Any]]:
        if self.identity is not None:
            yield self._emit(self.identity, f"{self.where}.Orgc")
        for position, attribute in enumerate(self.event.get("Attribute") or ()):
            mapped = self._attribute(attribute, f"{self.where}.Attribute[{position}]", None)
            if mapped is not None:
                yield mapped
        misp_objects = self.event.get("Object") or ()
        for position, misp_object in enumerate(misp_objects):
            yield from self._object(misp_object, f"{self.where}.Object[{position}]")
        for position, misp_object in enumerate(misp_objects):
            yield from self._references(misp_object, f"{self.where}.Object[{position}]")
        yield self._emit(self._report(), self.where)

    def _emit(self, obj: dict[str, Any], location: str) -> dict[str, Any]:
        self.conversion.emitted(self.index, location)
        return obj

    # -- the event itself

    def _identity(self) -> dict[str, Any] | None:
        orgc = self.event.get("Orgc")
        if not isinstance(orgc, dict) or not isinstance(orgc.get("uuid"), str):
            return None
        if not _UUID_RE.fullmatch(orgc["uuid"]) or not orgc.get("name"):
            return None
        return {
            "type": "identity",
            "spec_version": "2.1",
            "id": f"identity--{orgc['uuid']}",
            "created": self.time,
            "modified": self.time,
            "name": str(orgc["name"]),
            "identity_class": "organization",
            "x_misp_org_uuid": orgc["uuid"],
        }

    def _report(self) -> dict[str, Any]:
        event = self.event
        date = event.get("date")
        published = (
            f"{date}T00:00:00.000Z"
            if isinstance(date, str) and _DATE_RE.fullmatch(date)
            else self.time
        )
        orgc = event.get("Orgc")
        report: dict[str, Any] = {
            "type": "report",
            "spec_version": "2.1",
            "id": self.report_id,
            "created": self.time,
            "modified": self.time,
            "name": str(event.get("info") or f"MISP event {self.uuid}"),
            "published": published,
            "report_types": ["threat-report"],
            # A report needs at least one ref: an empty event refers to its author.
            "object_refs": self.refs
            or ([self.identity["id"]] if self.identity else [self.report_id]),
            "x_misp_event_uuid": self.uuid,
            "x_misp_info": event.get("info"),
            "x_misp_date": date,
            "x_misp_threat_level_id": _int(event.get("threat_level_id"), 4),
            "x_misp_analysis": _int(event.get("analysis"), 0),
            "x_misp_distribution": self.distribution,
            "x_misp_orgc": orgc.get("name") if isinstance(orgc, dict) else None,
            "x_misp_timestamp": self.timestamp,
            "x_misp_published": _bool(event.get("published")),
            "x_misp_tags": self.tags,
        }
        if self.identity is not None:
            report["created_by_ref"] = self.identity["id"]
        if self.tlp_refs:
            report["object_marking_refs"] = self.tlp_refs
        return report

    # -- attributes

    def _object(self, misp_object: Any, where: str) -> Iterator[dict[str, Any]]:
        if not isinstance(misp_object, dict):
            self.conversion.refuse(self.index, None, where, "is not a MISP object")
            return
        context = {
            "x_misp_object_uuid": misp_object.get("uuid"),
            "x_misp_object_name": misp_object.get("name"),
            "x_misp_object_meta_category": misp_object.get("meta-category"),
        }
        for position, attribute in enumerate(misp_object.get("Attribute") or ()):
            mapped = self._attribute(attribute, f"{where}.Attribute[{position}]", context)
            if mapped is not None:
                if isinstance(context["x_misp_object_uuid"], str):
                    self.stix_ids.setdefault(context["x_misp_object_uuid"], mapped["id"])
                yield mapped

    def _attribute(
        self, attribute: Any, where: str, context: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        # The per-attribute cost of an import (issue 4): one dict literal for
        # the MISP fields, each field read once, nothing asked twice.
        if not isinstance(attribute, dict):
            self.conversion.refuse(self.index, None, where, "is not a MISP attribute")
            return None
        uuid = attribute.get("uuid")
        if not isinstance(uuid, str) or not _UUID_RE.fullmatch(uuid):
            self.conversion.refuse(self.index, None, f"{where}.uuid", "is not a UUID")
            return None
        misp_type = str(attribute.get("type") or "")
        value = attribute.get("value")
        if not isinstance(value, str):
            value = "" if value is None else str(value)
        timestamp = epoch(attribute.get("timestamp"), self.timestamp)
        to_ids = _bool(attribute.get("to_ids"))
        try:
            obj = self._attribute_object(uuid, misp_type, value, _stix_time(timestamp), to_ids)
        except Unmappable as exc:
            reason = f"MISP {misp_type or 'attribute'} {uuid} has no STIX 2.1 form: {exc}"
            self.conversion.refuse(self.index, None, f"{where}.value", reason)
            return None
        tags = _tag_names(attribute) if attribute.get("Tag") or attribute.get("Galaxy") else []
        obj |= {
            "x_misp_uuid": uuid,
            "x_misp_type": misp_type,
            "x_misp_category": attribute.get("category"),
            "x_misp_value": value,
            "x_misp_to_ids": to_ids,
            "x_misp_comment": attribute.get("comment") or "",
            "x_misp_timestamp": timestamp,
            "x_misp_event_uuid": self.uuid,
            "x_misp_distribution": _int(attribute.get("distribution"), _INHERIT),
            "x_misp_tags": tags,
        }
        first_seen, last_seen = attribute.get("first_seen"), attribute.get("last_seen")
        if first_seen:
            obj["x_misp_first_seen"] = first_seen
        if last_seen:
            obj["x_misp_last_seen"] = last_seen
        refs = self._marking_refs(tags)
        if refs:
            obj["object_marking_refs"] = refs
        if context is not None:
            obj |= context
            obj["x_misp_object_relation"] = attribute.get("object_relation")
        stix_id = obj["id"]
        self.stix_ids[uuid] = stix_id
        self.refs.append(stix_id)
        return self._emit(obj, where)

    def _marking_refs(self, tags: list[str]) -> list[str]:
        """An attribute's TLP refs: its own tags' first, then its event's."""
        if not tags:
            return list(self.tlp_refs)
        refs = _tlp_refs(tags)
        return refs + [ref for ref in self.tlp_refs if ref not in refs]

    def _attribute_object(
        self, uuid: str, misp_type: str, value: str, time: str, to_ids: bool
    ) -> dict[str, Any]:
        mapper = MAPPERS.get(misp_type)
        mapped: Mapped | None = mapper(value) if mapper else None
        if mapped is not None and mapped.pattern is not None and to_ids:
            return self._sdo("indicator", uuid, time) | {
                "name": value,
                "indicator_types": ["malicious-activity"],
                "pattern": mapped.pattern,
                "pattern_type": mapped.pattern_type,
                "valid_from": time,
            }
        if mapped is not None and mapped.sco_type is not None and mapped.sco is not None:
            return {
                "type": mapped.sco_type,
                "spec_version": "2.1",
                "id": f"{mapped.sco_type}--{uuid}",
            } | mapped.sco
        if misp_type == "vulnerability" and value.strip():
            return self._sdo("vulnerability", uuid, time) | {
                "name": value.strip(),
                "external_references": [{"source_name": "cve", "external_id": value.strip()}],
            }
        if not value:
            raise Unmappable("the value is empty")
        return self._sdo("note", uuid, time) | {
            "abstract": f"MISP {misp_type} attribute",
            "content": value,
            "object_refs": [self.report_id],
        }

    def _sdo(self, stix_type: str, uuid: str, time: str) -> dict[str, Any]:
        sdo: dict[str, Any] = {
            "type": stix_type,
            "spec_version": "2.1",
            "id": f"{stix_type}--{uuid}",
            "created": time,
            "modified": time,
        }
        if self.identity is not None:
            sdo["created_by_ref"] = self.identity["id"]
        return sdo

    # -- references

    def _references(self, misp_object: Any, where: str) -> Iterator[dict[str, Any]]:
        if not isinstance(misp_object, dict):
            return
        for position, reference in enumerate(misp_object.get("ObjectReference") or ()):
            location = f"{where}.ObjectReference[{position}]"
            relationship = self._relationship(misp_object, reference, location)
            if relationship is not None:
                yield self._emit(relationship, location)

    def _relationship(
        self, misp_object: dict[str, Any], reference: Any, where: str
    ) -> dict[str, Any] | None:
        if not isinstance(reference, dict):
            self.conversion.refuse(self.index, None, where, "is not an object reference")
            return None
        uuid = reference.get("uuid")
        stix_id = f"relationship--{uuid}"
        if not isinstance(uuid, str) or not _UUID_RE.fullmatch(uuid):
            self.conversion.refuse(self.index, None, f"{where}.uuid", "is not a UUID")
            return None
        source_uuid = reference.get("object_uuid") or misp_object.get("uuid")
        target_uuid = reference.get("referenced_uuid")
        source = self.stix_ids.get(str(source_uuid))
        target = self.stix_ids.get(str(target_uuid))
        relationship_type = reference.get("relationship_type")
        problem = None
        if source is None:
            problem = f"its object {source_uuid} has no attribute that could be mapped"
        elif target is None:
            problem = f"refers to {target_uuid}, which is not a mapped part of this event"
        elif not isinstance(relationship_type, str) or not relationship_type:
            problem = "has no relationship_type"
        if problem is not None:
            self.conversion.refuse(self.index, stix_id, where, f"object reference {problem}")
            return None
        time = _stix_time(epoch(reference.get("timestamp"), self.timestamp))
        relationship = self._sdo("relationship", uuid, time) | {
            "relationship_type": relationship_type,
            "source_ref": source,
            "target_ref": target,
            "x_misp_object_reference": True,
            "x_misp_source_uuid": source_uuid,
            "x_misp_target_uuid": target_uuid,
            "x_misp_comment": reference.get("comment") or "",
        }
        if self.tlp_refs:
            relationship["object_marking_refs"] = self.tlp_refs
        self.refs.append(stix_id)
        return relationship


def item_count(event: dict[str, Any]) -> int:
    """How many objects an event yields at most (for progress): its items plus report and author."""
    objects = event.get("Object") or ()
    inner = sum(
        len(o.get("Attribute") or ()) + len(o.get("ObjectReference") or ())
        for o in objects
        if isinstance(o, dict)
    )
    return len(event.get("Attribute") or ()) + inner + 2
