"""Ingest of STIX 2.1 bundles: stream, validate, store, extract observables.

One import is one write transaction (see `db.engine.write_transaction`): it
either commits whole or leaves the store as it was. The bundle is parsed as a
stream, objects are validated one by one and written in batches, so memory
stays flat whatever the size of the bundle.

Where the compiled helpers (`_ingest.c`) are built, the stream is read in
slices of whole objects parsed by orjson, and objects of the common shapes
are checked in C; ijson and the Python checks stay the reference, which the
fast paths hand anything unusual to and are tested against.

Strict mode stops at the first rejected object and rolls everything back;
lenient mode skips rejected objects, lists each in the report, and commits
the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import IO, Any, Final

import ijson
import orjson
from sqlalchemy import Connection, Engine

from shieldwall.correlate.hook import record_detection
from shieldwall.db.base import utcnow
from shieldwall.db.engine import write_transaction
from shieldwall.errors import BadInput, ValidationFailed
from shieldwall.intel import repository
from shieldwall.intel.depth import guarded
from shieldwall.intel.observables import HASH_KINDS, PATH_KINDS, Observable, from_sco
from shieldwall.intel.patterns import (
    SILENT_PATHS,
    SPELLING_KINDS,
    PatternError,
    pattern_observables,
)
from shieldwall.intel.stix import SCO_TYPES, ObjectInvalid, check_object, marking_tlp_name
from shieldwall.sharing.policy import Principal
from shieldwall.sharing.tlp import TLP, TLP_MARKING_IDS, Distribution

try:
    from shieldwall.intel import _ingest as _compiled
except ImportError:  # installed without a C compiler: the Python path only
    _compiled = None  # type: ignore[assignment]

#: Whether ingest's compiled array scanner and object fast path are available.
COMPILED = _compiled is not None
_prepare_row = None if _compiled is None else _compiled.prepare_row
if _compiled is not None:
    _compiled.set_spellings(SPELLING_KINDS, SILENT_PATHS)
    _compiled.set_object_types({t: PATH_KINDS.get(f"{t}:value") for t in SCO_TYPES}, HASH_KINDS)
    _compiled.set_encoder(orjson.dumps, orjson.OPT_SORT_KEYS, hashlib.blake2b)

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

#: What ijson raises on a document it cannot read: its C backend decodes a
#: string once unescaped and lets UnicodeDecodeError through (a lone
#: surrogate such as `\udc00`, an encoded surrogate), which is invalid JSON too.
_IJSON_ERRORS = (ijson.JSONError, UnicodeDecodeError)


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


def untrack_parsed(tree: Any) -> None:
    """Takes a parsed JSON document's dicts and lists out of the cyclic collector's sight.

    For a document read whole and then read from for a while (a MISP
    import): the collections its mapping starts would walk it again and
    again (`_ingest.untrack_tree`). The caller must make no cycle through it,
    or the cycle's memory would be freed only with the process. Nothing is
    done where the compiled helpers are not built.
    """
    if _compiled is not None:
        _compiled.untrack_tree(tree)


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
    except _IJSON_ERRORS as exc:
        raise BadInput(f"invalid JSON: {exc}", where="body") from None
    return shape


def iter_bundle(stream: IO[bytes]) -> Iterator[Any]:
    """The objects of a bundle (or of a bare object or array of objects), one at a time."""
    # Every reader below sees the bytes through the guard: ijson's memory and
    # time grow with the square of the nesting depth (`depth.py`).
    stream = guarded(stream)
    shape = _document_shape(stream)
    if shape == "object":
        try:
            yield orjson.loads(stream.read())
        except orjson.JSONDecodeError as exc:
            raise BadInput(f"invalid JSON: {exc}", where="body") from None
        return
    prefix = "item" if shape == "array" else "objects.item"
    skip = 0
    if _compiled is not None:
        handed_over = yield from _sliced_items(stream, prefix)
        if handed_over is None:
            return
        # ijson reads the document again and says what is wrong with it, as
        # if it had read it from the start: the objects already given are
        # the ones it would have given.
        skip = handed_over
        stream.seek(0)
    yield from _ijson_items(stream, prefix, skip)


def _ijson_items(stream: IO[bytes], prefix: str, skip: int) -> Iterator[Any]:
    """The reference reader: ijson's items, after the first `skip` of them."""
    index = -1
    try:
        for index, obj in enumerate(ijson.items(stream, prefix, use_float=True)):
            if index >= skip:
                yield obj
    except _IJSON_ERRORS as exc:
        place = f"after object {index}" if index >= 0 else "before the first object"
        raise BadInput(f"invalid JSON {place}: {exc}", where="body") from None


