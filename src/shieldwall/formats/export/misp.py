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
import itertools
import uuid
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import ColumnElement, Connection, and_

from shieldwall.formats.export import misp_rows, repository, scores
from shieldwall.formats.export.common import (
    CLOCK_MINUTES,
    CLOCK_SECONDS,
    DAY_STARTS,
    TLP_SLUG,
    epoch_seconds,
    stix_uuid,
)
from shieldwall.formats.export.model import ObjectRow
from shieldwall.formats.export.repository import Scope
from shieldwall.intel.tables import stix_objects
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
                "timestamp": str(epoch_seconds(row.time_key)),
                "distribution": MISP_DISTRIBUTION[row.dist],
                "Tag": tags,
            }
        )
    return attributes


# --------------------------------------------------------------------------- events


class Attribute(NamedTuple):
    """One attribute, already JSON, with what the event and the feed read of it."""

    json: bytes
    misp_type: str
    value: str
    timestamp: int


def encoded(attribute: dict[str, Any]) -> Attribute:
    return Attribute(
        orjson.dumps(attribute),
        str(attribute.get("type")),
        str(attribute.get("value") or ""),
        int(attribute.get("timestamp") or 0),
    )


class AttributeBatch(NamedTuple):
    """Attributes written together: their JSON objects joined by commas.

    `newest` is their latest timestamp; `hashed` what the feed lists an MD5
    of, in order (each part of a composite value apart, as `value_hashes`).
    Empty: no attributes (`json` is empty).
    """

    json: bytes
    newest: int
    hashed: list[str]


EMPTY_BATCH = AttributeBatch(b"", 0, [])


def batch_of(attributes: Sequence[Attribute]) -> AttributeBatch:
    """The batch of attributes built one by one (reports, MISP events, leftovers)."""
    if not attributes:
        return EMPTY_BATCH
    hashed: list[str] = []
    for attribute in attributes:
        if "|" in attribute.misp_type:
            hashed.extend(attribute.value.split("|"))
        else:
            hashed.append(attribute.value)
    return AttributeBatch(
        b",".join([attribute.json for attribute in attributes]),
        max(attribute.timestamp for attribute in attributes),
        hashed,
    )


@dataclass
class EventStream:
    """One event, written as a stream of bytes; `header` is complete once it is written.

    `on_attributes` sees every batch of attributes written (the feed hashes
    their values).
    """

    uuid: str
    header: dict[str, Any]
    attribute_batches: Iterable[AttributeBatch]
    objects: list[dict[str, Any]] = field(default_factory=list)
    on_attributes: Callable[[AttributeBatch], None] | None = None

    def chunks(self) -> Iterator[bytes]:
        newest = int(self.header.get("timestamp") or 0)
        yield b'{"Event": {"Attribute": ['
        separator = b""
        for batch in self.attribute_batches:
            if not batch.json:
                continue
            newest = max(newest, self._observe(batch))
            # Apart: joined, a batch's megabytes would be copied once more.
            if separator:
                yield separator
            yield batch.json
            separator = b","
        for misp_object in self.objects:
            attributes = list(map(encoded, misp_object["Attribute"]))
            newest = max(newest, self._observe(batch_of(attributes)))
        self.header["timestamp"] = str(newest)
        self.header.setdefault("date", _date(newest))
        tail = orjson.dumps({"Object": self.objects, **self.header})
        yield b"], " + tail[1:] + b"}\n"

    def _observe(self, batch: AttributeBatch) -> int:
        if self.on_attributes is not None:
            self.on_attributes(batch)
        return batch.newest


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

    def encoded(self) -> AttributeBatch:
        return batch_of(list(map(encoded, self.attributes)))

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
        "timestamp": str(epoch_seconds(row.time_key)),
        "Orgc": _orgc(row.owner),
        "Tag": [_tag(f"tlp:{TLP_SLUG[row.tlp]}")],
    }
    if isinstance(published, str) and len(published) >= 10:
        header["date"] = published[:10]
    return header


class _PkSet:
    """Primary keys as a bitmap: a bit per key up to the largest one added.

    An eighth of a byte per object of the store at most, where a set of ints
    would take some sixty bytes per key.
    """

    def __init__(self) -> None:
        self._bits = bytearray()
        self.count = 0

    def add(self, pk: int) -> None:
        byte, bit = pk >> 3, 1 << (pk & 7)
        if byte >= len(self._bits):
            self._bits.extend(bytes(byte + 1 - len(self._bits)))
        if not self._bits[byte] & bit:
            self._bits[byte] |= bit
            self.count += 1

    def __contains__(self, pk: int) -> bool:
        byte = pk >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (pk & 7)))

    def __iter__(self) -> Iterator[int]:
        """The keys in ascending order."""
        for byte, bits in enumerate(self._bits):
            if bits:
                yield from (byte << 3 | bit for bit in range(8) if bits & (1 << bit))


