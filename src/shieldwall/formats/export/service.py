"""Exports: validate a request up front, then stream the chosen format through the policy.

`prepare()` checks everything a caller can get wrong (format, types, TLP,
owner, sid base) before the first byte is written, so that a bad request is a
clean 4xx rather than a broken stream. The `stream_*` functions open their own
read transaction and read the store page by page (`repository`), so an export
of any size runs in flat memory; they never commit.

What each format reads:

* stix21, misp, misp-feed: every visible latest object in scope (`types` are
  STIX object types);
* suricata, snort, zeek, txt: the observables of visible, unrevoked
  indicators (detection content, MISP's `to_ids`), without warninglisted
  values unless `include_warninglisted`; `types` are observable kinds;
* csv: the observables of every visible, unrevoked object (indicators and
  SCOs); warninglisted values are kept unless `include_warninglisted=False`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from shieldwall.db.engine import read_transaction
from shieldwall.errors import BadInput
from shieldwall.formats.export import (
    csv_rows,
    misp,
    misp_feed,
    repository,
    scores,
    snort,
    stix21,
    suricata,
    txt,
    zeek,
)
from shieldwall.formats.export.misp_feed import FeedFile
from shieldwall.formats.export.model import (
    DETECTION_TYPES,
    ExportFilters,
    ExportFormat,
)
from shieldwall.formats.export.repository import Scope
from shieldwall.formats.export.rules import DEFAULT_SID_BASE, check_sid_base
from shieldwall.intel.observables import KINDS
from shieldwall.intel.service import Reader
from shieldwall.members import service as members
from shieldwall.sharing.tlp import TLP
from shieldwall.warninglists import WarninglistIndex, default_index

#: Objects (or values) read per round trip: big chunks keep the per-fetch cost low.
PAGE_SIZE = 10000
_STIX_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,248}[a-z0-9]")


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """A validated export request (see `prepare`)."""

    format: ExportFormat
    reader: Reader
    filters: ExportFilters = field(default_factory=ExportFilters)
    drop_warninglisted: bool = False
    sid_base: int = DEFAULT_SID_BASE
    page_size: int = PAGE_SIZE

    @property
    def caller(self) -> str:
        return self.reader.principal.org_name or "anonymous"


def parse_format(text: str) -> ExportFormat:
    try:
        return ExportFormat(text.strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in ExportFormat)
        raise BadInput(
            f"unknown export format {text!r}; use one of {choices}", where="format"
        ) from None


def _types(export_format: ExportFormat, types: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(t.strip().lower() for t in types if t.strip()))
    if export_format.is_value_format:
        unknown = [t for t in wanted if t not in KINDS]
        if unknown:
            raise BadInput(
                f"unknown observable type {unknown[0]!r} for {export_format}; "
                f"use one of {', '.join(sorted(KINDS))}",
                where="type",
            )
    else:
        bad = [t for t in wanted if not _STIX_TYPE_RE.fullmatch(t)]
        if bad:
            raise BadInput(f"{bad[0]!r} is not a STIX object type", where="type")
    return wanted


def prepare(
    conn: Connection,
    reader: Reader,
    export_format: str,
    *,
    types: Iterable[str] = (),
    tlp: str | None = None,
    owner: str | None = None,
    added_since: datetime | None = None,
    min_confidence: int | None = None,
    min_score: float | None = None,
    include_warninglisted: bool | None = None,
    sid_base: int | None = None,
    single_txt_type: bool = False,
) -> ExportRequest:
    """Checks an export request; raises BadInput/NotFound before anything is written.

    `single_txt_type`: a txt export is one list (the API's case), so it needs
    exactly one type; the CLI writes one file per type instead.
    """
    chosen = parse_format(export_format)
    if added_since is not None and added_since.tzinfo is None:
        raise BadInput(
            "added_since needs a timezone, e.g. 2024-01-31T00:00:00Z", where="added_since"
        )
    if min_confidence is not None and not 0 <= min_confidence <= 100:
        raise BadInput("min_confidence must be between 0 and 100", where="min_confidence")
    if min_score is not None and not 0 <= min_score <= 100:
        raise BadInput("min_score must be between 0 and 100", where="min_score")
    wanted = _types(chosen, types)
    if single_txt_type and chosen is ExportFormat.TXT and len(wanted) != 1:
        raise BadInput(
            "a txt export is one list of one type: pass exactly one type, e.g. type=ipv4",
            where="type",
        )
    filters = ExportFilters(
        types=wanted,
        tlp_at_most=TLP.parse(tlp) if tlp else None,
        owner_org_id=members.org_named(conn, owner)["id"] if owner else None,
        added_since=added_since,
        min_confidence=min_confidence,
        min_score=min_score,
        scored_at=datetime.now(UTC) if min_score is not None else None,
    )
    drop = (
        chosen.drops_warninglisted if include_warninglisted is None else not include_warninglisted
    )
    return ExportRequest(
        format=chosen,
        reader=reader,
        filters=filters,
        drop_warninglisted=drop and chosen.is_value_format,
        sid_base=check_sid_base(sid_base if sid_base is not None else DEFAULT_SID_BASE),
    )


# --------------------------------------------------------------------------- reading


def _scope(request: ExportRequest, object_types: tuple[str, ...], kinds: tuple[str, ...]) -> Scope:
    return Scope(
        principal=request.reader.principal,
        filters=request.filters,
        object_types=object_types,
        kinds=kinds,
        include_revoked=not request.format.is_value_format,
        anonymous_public=request.reader.anonymous_public,
    )


def value_scope(request: ExportRequest) -> Scope:
    object_types = () if request.format is ExportFormat.CSV else DETECTION_TYPES
    return _scope(request, object_types, request.filters.types)


def object_scope(request: ExportRequest) -> Scope:
    return _scope(request, request.filters.types, ())


_FIELDS: dict[ExportFormat, tuple[str, ...]] = {
    ExportFormat.SURICATA: suricata.FIELDS,
    ExportFormat.SNORT: snort.FIELDS,
    ExportFormat.ZEEK: zeek.FIELDS,
    ExportFormat.CSV: csv_rows.FIELDS,
    ExportFormat.TXT: txt.FIELDS,
}
#: What scoring a value reads, after the format's own columns.
_SCORE_FIELDS = ("confidence", "time_key", "last_seen")

Chunk = Sequence[Sequence[Any]]


#: Kinds whose values a format writes nothing of, but whose presence it needs:
#: Suricata writes one rule per hash algorithm that has a value (the values go
#: to list files), so one value of each that is not warninglisted is enough.
_PRESENCE_ONLY: dict[ExportFormat, frozenset[str]] = {
    ExportFormat.SURICATA: frozenset(suricata.HASH_KEYWORDS),
}


def _without_warninglisted(
    chunks: Iterable[Chunk],
    index: WarninglistIndex,
    kind_at: int,
    value_at: int,
    presence_only: frozenset[str] = frozenset(),
) -> Iterator[Chunk]:
    """Rows whose value is on no warninglist, a chunk at a time (`WarninglistIndex.unlisted`).

    Of a `presence_only` kind, only the first such row is kept: the others are
    not looked up at all (a third of a store's values may be file hashes).
    """
    unlisted = index.unlisted
    if not presence_only:
        for chunk in chunks:
            yield unlisted(chunk, kind_at, value_at)
        return
    missing = set(presence_only)
    for chunk in chunks:
        first = _first_unlisted(chunk, index, kind_at, value_at, missing) if missing else set()
        rows = [
            row for at, row in enumerate(chunk) if row[kind_at] not in presence_only or at in first
        ]
        yield unlisted(rows, kind_at, value_at)


def _first_unlisted(
    chunk: Chunk, index: WarninglistIndex, kind_at: int, value_at: int, missing: set[str]
) -> set[int]:
    """The positions in `chunk` of the first unlisted value of each `missing` kind.

    The kinds found are taken out of `missing`. Values are looked up one by
    one, in order, until one is found: usually a few values in the first
    chunk, and no pass at all once every kind is found.
    """
    found: set[int] = set()
    for at, row in enumerate(chunk):
        kind = row[kind_at]
        if kind in missing and not index.is_listed(kind, row[value_at]):
            missing.discard(kind)
            found.add(at)
            if not missing:
                break
    return found


def _scored(
    chunks: Iterable[Chunk], minimum: float, now: datetime, width: int, kind_at: int
) -> Iterator[Chunk]:
    """Rows whose value reaches `minimum` at `now`, cut back to the format's `width` columns."""
    passes, refreshed_at = scores.value_passes, scores.refreshed_at
    for chunk in chunks:
        yield [
            row[:width]
            for row in chunk
            if passes(
                minimum,
                row[width],
                row[kind_at],
                refreshed_at(row[width + 1], row[width + 2]),
                now,
            )
        ]


def _value_chunks(
    conn: Connection, request: ExportRequest, fields: tuple[str, ...]
) -> Iterator[Chunk]:
    """Rows of `fields` for every value in scope, after warninglists and `min_score`."""
    minimum, now = request.filters.min_score, request.filters.scored_at
    scoring = minimum is not None and now is not None
    chunks: Iterator[Chunk] = repository.value_rows(
        conn,
        value_scope(request),
        fields + _SCORE_FIELDS if scoring else fields,
        chunk=request.page_size,
    )
    if minimum is not None and now is not None:
        chunks = _scored(chunks, minimum, now, len(fields), fields.index("kind"))
    if request.drop_warninglisted:
        index = default_index()
        chunks = _without_warninglisted(
            chunks,
            index,
            fields.index("kind"),
            fields.index("value"),
            _PRESENCE_ONLY.get(request.format, frozenset()),
        )
    return chunks


# --------------------------------------------------------------------------- streams


def _in_transaction(
    engine: Engine, body: Callable[[Connection], Iterator[bytes]]
) -> Iterator[bytes]:
    with read_transaction(engine) as conn:
        yield from body(conn)


def stream(engine: Engine, request: ExportRequest) -> Iterator[bytes]:
    """The export as one byte stream (every format but misp-feed)."""
    chosen = request.format
    if chosen is ExportFormat.MISP_FEED:
        raise BadInput("misp-feed is a directory: use stream_feed", where="format")

    def body(conn: Connection) -> Iterator[bytes]:
        if chosen is ExportFormat.STIX21:
            return stix21.write(_stix_documents(conn, request))
        if chosen is ExportFormat.MISP:
            return misp.write(conn, object_scope(request), request.caller, request.page_size)
        chunks = _value_chunks(conn, request, _FIELDS[chosen])
        if chosen is ExportFormat.SURICATA:
            return suricata.write(chunks, request.sid_base, repository.OrganisationNames(conn))
        if chosen is ExportFormat.SNORT:
            return snort.write(chunks, request.sid_base, repository.OrganisationNames(conn))
        if chosen is ExportFormat.ZEEK:
            return zeek.write(chunks)
        if chosen is ExportFormat.CSV:
            return csv_rows.write(chunks)
        return txt.write(chunks)

    return _in_transaction(engine, body)


def _stix_documents(conn: Connection, request: ExportRequest) -> Iterator[list[str]]:
    """The stored JSON of every object in scope, in chunks (scored objects only with min_score)."""
    scope = object_scope(request)
    if request.filters.min_score is not None:
        for page in repository.object_pages(conn, scope, page_size=request.page_size):
            yield [row.data for row in page]
        return
    for chunk in repository.object_data(conn, scope, chunk=request.page_size):
        yield [row[1] for row in chunk]


def stream_txt_by_kind(engine: Engine, request: ExportRequest) -> Iterator[tuple[str, bytes]]:
    """txt for every type at once: (kind, lines) chunks, for one file per type."""
    with read_transaction(engine) as conn:
        yield from txt.write_by_kind(_value_chunks(conn, request, txt.FIELDS))


def stream_feed(engine: Engine, request: ExportRequest) -> Iterator[FeedFile]:
    """The misp-feed files, each streamed: events, then `hashes.csv` and `manifest.json`."""
    with read_transaction(engine) as conn:
        yield from misp_feed.files(conn, object_scope(request), request.caller, request.page_size)


def hash_list_requests(request: ExportRequest) -> list[tuple[str, ExportRequest]]:
    """The txt exports that fill Suricata's hash list files (same filters as the rules)."""
    wanted = request.filters.types or tuple(suricata.HASH_KEYWORDS)
    return [
        (
            suricata.list_file(kind),
            replace(
                request,
                format=ExportFormat.TXT,
                filters=replace(request.filters, types=(kind,)),
            ),
        )
        for kind in suricata.HASH_KEYWORDS
        if kind in wanted
    ]