#: Bytes of whole objects parsed by one orjson call: small enough to stay in a
#: core's cache (100,000 generated indicators: 0.07 s in 20 KiB slices, 0.09 s
#: in 1 MiB ones, 0.30 s for the whole array at once; ijson took 0.26-0.43 s).
_SLICE_BYTES = 32 * 1024
_READ_BYTES = 256 * 1024
#: What may follow the objects array and still be judged in memory.
_TAIL_LIMIT = 1024 * 1024
_CUT_MORE, _CUT_END, _CUT_ERROR = 1, 2, 3


def _envelope_opens_well(envelope: bytes, prefix: str) -> bool:
    """Whether ijson reads what precedes the objects array as the sliced reader does.

    ijson would stop there before giving any object, or give an item of its
    own first (a top-level key `objects.item` has the items' prefix), so that
    must be known before the first slice is given. The envelope with an empty
    array is read well when ijson gets as far as that array's end (its C
    backend reports the missing rest of a bundle as it reports any other
    error) and meets no event under the items' prefix on the way.
    """
    array = prefix.removesuffix("item").removesuffix(".")
    last: tuple[str, str] | None = None
    # An error is expected: the envelope alone stops where the document goes
    # on, so how far ijson got before it is the answer.
    with suppress(*_IJSON_ERRORS):
        for path, event, _value in ijson.parse(envelope + b"[]"):
            if path == prefix or path.startswith(prefix + "."):
                return False
            last = (path, event)
    return last == (array, "end_array")


def _sliced_items(stream: IO[bytes], prefix: str) -> Generator[Any, None, int | None]:
    """The array's objects, parsed by orjson a slice of whole objects at a time.

    `_ingest.cut` finds where the objects begin and end and checks the
    array's own commas and brackets; orjson checks each slice. Returns None
    when the whole document was read and found valid, else how many objects
    were given before something only ijson may judge: invalid JSON (its
    message is the documented error), a number the two parsers may read
    differently, an envelope too unusual for `_ingest.array_start`.
    """
    assert _compiled is not None
    data = stream.read(_READ_BYTES)
    start = _compiled.array_start(data)
    if start < 0:
        return 0
    envelope, pos, first, given = data[: start - 1], start, True, 0
    if not _envelope_opens_well(envelope, prefix):
        return 0
    while True:
        status, begin, end, at, unusual = _compiled.cut(data, pos, first, _SLICE_BYTES)
        if end > begin:
            piece = b"[" + data[begin:end] + b"]"
            try:
                objects = (
                    list(ijson.items(piece, "item", use_float=True))
                    if unusual
                    else orjson.loads(piece)
                )
            except (orjson.JSONDecodeError, *_IJSON_ERRORS):
                return given
            yield from objects
            given += len(objects)
            pos, first = end, False
        if status == _CUT_END:
            break
        if status == _CUT_ERROR:
            return given
        if status == _CUT_MORE:
            # Doubling for an object larger than a read keeps its rescans linear.
            more = stream.read(max(_READ_BYTES, len(data) - pos))
            if not more:
                return given
            data, pos = data[pos:] + more, 0
    tail = data[at + 1 :] + stream.read(_TAIL_LIMIT)
    if len(tail) >= _TAIL_LIMIT:
        return given
    # The document without its objects: ijson judges the envelope, and finds
    # no second `objects` array (ijson would give its items too).
    try:
        if any(True for _ in ijson.items(envelope + b"[]" + tail, prefix, use_float=True)):
            return given
    except _IJSON_ERRORS:
        return given
    return None


# --------------------------------------------------------------------------- ingest


#: How many ids' hashes an import into an empty store keeps (`Ingestor.flushed_hashes`):
#: about 130 MB; beyond, its later batches ask the store about every id.
_FLUSHED_HASHES_MAX = 2_000_000

#: One validated object waiting for its batch, with what its row will hold:
#: (index in the bundle, id, type, version key, marking refs, observables,
#: revoked, search text, content hash, JSON, TLP). Its primary key and latest
#: flag are decided when its batch is placed (`Ingestor._flush`). A plain
#: tuple: made once per object on the hot path, where a slots dataclass with a
#: `Checked` inside cost more than the C that checks the object.
_Prepared = tuple[
    int, str, str, str, tuple[str, ...], tuple[Observable, ...], bool, str | None, str, str, int
]
_P_INDEX: Final = 0
_P_ID: Final = 1
_P_REFS: Final = 4
_P_TLP: Final = 10


