"""Ingest of STIX 2.1 bundles: stream, validate, store, extract observables.

One import is one write transaction (see `db.engine.write_transaction`): it
either commits whole or leaves the store as it was. The bundle is parsed as a
stream (ijson's C backend), objects are validated one by one and written in
batches, so memory stays flat whatever the size of the bundle.

Strict mode stops at the first rejected object and rolls everything back;
lenient mode skips rejected objects, lists each in the report, and commits
the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import IO, Any

import ijson
import orjson
from sqlalchemy import Connection, Engine

from shieldwall.correlate.hook import record_detection
from shieldwall.db.base import utcnow
from shieldwall.db.engine import write_transaction
from shieldwall.errors import BadInput, ValidationFailed
from shieldwall.intel import repository
from shieldwall.intel.observables import Observable, from_sco
from shieldwall.intel.patterns import PatternError, pattern_observables
from shieldwall.intel.stix import SCO_TYPES, Checked, ObjectInvalid, check_object, marking_tlp_name
from shieldwall.sharing.policy import Principal
from shieldwall.sharing.tlp import TLP, TLP_MARKING_IDS, Distribution

#: Statement markings that producers reference without shipping the definition:
#: MITRE's ATT&CK copyright statement is on every ATT&CK object and on what
#: others copy from ATT&CK (Unit 42's playbooks). Known to every node as
#: markings that set no TLP, so those objects import instead of being refused
#: for a dangling reference.
WELL_KNOWN_STATEMENT_MARKINGS: dict[str, TLP | None] = {
    "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168": None,
}

#: How far into a document we look for the bundle's own `type` before `objects`.
_ENVELOPE_PEEK_BYTES = 64 * 1024


class Mode(StrEnum):
    STRICT = "strict"
    LENIENT = "lenient"


@dataclass(frozen=True, slots=True)
class IngestOptions:
    principal: Principal
    owner_org_id: int
    default_tlp: TLP
    distribution: Distribution
    mode: Mode = Mode.STRICT
    batch_size: int = 5000


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    stix_id: str | None
    field: str | None
    reason: str

    def where(self) -> str:
        return f"objects[{self.index}]" + (f".{self.field}" if self.field else "")


@dataclass
class ImportReport:
    source: str = "bundle"
    objects: int = 0
    created: int = 0
    new_versions: int = 0
    unchanged: int = 0
    observables: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    committed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "objects": self.objects,
            "created": self.created,
            "new_versions": self.new_versions,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
            "observables": self.observables,
            "committed": self.committed,
            "rejections": [
                {"index": r.index, "id": r.stix_id, "field": r.field, "reason": r.reason}
                for r in self.rejected
            ],
        }


class ImportAborted(ValidationFailed):
    """Strict mode met a bad object: nothing of the import was stored."""

    def __init__(self, report: ImportReport) -> None:
        first = report.rejected[0]
        super().__init__(
            f"object rejected: {first.reason}; nothing was imported",
            where=first.where(),
            extra={"report": report.as_dict()},
        )
        self.report = report


# --------------------------------------------------------------------------- parsing


def _document_shape(stream: IO[bytes]) -> str:
    """`bundle`, `object` (one bare STIX object) or `array` (a list of objects).

    Decided from the first bytes, before any object is parsed, so that a
    document that is no STIX at all is refused before anything is written.
    """
    head = stream.read(_ENVELOPE_PEEK_BYTES)
    stream.seek(0)
    stripped = head.lstrip()
    if not stripped:
        raise BadInput("the body is empty; expected a STIX bundle", where="body")
    if stripped.startswith(b"["):
        return "array"
    if not stripped.startswith(b"{"):
        raise BadInput("expected a STIX bundle: a JSON object with type 'bundle'", where="body")
    shape = "bundle"
    try:
        for prefix, event, value in ijson.parse(head):
            if prefix == "type" and event == "string" and value != "bundle":
                shape = "object"
            if prefix == "objects" and shape == "bundle":
                if event != "start_array":
                    raise BadInput("a bundle's objects must be an array", where="objects")
                return shape
    except ijson.IncompleteJSONError:
        pass  # the peek ended mid-document; the stream parse judges the rest
    except ijson.JSONError as exc:
        raise BadInput(f"invalid JSON: {exc}", where="body") from None
    return shape


def iter_bundle(stream: IO[bytes]) -> Iterator[Any]:
    """The objects of a bundle (or of a bare object or array of objects), one at a time."""
    shape = _document_shape(stream)
    if shape == "object":
        try:
            yield orjson.loads(stream.read())
        except orjson.JSONDecodeError as exc:
            raise BadInput(f"invalid JSON: {exc}", where="body") from None
        return
    prefix = "item" if shape == "array" else "objects.item"
    index = -1
    try:
        for index, obj in enumerate(ijson.items(stream, prefix, use_float=True)):  # noqa: B007
            yield obj
    except ijson.JSONError as exc:
        place = f"after object {index}" if index >= 0 else "before the first object"
        raise BadInput(f"invalid JSON {place}: {exc}", where="body") from None


# --------------------------------------------------------------------------- ingest


@dataclass(slots=True)
class _Prepared:
    """One validated object waiting for its batch, with what its row will hold.

    Its primary key and latest flag are decided when the batch is placed
    (`Ingestor._place`), which writes its row.
    """

    index: int
    checked: Checked
    found: list[Observable]
    revoked: bool
    search_text: str | None
    content_hash: str
    data: str
    tlp: int = 0


#: Where a row of `stix_objects` holds these columns (`repository.OBJECT_INSERT_COLUMNS`).
_PK, _TYPE, _VERSION_KEY, _IS_LATEST, _DATA = (
    repository.OBJECT_INSERT_COLUMNS.index(column)
    for column in ("pk", "type", "version_key", "is_latest", "data")
)


def _search_text(obj: dict[str, Any]) -> str | None:
    """What the `text` filter searches: the name, else the value, else the pattern."""
    for key in ("name", "value", "pattern"):
        text = obj.get(key)
        if isinstance(text, str) and text:
            return text[:2000].lower()
    return None


def _observables_of(obj: dict[str, Any], stix_type: str) -> list[Observable]:
    if stix_type == "indicator":
        if obj.get("pattern_type") != "stix":
            return []
        try:
            return pattern_observables(obj["pattern"])
        except PatternError as exc:
            raise ObjectInvalid("pattern", f"invalid STIX pattern: {exc}") from None
    if stix_type in SCO_TYPES:
        return from_sco(obj)
    return []


def _tlp_or_none(name: str | None) -> TLP | None:
    try:
        return TLP.parse(name) if name else None
    except BadInput:
        return None


@dataclass(slots=True)
class _BatchState:
    #: Content hash of each (id, version key) stored or placed in this batch.
    known: dict[tuple[str, str], str]
    #: The latest version key of each id stored or placed in this batch.
    latest: dict[str, str]
    #: Where each (id, version key) placed in this batch has its row in `rows`.
    placed: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Rows of `stix_objects`, in `repository.OBJECT_INSERT_COLUMNS` order.
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    found_rows: list[tuple[int, str, str]] = field(default_factory=list)
    demote_stored: list[tuple[str, str]] = field(default_factory=list)

    def demote(self, stix_id: str, version_key: str) -> None:
        at = self.placed.get((stix_id, version_key))
        if at is not None:
            row = self.rows[at]
            self.rows[at] = (*row[:_IS_LATEST], False, *row[_IS_LATEST + 1 :])
        else:
            self.demote_stored.append((stix_id, version_key))


class Ingestor:
    """Feeds objects of one import into one open write transaction."""

    def __init__(self, conn: Connection, options: IngestOptions, report: ImportReport) -> None:
        self.conn = conn
        self.options = options
        self.report = report
        self.added_at: datetime = utcnow()
        self.added_at_bound = repository.bind_value(conn, "added_at", self.added_at)
        self.next_pk = repository.next_pk(conn)
        distribution = options.distribution
        # What every row of this import shares, looked up once rather than per row.
        self.owner_org_id = options.owner_org_id
        self.dist_kind = int(distribution.kind)
        self.group_id = distribution.group_id
        self.default_tlp = int(options.default_tlp)
        self.batch_size = options.batch_size
        self.batch: list[_Prepared] = []
        # Objects whose marking refs name definitions not seen yet: they wait
        # for the end of the bundle, where the definition may still appear.
        self.waiting: list[_Prepared] = []
        self.marking_tlp: dict[str, TLP | None] = {
            **TLP_MARKING_IDS,
            **WELL_KNOWN_STATEMENT_MARKINGS,
        }

    # -- per object

    def feed(self, index: int, obj: Any) -> None:
        self.report.objects += 1
        try:
            prepared = self._prepare(index, obj)
        except ObjectInvalid as exc:
            stix_id = obj.get("id") if isinstance(obj, dict) else None
            self._reject(
                index, stix_id if isinstance(stix_id, str) else None, exc.field, exc.reason
            )
            return
        refs = prepared.checked.marking_refs
        if refs and not all(ref in self.marking_tlp for ref in refs):
            self.waiting.append(prepared)
        else:
            self._queue(prepared)

    def _prepare(self, index: int, obj: Any) -> _Prepared:
        checked = check_object(obj)
        found = _observables_of(obj, checked.stix_type)
        if checked.stix_type == "marking-definition":
            tlp_name = marking_tlp_name(obj)
            try:
                self.marking_tlp[checked.stix_id] = TLP.parse(tlp_name) if tlp_name else None
            except BadInput:
                raise ObjectInvalid("definition", f"unknown TLP level {tlp_name!r}") from None
        data = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        return _Prepared(
            index,
            checked,
            # One row per distinct observable: a file may list one hash twice.
            found if len(found) < 2 else list(dict.fromkeys(found)),
            obj.get("revoked") is True,
            _search_text(obj),
            hashlib.blake2b(data, digest_size=16).hexdigest(),
            data.decode(),
            self.default_tlp,  # `_queue` sets the TLP of an object with markings
        )

    def _reject(self, index: int, stix_id: str | None, field: str | None, reason: str) -> None:
        self.report.rejected.append(Rejection(index, stix_id, field, reason))
        if self.options.mode is Mode.STRICT:
            raise ImportAborted(self.report)

    def _queue(self, prepared: _Prepared) -> None:
        refs = prepared.checked.marking_refs
        if refs:
            levels = [self.marking_tlp[ref] for ref in refs]
            tlp_levels = [level for level in levels if level is not None]
            prepared.tlp = int(max(tlp_levels)) if tlp_levels else self.default_tlp
        batch = self.batch
        batch.append(prepared)
        if len(batch) >= self.batch_size:
            self._flush()

    # -- per batch

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        owner = self.options.owner_org_id
        # Earlier batches of this import are already in the (open) transaction,
        # so one look-up per batch sees them as well as what was stored before.
        stored = repository.stored_versions(self.conn, owner, (p.checked.stix_id for p in batch))
        state = _BatchState(
            known={(sid, v.version_key): v.content_hash for sid, vs in stored.items() for v in vs},
            latest={sid: max(v.version_key for v in vs) for sid, vs in stored.items()},
        )
        for prepared in batch:
            self._place(prepared, state)
        repository.demote_versions(self.conn, owner, state.demote_stored)
        repository.insert_objects(self.conn, state.rows)
        repository.insert_observables(self.conn, state.found_rows)
        record_detection(self.conn, state.found_rows, _sighting_rows(state.rows))
        self.report.observables += len(state.found_rows)

    def _place(self, prepared: _Prepared, state: _BatchState) -> None:
        """Gives a version its primary key and latest flag and writes its row, or skips it."""
        checked = prepared.checked
        stix_id, version_key = checked.stix_id, checked.version_key
        previous = state.latest.get(stix_id)
        if previous is None:
            # New to the store and to this batch (so absent from `known` too):
            # most objects of most imports, placed without a version comparison.
            self.report.created += 1
            state.latest[stix_id] = version_key
            is_latest = True
        else:
            placed = self._place_version(prepared, state, previous)
            if placed is None:
                return
            is_latest = placed
        key = (stix_id, version_key)
        state.known[key] = prepared.content_hash
        state.placed[key] = len(state.rows)
        pk = self.next_pk
        self.next_pk = pk + 1
        state.rows.append(
            (
                pk,
                stix_id,
                checked.stix_type,
                version_key,
                self.owner_org_id,
                prepared.tlp,
                self.dist_kind,
                self.group_id,
                is_latest,
                prepared.revoked,
                prepared.search_text,
                prepared.content_hash,
                self.added_at_bound,
                prepared.data,
            )
        )
        # A loop, not extend() over a comprehension: that is a function call
        # per object in Python 3.11, for usually one observable.
        add_found = state.found_rows.append
        for kind, value in prepared.found:
            add_found((pk, kind, value))

    def _place_version(self, prepared: _Prepared, state: _BatchState, previous: str) -> bool | None:
        """Another version of a known id: whether it is the latest, None if not to be stored."""
        stix_id, version_key = prepared.checked.stix_id, prepared.checked.version_key
        stored_hash = state.known.get((stix_id, version_key))
        if stored_hash is not None:
            if stored_hash == prepared.content_hash:
                self.report.unchanged += 1
            else:
                self._reject(
                    prepared.index,
                    stix_id,
                    "modified",
                    "a version with this id and modified already exists with other content",
                )
            return None
        self.report.new_versions += 1
        if version_key <= previous:
            return False
        state.demote(stix_id, previous)
        state.latest[stix_id] = version_key
        return True

    # -- end of bundle

    def finish(self) -> ImportReport:
        unresolved = {
            ref
            for p in self.waiting
            for ref in p.checked.marking_refs
            if ref not in self.marking_tlp
        }
        stored = repository.visible_markings(self.conn, self.options.principal, unresolved)
        for ref, definition in stored.items():
            # A TLP definition of its own, stored by an earlier import, still marks TLP.
            tlp_name = marking_tlp_name(orjson.loads(definition))
            self.marking_tlp[ref] = _tlp_or_none(tlp_name)
        for prepared in sorted(self.waiting, key=lambda p: p.index):
            missing = [ref for ref in prepared.checked.marking_refs if ref not in self.marking_tlp]
            if missing:
                self._reject(
                    prepared.index,
                    prepared.checked.stix_id,
                    "object_marking_refs",
                    f"refers to marking definition {missing[0]}, which is neither in the "
                    "bundle nor known to this node",
                )
            else:
                self._queue(prepared)
        self.waiting = []
        self._flush()
        return self.report


def _sighting_rows(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The stored sightings of a batch as `record_detection` takes them."""
    return [
        {"pk": row[_PK], "type": "sighting", "version_key": row[_VERSION_KEY], "data": row[_DATA]}
        for row in rows
        if row[_TYPE] == "sighting"
    ]


def ingest_objects(
    engine: Engine,
    objects: Callable[[], Iterator[Any]],
    options: IngestOptions,
    *,
    source: str = "bundle",
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Runs one import in one transaction and returns its report.

    Raises ImportAborted (strict mode, nothing stored) or BadInput (unreadable
    input, nothing stored).
    """
    report = ImportReport(source=source)
    with write_transaction(engine) as conn:
        ingestor = Ingestor(conn, options, report)
        for index, obj in enumerate(objects()):
            ingestor.feed(index, obj)
            if on_progress is not None and index % 1000 == 0:
                on_progress(index)
        ingestor.finish()
    report.committed = True
    return report


def ingest_bundle(
    engine: Engine,
    stream: IO[bytes],
    options: IngestOptions,
    *,
    source: str = "bundle",
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    return ingest_objects(
        engine, lambda: iter_bundle(stream), options, source=source, on_progress=on_progress
    )