@dataclass
class _Candidates:
    """The visible objects that may be reports or from MISP, by one scan (`_candidates`)."""

    reports: _PkSet = field(default_factory=_PkSet)
    from_misp: _PkSet = field(default_factory=_PkSet)


def _candidates(conn: Connection, scope: Scope, page_size: int) -> _Candidates:
    """One scan for both the report events and the MISP events, instead of a scan each.

    It reads with the caller's policy and filters but not the scope's types
    or extra conditions: each pass reads its objects by key through its own
    scope, so a candidate is only a key to try (0.24 s of CPU per million
    objects saved: the report scan read every row again).
    """
    base = Scope(
        principal=scope.principal,
        filters=scope.filters,
        include_revoked=scope.include_revoked,
        anonymous_public=scope.anonymous_public,
    )
    is_report = stix_objects.c.type == "report"
    found = _Candidates()
    for chunk in repository.flagged_pks(conn, base, [is_report, _from_misp()], chunk=page_size):
        for pk, report, marked in chunk:
            if report:
                found.reports.add(pk)
            if marked:
                found.from_misp.add(pk)
    return found


@dataclass
class _Coverage:
    """What the report events already wrote, so the rest leaves it out.

    `from_misp`: the objects in scope that came from MISP (theirs are the MISP
    events), read by the orphans' pass; None when the rest must find them
    itself (with `min_score`, that pass keeps only the objects that score).
    """

    misp_events: set[str] = field(default_factory=set)
    referenced: set[str] = field(default_factory=set)
    from_misp: _PkSet | None = None