#: Where a row of `stix_objects` holds these columns (`repository.OBJECT_INSERT_COLUMNS`).
_PK, _TYPE, _VERSION_KEY, _IS_LATEST, _CONTENT_HASH, _DATA = (
    repository.OBJECT_INSERT_COLUMNS.index(column)
    for column in ("pk", "type", "version_key", "is_latest", "content_hash", "data")
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
    #: Ids new to the store placed once in this batch, and where their row is:
    #: their `known` and `placed` entries, made only if the id comes again
    #: (`remember`), which most never do.
    fresh: dict[str, int] = field(default_factory=dict)
    found_rows: list[tuple[int, str, str]] = field(default_factory=list)
    demote_stored: list[tuple[str, str]] = field(default_factory=list)

    def remember(self, stix_id: str) -> None:
        """Makes the `known` and `placed` entries of an id placed fresh in this batch."""
        at = self.fresh.pop(stix_id, None)
        if at is not None:
            row = self.rows[at]
            key = (stix_id, row[_VERSION_KEY])
            self.known[key] = row[_CONTENT_HASH]
            self.placed[key] = at

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
        # The hashes of the ids this import has given to `_flush`, kept only
        # when the store held no object at all when it began (the first import
        # of a node, a benchmark): then only those ids can be stored, and a
        # batch asks the store about those of its ids that are among them
        # (0.1 s of 1.9 s CPU per 100,000 new indicators otherwise). Writers
        # are serialised, so no other import can store one meanwhile.
        self.flushed_hashes: set[int] | None = set() if self.next_pk == 1 else None
        # Likewise, an empty SQLite store's indexes, all but the primary keys,
        # are built once at the end (`repository.defer_indexes`).
        self.deferred_indexes = repository.defer_indexes(conn) if self.next_pk == 1 else {}
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
        # An object of the common shapes (indicators, SCOs, SDOs without
        # type-specific rules, relationships) is checked, its observables
        # found and its row's values made in C (`_ingest.prepare_row`);
        # whatever that is not sure of goes to `_prepare`, the reference.
        prepared = _prepare_row(obj, index, self.default_tlp) if _prepare_row is not None else None
        if prepared is None:
            self._feed_checked(index, obj)
        elif prepared[_P_REFS]:
            self._marked(prepared)
        else:
            batch = self.batch
            batch.append(prepared)
            if len(batch) >= self.batch_size:
                self._flush()

    def _feed_checked(self, index: int, obj: Any) -> None:
        try:
            prepared = self._prepare(index, obj)
        except ObjectInvalid as exc:
            stix_id = obj.get("id") if isinstance(obj, dict) else None
            self._reject(
                index, stix_id if isinstance(stix_id, str) else None, exc.field, exc.reason
            )
            return
        if prepared[_P_REFS]:
            self._marked(prepared)
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
        return (
            index,
            checked.stix_id,
            checked.stix_type,
            checked.version_key,
            checked.marking_refs,
            # One row per distinct observable: a file may list one hash twice.
            tuple(found) if len(found) < 2 else tuple(dict.fromkeys(found)),
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

    def _marked(self, prepared: _Prepared) -> None:
        """An object with marking refs: queued, or waiting for a definition not seen yet."""
        if all(ref in self.marking_tlp for ref in prepared[_P_REFS]):
            self._queue(prepared)
        else:
            self.waiting.append(prepared)

    def _queue(self, prepared: _Prepared) -> None:
        refs = prepared[_P_REFS]
        if refs:
            levels = [self.marking_tlp[ref] for ref in refs]
            tlp_levels = [level for level in levels if level is not None]
            tlp = int(max(tlp_levels)) if tlp_levels else self.default_tlp
            prepared = (*prepared[:_P_TLP], tlp)
        batch = self.batch
        batch.append(prepared)
        if len(batch) >= self.batch_size:
            self._flush()

    # -- per batch

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        owner = self.owner_org_id
        # Earlier batches of this import are already in the (open) transaction,
        # so one look-up per batch sees them as well as what was stored before.
        ids = [p[_P_ID] for p in batch]
        flushed = self.flushed_hashes
        if flushed is not None:
            asked = [stix_id for stix_id in ids if hash(stix_id) in flushed]
            flushed.update(map(hash, ids))
            ids = asked
            if len(flushed) > _FLUSHED_HASHES_MAX:
                self.flushed_hashes = None  # memory stays bounded; the store answers
        if ids:
            self._versions_indexed()
        stored = repository.stored_versions(self.conn, owner, ids) if ids else {}
        state = _BatchState(
            known={(sid, v.version_key): v.content_hash for sid, vs in stored.items() for v in vs},
            latest={sid: max(v.version_key for v in vs) for sid, vs in stored.items()},
        )
        self._place(batch, state)
        repository.demote_versions(self.conn, owner, state.demote_stored)
        repository.insert_objects(self.conn, state.rows)
        repository.insert_observables(self.conn, state.found_rows)
        record_detection(self.conn, state.found_rows, _sighting_rows(state.rows))
        self.report.observables += len(state.found_rows)

    def _place(self, batch: list[_Prepared], state: _BatchState) -> None:
        """Gives each version its primary key and latest flag and writes its row, or skips it.

        One loop over the batch with what every row shares in locals: this is
        the per-object cost of the batch, so the common case (an id new to
        the store and to the batch) makes no call and no version comparison.
        """
        report, latest, fresh, rows = self.report, state.latest, state.fresh, state.rows
        add_row, add_found = rows.append, state.found_rows.append
        owner, dist, group, added_at = (
            self.owner_org_id,
            self.dist_kind,
            self.group_id,
            self.added_at_bound,
        )
        for prepared in batch:
            index, stix_id, stix_type, version_key, _, found, revoked, text, digest, data, tlp = (
                prepared
            )
            previous = latest.get(stix_id)
            if previous is None:
                report.created += 1
                latest[stix_id] = version_key
                fresh[stix_id] = len(rows)
                is_latest = True
            else:
                state.remember(stix_id)
                placed = self._place_version(index, stix_id, version_key, digest, state, previous)
                if placed is None:
                    continue
                is_latest = placed
                key = (stix_id, version_key)
                state.known[key] = digest
                state.placed[key] = len(rows)
            pk = self.next_pk
            self.next_pk = pk + 1
            add_row(
                (
                    pk,
                    stix_id,
                    stix_type,
                    version_key,
                    owner,
                    tlp,
                    dist,
                    group,
                    is_latest,
                    revoked,
                    text,
                    digest,
                    added_at,
                    data,
                )
            )
            # A loop, not extend() over a comprehension: that is a function
            # call per object in Python 3.11, for usually one observable.
            for kind, value in found:
                add_found((pk, kind, value))

    def _place_version(
        self,
        index: int,
        stix_id: str,
        version_key: str,
        content_hash: str,
        state: _BatchState,
        previous: str,
    ) -> bool | None:
        """Another version of a known id: whether it is the latest, None if not to be stored."""
        stored_hash = state.known.get((stix_id, version_key))
        if stored_hash is not None:
            if stored_hash == content_hash:
                self.report.unchanged += 1
            else:
                self._reject(
                    index,
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
            ref for p in self.waiting for ref in p[_P_REFS] if ref not in self.marking_tlp
        }
        if unresolved:
            self._versions_indexed()
        stored = repository.visible_markings(self.conn, self.options.principal, unresolved)
        for ref, definition in stored.items():
            # A TLP definition of its own, stored by an earlier import, still marks TLP.
            tlp_name = marking_tlp_name(orjson.loads(definition))
            self.marking_tlp[ref] = _tlp_or_none(tlp_name)
        for prepared in sorted(self.waiting, key=lambda p: p[_P_INDEX]):
            missing = [ref for ref in prepared[_P_REFS] if ref not in self.marking_tlp]
            if missing:
                self._reject(
                    prepared[_P_INDEX],
                    prepared[_P_ID],
                    "object_marking_refs",
                    f"refers to marking definition {missing[0]}, which is neither in the "
                    "bundle nor known to this node",
                )
            else:
                self._queue(prepared)
        self.waiting = []
        self._flush()
        repository.rebuild_indexes(self.conn, self.deferred_indexes.values())
        return self.report

    def _versions_indexed(self) -> None:
        """Builds the version index now if this import deferred it: the store is to be asked."""
        statement = self.deferred_indexes.pop(repository.VERSION_INDEX, None)
        if statement is not None:
            repository.rebuild_indexes(self.conn, [statement])


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