def _report_events(
    conn: Connection, scope: Scope, page_size: int, covered: _Coverage, candidates: _PkSet
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
    pages = repository.object_pages_of(
        conn, reports, candidates, page_size=page_size, with_observables=False
    )
    for page in pages:
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
            yield EventStream(header["uuid"], header, [grouped.encoded()], grouped.misp_objects())


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


class _RestWriter:
    """Attributes of the rest event straight from value rows, as `value_attributes` builds them.

    A batch is one text, encoded once: byte for byte what `orjson.dumps`
    writes of each attribute dictionary, at a fraction of the cost. Each
    attribute is one f-string of pieces computed once per kind and per
    marking (owner, TLP, distribution, indicator or not: `misp_rows`); the
    values of the whole batch are escaped for JSON by one `orjson.dumps` of a
    list (`_escaped`). Object ids are written as they are: ingest checks them
    (`type--UUID`, lowercase letters, digits and hyphens), so none has
    anything to escape (escaping them anyway cost 0.05 s of CPU per million
    values). `owners` names the owners of the rows by id
    (`repository.OrganisationNames`).
    """

    def __init__(self, owners: Mapping[int, str]) -> None:
        self._owners = owners
        self._pieces: dict[int, tuple[str, str]] = {}
        self._kinds = {
            kind: f'","type":"{misp_type}","category":"{category}","value":"'
            for kind, (misp_type, category) in KIND_TYPES.items()
        }

    def _pieces_of(self, marking: int | None) -> tuple[str, str]:
        """What precedes the comment (`to_ids`) and what follows the timestamp, of a marking.

        Raises ValueError for no marking: a stored TLP or distribution out of range.
        """
        if marking is None:
            raise ValueError("an object's stored TLP or distribution is out of range")
        if len(self._pieces) >= _PIECES_CACHE:
            self._pieces.clear()
        owner_id, tlp, dist, indicator = misp_rows.unpacked(marking)
        owner = self._owners[owner_id]
        tags = [_tag(f"tlp:{TLP_SLUG[tlp]}"), _tag(f'shieldwall:source="{owner}"')]
        closing = (
            f'","distribution":"{MISP_DISTRIBUTION[dist]}","Tag":{orjson.dumps(tags).decode()}}}'
        )
        found = self._pieces[marking] = (_TO_IDS if indicator else _NOT_TO_IDS, closing)
        return found

    def batch(self, rows: Sequence[Sequence[Any]], left_out: set[str]) -> AttributeBatch:
        """The attributes of whole objects' value rows (`misp_rows.REST_COLUMNS`, in order).

        Objects whose id is in `left_out` are skipped. An object with one
        value gives its attribute its own UUID; one with several derives a
        UUID per value.
        """
        if left_out:
            rows = [row for row in rows if row[1] not in left_out]
        if not rows:
            return EMPTY_BATCH
        values = [row[5] for row in rows]
        several = _with_several_values([row[0] for row in rows])
        kinds, pieces = self._kinds, self._pieces
        days, minutes, seconds = DAY_STARTS, CLOCK_MINUTES, CLOCK_SECONDS
        texts: list[str] = []
        stamps: list[int] = []
        for row, value in zip(rows, _escaped(values), strict=True):
            pk, stix_id, marking, time_key, kind, raw = row
            # epoch_seconds inlined (its three look-ups in small tables; the
            # call only for a new day or an odd key). A table of every time of
            # day was slower: 86,400 entries miss the CPU's caches.
            day = days.get(time_key[:10])
            minute = minutes.get(time_key[11:16])
            second = seconds.get(time_key[17:19])
            if day is None or minute is None or second is None:
                timestamp = epoch_seconds(time_key)
            else:
                timestamp = day + minute + second
            stamps.append(timestamp)
            to_ids, closing = pieces.get(marking) or self._pieces_of(marking)
            head = (
                str(uuid.uuid5(NAMESPACE, f"{stix_id}|{kind}|{raw}"))
                if pk in several
                else stix_id.partition("--")[2]
            )
            texts.append(
                f'{{"uuid":"{head}{kinds[kind]}{value}{to_ids}{stix_id}'
                f'","timestamp":"{timestamp}{closing}'
            )
        return AttributeBatch(",".join(texts).encode(), max(stamps), values)


def _with_several_values(pks: list[int]) -> Container[int]:
    """The pks that occur more than once in `pks` (in order: an object's rows are together).

    Most objects have one value: a set of the batch's pks as long as the list
    tells there is none, 0.030 us a row where comparing every neighbour took 0.043 us.
    """
    if len(set(pks)) == len(pks):
        return ()
    return {pk for pk, following in itertools.pairwise(pks) if pk == following}


def _escaped(texts: list[str]) -> list[str]:
    """Each text as `orjson.dumps` writes it in JSON, without its quotes (`texts` not empty).

    Escaping only ever lengthens a text, so when the dumped list is as long
    as the texts joined, nothing was escaped and the texts are their own
    JSON. Otherwise the dumped list is split at its `","` separators: inside
    an escaped text a quote always follows a backslash, so that sequence
    only separates items.
    """
    dumped = orjson.dumps(texts)
    if len(dumped) == len('","'.join(texts).encode()) + 4:
        return texts
    return dumped[2:-2].decode().split('","')


_TO_IDS = '","to_ids":true,"comment":"'
_NOT_TO_IDS = '","to_ids":false,"comment":"'
#: Entries per cache of attribute pieces ((distribution, TLP, owner) are few): flat memory.
_PIECES_CACHE = 4096


def _whole_objects(chunks: Iterable[Sequence[Sequence[Any]]]) -> Iterator[Sequence[Sequence[Any]]]:
    """The rows again, in chunks that never split an object (rows come in pk order)."""
    held: Sequence[Sequence[Any]] = []
    for chunk in chunks:
        if not chunk:
            continue
        rows = [*held, *chunk] if held else chunk
        # The last object may go on in the next chunk: held back until then.
        cut, last = len(rows) - 1, rows[-1][0]
        while cut > 0 and rows[cut - 1][0] == last:
            cut -= 1
        held = rows[cut:]
        if cut:
            yield rows[:cut]
    if held:
        yield held


def _objects(rows: Sequence[Sequence[Any]]) -> Iterator[Sequence[Sequence[Any]]]:
    """The rows of each object (pk) in turn."""
    start = 0
    for at in range(1, len(rows) + 1):
        if at == len(rows) or rows[at][0] != rows[start][0]:
            yield rows[start:at]
            start = at


def _scored(scope: Scope, rows: Sequence[Sequence[Any]]) -> bool:
    """An object of the rest passes `min_score` when one of its values does."""
    minimum, now = scope.filters.min_score, scope.filters.scored_at
    if minimum is None or now is None:
        return True
    width = len(misp_rows.REST_COLUMNS)
    confidence, last_seen = rows[0][width], rows[0][width + 1]
    refreshed = scores.refreshed_at(rows[0][3], last_seen)
    return scores.object_passes(minimum, confidence, [row[4] for row in rows], refreshed, now)


#: Value rows read and written at a time by the rest event, whatever the page size.
#: Small enough for a chunk's rows, attribute texts and JSON to stay in the
#: CPU's caches and in memory the allocator already holds: the misp export of
#: a million indicators took 3.0 s of CPU at 1,000 rows and 3.7 s at 10,000,
#: where each chunk took fresh memory from the system (114,000 page faults
#: in the export against 18,700).
_REST_CHUNK = 1000


def _rest_batches(
    conn: Connection, scope: Scope, page_size: int, covered: _Coverage
) -> Iterator[AttributeBatch]:
    """Attributes of every object outside reports and not from MISP, streamed.

    The objects from MISP are left out by their pks when the orphans' pass
    found them (`_Coverage.from_misp`): matching the marker again in SQL read
    every object's JSON a second time (0.8 s of CPU per million objects).
    """
    scoring = scope.filters.min_score is not None
    from_misp = covered.from_misp
    extra: list[ColumnElement[bool]] = [stix_objects.c.type.not_in(sorted(_NOT_ATTRIBUTES))]
    if from_misp is None:
        extra.append(~_from_misp())
    chunk = min(page_size, _REST_CHUNK)
    chunks = misp_rows.rest_rows(conn, scope, chunk=chunk, extra=extra, scored=scoring)
    writer = _RestWriter(repository.OrganisationNames(conn))
    for rows in _whole_objects(chunks):
        if from_misp is not None and from_misp.count:
            rows = [row for row in rows if row[0] not in from_misp]
        if scoring:
            width = len(misp_rows.REST_COLUMNS)
            rows = [
                row[:width] for found in _objects(rows) if _scored(scope, found) for row in found
            ]
        yield writer.batch(rows, covered.referenced)


def _misp_orphans(
    conn: Connection, scope: Scope, page_size: int, covered: _Coverage, candidates: _PkSet
) -> tuple[dict[str, _Grouped], list[Attribute]]:
    """Objects from MISP outside the visible reports, by their MISP event.

    Also the attributes of objects that only seemed to come from MISP (the
    marker nested deeper than the top level): they belong to the rest event.
    """
    orphans: dict[str, _Grouped] = {}
    leftovers: list[Attribute] = []
    from_misp = replace(scope, extra=(*scope.extra, _from_misp()))
    found = _PkSet() if scope.filters.min_score is None else None
    covered.from_misp = found
    for page in repository.object_pages_of(conn, from_misp, candidates, page_size=page_size):
        for row in page:
            if found is not None:
                found.add(row.pk)
            if row.stix_type in _NOT_ATTRIBUTES or row.stix_id in covered.referenced:
                continue
            event_uuid = orjson.loads(row.data).get("x_misp_event_uuid")
            if isinstance(event_uuid, str):
                if event_uuid not in covered.misp_events:
                    orphans.setdefault(event_uuid, _Grouped()).add(row)
            elif row.observables:
                leftovers.extend(map(encoded, value_attributes(row)))
    return orphans, leftovers


#: Stored JSON is compact: an object imported from MISP has this top-level property.
_MISP_MARK = '%"x\\_misp\\_event\\_uuid":"%'
#: The property's name alone, which the mark implies (same case rule: a LIKE too).
_MISP_NAME = "%x\\_misp\\_event\\_uuid%"


def _from_misp() -> ColumnElement[bool]:
    """Whether an object's stored JSON has the mark, tested by the database.

    The name first: a pattern's first character is what the database looks
    for before it compares the rest, and JSON has a quote every few
    characters where an x is rare. On a million indicators (none from MISP)
    SQLite's scan took 0.27 s of CPU with the name first, 0.54 s without.
    Only an object that has the name is tested for the whole mark.
    """
    data = stix_objects.c.data
    return and_(data.like(_MISP_NAME, escape="\\"), data.like(_MISP_MARK, escape="\\"))


def events(
    conn: Connection,
    scope: Scope,
    caller: str,
    page_size: int,
    on_attributes: Callable[[AttributeBatch], None] | None = None,
) -> Iterator[EventStream]:
    """Every event of the export, in the order of the module docstring (orphans last)."""
    covered = _Coverage()
    candidates = _candidates(conn, scope, page_size)
    for event in _report_events(conn, scope, page_size, covered, candidates.reports):
        event.on_attributes = on_attributes
        yield event
    orphans, leftovers = _misp_orphans(conn, scope, page_size, covered, candidates.from_misp)
    batches = itertools.chain(_rest_batches(conn, scope, page_size, covered), [batch_of(leftovers)])
    first = next((batch for batch in batches if batch.json), None)
    if first is not None:
        rest = _rest_header(caller)
        yield EventStream(rest["uuid"], rest, _chain(first, batches), [], on_attributes)
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
            event_uuid, header, [grouped.encoded()], grouped.misp_objects(), on_attributes
        )


def _chain(first: AttributeBatch, rest: Iterator[AttributeBatch]) -> Iterator[AttributeBatch]:
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


def value_hashes(misp_type: str, value: str) -> list[str]:
    """MD5s of an attribute's value (each part of a composite value), as feeds list them."""
    parts = value.split("|") if "|" in misp_type else [value]
    return [hashlib.md5(part.encode(), usedforsecurity=False).hexdigest() for part in parts]
