"""SQL of exports: the latest visible objects and their observables, streamed.

Every query here carries `intel.repository.visible(principal)`, the access
policy's SQL filter, so an export can never read a row its caller may not see.
Bulk reads are one query each, streamed in chunks (`yield_per`; a server-side
cursor on PostgreSQL), reading only the columns the format needs, so memory
stays flat whatever the size of the store; they hand out the driver's own
tuples rather than SQLAlchemy rows (see `driver_chunks`). Object pages with
their observables are keyset pages (`pk > last`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    CursorResult,
    Integer,
    Select,
    String,
    case,
    cast,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.sql.expression import type_coerce

from shieldwall.correlate.tables import sighting_refs
from shieldwall.formats.export import scores
from shieldwall.formats.export.model import ExportFilters, ObjectRow
from shieldwall.intel.repository import visible
from shieldwall.intel.tables import observables, stix_objects
from shieldwall.members.tables import organisations
from shieldwall.sharing.policy import Principal
from shieldwall.sharing.tables import sharing_groups

#: Bind parameters per IN list: well under SQLite's and PostgreSQL's limits.
_IN_CHUNK = 900


@dataclass(frozen=True, slots=True)
class Scope:
    """Which objects an export reads: the caller's policy, the filters, the object types.

    `object_types` restricts STIX types (empty: all); `kinds` restricts the
    observable kinds read with them (empty: all).
    """

    principal: Principal
    filters: ExportFilters
    object_types: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    include_revoked: bool = False
    anonymous_public: bool = False
    #: Further conditions of the format's own (never a substitute for the policy's).
    extra: tuple[ColumnElement[bool], ...] = ()


def _confidence(conn: Connection) -> ColumnElement[int]:
    """The object's `confidence` property, read from its stored JSON."""
    data = stix_objects.c.data
    document = cast(data, JSON) if conn.dialect.name == "postgresql" else type_coerce(data, JSON)
    return cast(document["confidence"].as_integer(), Integer)


def _clauses(conn: Connection, scope: Scope) -> list[ColumnElement[bool]]:
    filters = scope.filters
    clauses: list[ColumnElement[bool]] = [
        stix_objects.c.is_latest == true(),
        visible(scope.principal, anonymous_public=scope.anonymous_public),
    ]
    if not scope.include_revoked:
        clauses.append(stix_objects.c.revoked == False)  # noqa: E712 (SQL, not Python)
    if scope.object_types:
        clauses.append(stix_objects.c.type.in_(scope.object_types))
    if filters.owner_org_id is not None:
        clauses.append(stix_objects.c.owner_org_id == filters.owner_org_id)
    if filters.tlp_at_most is not None:
        clauses.append(stix_objects.c.tlp <= int(filters.tlp_at_most))
    if filters.added_since is not None:
        clauses.append(stix_objects.c.added_at >= filters.added_since)
    if filters.min_confidence is not None:
        clauses.append(_confidence(conn) >= filters.min_confidence)
    clauses.extend(scope.extra)
    return clauses


def _value_columns(conn: Connection, scope: Scope) -> dict[str, ColumnElement[Any]]:
    """Every column a value format may ask for, by the name the formats use."""
    return {
        "kind": observables.c.kind,
        "value": observables.c.value,
        "pk": stix_objects.c.pk,
        "stix_id": stix_objects.c.stix_id,
        "stix_type": stix_objects.c.type,
        "owner": organisations.c.name,
        "owner_org_id": stix_objects.c.owner_org_id,
        "tlp": stix_objects.c.tlp,
        "dist": stix_objects.c.dist,
        "version_key": stix_objects.c.version_key,
        "time_key": time_key(conn),
        "added_at": stix_objects.c.added_at,
        "confidence": _confidence(conn),
        "created": _property(conn, "created"),
        "modified": _property(conn, "modified"),
        "last_seen": _last_seen(scope),
    }


def time_key(conn: Connection) -> ColumnElement[str]:
    """When the row's version was made, as a version key (`YYYY-MM-DDTHH:MM:SS.fffffffffZ`).

    Its own `modified` (or `created`); for an object without either, which
    is every SCO (STIX 2.1 gives them no timestamps), when this node stored
    it: what MISP's timestamps and `min_score`'s age are counted from.
    """
    version_key = stix_objects.c.version_key
    return case((version_key == "", _added_at_key(conn)), else_=version_key)


def _added_at_key(conn: Connection) -> ColumnElement[str]:
    added_at = stix_objects.c.added_at
    seconds: ColumnElement[str]
    if conn.dialect.name == "postgresql":
        utc = func.timezone("UTC", added_at)
        seconds = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.US', type_=String)
    else:
        # SQLite holds it as text, `YYYY-MM-DD HH:MM:SS.ffffff` (SQLAlchemy's
        # storage format, microseconds always written).
        text = type_coerce(added_at, String)
        seconds = func.substr(text, 1, 10, type_=String) + "T" + func.substr(text, 12, type_=String)
    return seconds + "000Z"


def _last_seen(scope: Scope) -> ColumnElement[str | None]:
    """The latest `last_seen` of the sightings of the row's object that the caller may see."""
    sighting = stix_objects.alias("sighting_object")
    return (
        select(func.max(sighting_refs.c.last_seen))
        .select_from(sighting_refs.join(sighting, sighting.c.pk == sighting_refs.c.object_pk))
        .where(
            sighting_refs.c.sighting_of_ref == stix_objects.c.stix_id,
            sighting.c.is_latest == true(),
            visible(scope.principal, anonymous_public=scope.anonymous_public, table=sighting),
        )
        .scalar_subquery()
    )


def _property(conn: Connection, name: str) -> ColumnElement[str]:
    """A top-level string property of the object's stored JSON, read by the database."""
    data = stix_objects.c.data
    document = cast(data, JSON) if conn.dialect.name == "postgresql" else type_coerce(data, JSON)
    found: ColumnElement[str] = document[name].as_string()
    return found


def value_rows(
    conn: Connection,
    scope: Scope,
    fields: Sequence[str],
    *,
    chunk: int,
    extra: Sequence[ColumnElement[bool]] = (),
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """`fields` of every observable value of the visible objects in scope, in chunks.

    One query (`value_query`), streamed (`yield_per`: a server-side cursor on
    PostgreSQL), in object pk order and, within an object, kind and value
    order, so that rules get their sids in the same order in every export.
    Only the columns asked for are read: what a row costs is mostly the
    columns it carries.
    """
    return driver_chunks(conn, value_query(conn, scope, fields, extra), chunk)


def value_query(
    conn: Connection,
    scope: Scope,
    fields: Sequence[str],
    extra: Sequence[ColumnElement[bool]] = (),
) -> Select[Any]:
    """The query of `value_rows`."""
    available = _value_columns(conn, scope)
    clauses = _clauses(conn, scope)
    clauses.extend(extra)
    if scope.kinds:
        clauses.append(observables.c.kind.in_(scope.kinds))
    joined = stix_objects.join(observables, observables.c.object_pk == stix_objects.c.pk)
    if "owner" in fields:
        joined = joined.join(organisations, organisations.c.id == stix_objects.c.owner_org_id)
    return (
        select(*(available[name] for name in fields))
        .select_from(joined)
        .where(*clauses)
        .order_by(stix_objects.c.pk, observables.c.kind, observables.c.value)
    )


class OrganisationNames(dict[int, str]):
    """Organisation names by id: what value rows read as `owner_org_id` stand for.

    Organisations are few: their names are read once, instead of per row (a
    join, and a string per row; see `rules.RuleContext`). An organisation
    added since (a PostgreSQL transaction at read committed sees rows
    committed after its first statement) is read when first asked for.
    """

    def __init__(self, conn: Connection) -> None:
        names = conn.execute(select(organisations.c.id, organisations.c.name))
        super().__init__((org_id, name) for org_id, name in names)
        self._conn = conn

    def __missing__(self, org_id: int) -> str:
        query = select(organisations.c.name).where(organisations.c.id == org_id)
        name: str = self._conn.execute(query).scalar_one()
        self[org_id] = name
        return name


def object_data(
    conn: Connection, scope: Scope, *, chunk: int, extra: Sequence[ColumnElement[bool]] = ()
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """(pk, stored JSON) of every visible object in scope, pk order, streamed in chunks."""
    query = (
        select(stix_objects.c.pk, stix_objects.c.data)
        .where(*_clauses(conn, scope), *extra)
        .order_by(stix_objects.c.pk)
    )
    return driver_chunks(conn, query, chunk)


#: Distinct raw values whose converted value is remembered, per column (flat memory).
_CONVERTED_CACHE = 4096


def driver_chunks(
    conn: Connection, query: Select[Any], chunk: int
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """The rows of `query`, `chunk` at a time, as the driver's own tuples.

    A SQLAlchemy Row costs more than the SQL that produced it: on a store of a
    million indicators, reading Suricata's six columns took 3.86 s of CPU as
    rows against 2.39 s as the driver's tuples. The rows are fetched through
    the result's own fetch strategy (which keeps the row PostgreSQL's
    server-side cursor reads ahead, and turns driver errors into SQLAlchemy's),
    and columns whose type converts what the driver returns (UTC datetimes)
    are converted here, as SQLAlchemy would.

    Only a driver with server-side cursors is asked to stream: pysqlite reads
    rows as they are fetched anyway, and streaming there would only put each
    row through SQLAlchemy's read-ahead queue (0.2 s per million rows).
    """
    if conn.dialect.supports_server_side_cursors:
        query = query.execution_options(yield_per=chunk)
    result = conn.execute(query)
    fetch = result.cursor_strategy.fetchmany
    convert: Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]] | None = None
    try:
        first = True
        while result.cursor is not None and (rows := fetch(result, result.cursor, chunk)):
            if first:
                # The description is complete once a row was read (psycopg's named cursors).
                convert = _converter(conn, query, result)
                first = False
            yield rows if convert is None else convert(rows)
    finally:
        result.close()


def _converter(
    conn: Connection, query: Select[Any], result: CursorResult[Any]
) -> Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]] | None:
    """What turns driver tuples into the values SQLAlchemy would give; None: nothing to do."""
    dialect = conn.dialect
    description = result.cursor.description if result.cursor is not None else None
    codes = [entry[1] for entry in description or ()] or [None] * len(query.selected_columns)
    processors = [
        column.type.dialect_impl(dialect).result_processor(dialect, code)
        for column, code in zip(query.selected_columns, codes, strict=True)
    ]
    needed = [
        _ColumnConverter(at, process)
        for at, process in enumerate(processors)
        if process is not None
    ]
    if not needed:
        return None

    def convert(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        for converter in needed:
            rows = converter.convert(rows)
        return rows

    return convert


class _ColumnConverter:
    """Converts one column of driver rows, each distinct raw value once.

    Converted columns are timestamps shared by many rows (one per ingest).
    One list comprehension per chunk, a look-up per row and a converter call
    only for a value not seen yet (or converted to something false, which is
    then converted again): 0.35 s per million rows against 0.68 s for a loop
    that tested the look-up's result.
    """

    def __init__(self, at: int, process: Callable[[Any], Any]) -> None:
        self.at = at
        self.process = process
        self.cache: dict[Any, Any] = {}

    def _fill(self, raw: Any) -> Any:
        value = self.cache[raw] = self.process(raw)
        return value

    def convert(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if len(self.cache) > _CONVERTED_CACHE:
            self.cache.clear()
        at, after, get, fill = self.at, self.at + 1, self.cache.get, self._fill
        if rows and after == len(rows[0]):
            # The last column (csv's added_at): a slice and one more item, 20%
            # cheaper than unpacking the slice into a new tuple.
            return [row[:at] + (get(row[at]) or fill(row[at]),) for row in rows]  # noqa: RUF005
        return [(*row[:at], get(row[at]) or fill(row[at]), *row[after:]) for row in rows]


def _object_select(conn: Connection) -> Any:
    """The columns of `ObjectRow` (but its observables), in its order."""
    return (
        select(
            stix_objects.c.pk,
            stix_objects.c.stix_id,
            stix_objects.c.type,
            organisations.c.name,
            stix_objects.c.tlp,
            stix_objects.c.dist,
            sharing_groups.c.name,
            time_key(conn),
            stix_objects.c.data,
        )
        .select_from(stix_objects)
        .join(organisations, organisations.c.id == stix_objects.c.owner_org_id)
        .outerjoin(sharing_groups, sharing_groups.c.id == stix_objects.c.group_id)
    )


def _with_observables(
    conn: Connection, clauses: Sequence[ColumnElement[bool]], rows: Sequence[Any]
) -> list[ObjectRow]:
    """Attaches observables to a page of object rows (read again through the policy)."""
    if not rows:
        return []
    found: dict[int, list[tuple[str, str]]] = {row[0]: [] for row in rows}
    query = (
        select(observables.c.object_pk, observables.c.kind, observables.c.value)
        .select_from(stix_objects.join(observables, observables.c.object_pk == stix_objects.c.pk))
        .where(stix_objects.c.pk >= rows[0][0], stix_objects.c.pk <= rows[-1][0], *clauses)
        .order_by(observables.c.object_pk, observables.c.kind, observables.c.value)
    )
    for pk, kind, value in conn.execute(query):
        if pk in found:
            found[pk].append((kind, value))
    return [ObjectRow._make((*row, found[row[0]])) for row in rows]


def _bare(rows: Sequence[Any]) -> list[ObjectRow]:
    return [ObjectRow._make((*row, [])) for row in rows]


def object_pages(
    conn: Connection, scope: Scope, *, page_size: int, with_observables: bool = True
) -> Iterator[list[ObjectRow]]:
    """The visible objects in scope (with their observables), pk order, a page at a time."""
    clauses = _clauses(conn, scope)
    after = 0
    while True:
        query = (
            _object_select(conn)
            .where(stix_objects.c.pk > after, *clauses)
            .order_by(stix_objects.c.pk)
            .limit(page_size)
        )
        rows = conn.execute(query).all()
        if not rows:
            return
        if scope.filters.min_score is not None:
            yield _scored(conn, scope, _with_observables(conn, clauses, rows))
        else:
            yield _with_observables(conn, clauses, rows) if with_observables else _bare(rows)
        if len(rows) < page_size:
            return
        after = rows[-1][0]


def flagged_pks(
    conn: Connection, scope: Scope, flags: Sequence[ColumnElement[bool]], *, chunk: int
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """(pk, each flag) of every visible object in scope for which a flag holds, pk order, in chunks.

    One scan finds the objects of several later reads (`object_pages_of`),
    instead of one scan per read.
    """
    query = (
        select(stix_objects.c.pk, *flags)
        .where(*_clauses(conn, scope), or_(*flags))
        .order_by(stix_objects.c.pk)
    )
    return driver_chunks(conn, query, chunk)


def object_pages_of(
    conn: Connection,
    scope: Scope,
    pks: Iterable[int],
    *,
    page_size: int,
    with_observables: bool = True,
) -> Iterator[list[ObjectRow]]:
    """`object_pages`, of the objects among `pks` (ascending) only, read by their keys.

    The policy and the scope are applied again, so `pks` need only hold every
    object wanted (e.g. what `flagged_pks` found with a looser scope).
    """
    clauses = _clauses(conn, scope)
    keys = iter(pks)
    while batch := list(itertools.islice(keys, min(page_size, _IN_CHUNK))):
        query = _object_select(conn).where(stix_objects.c.pk.in_(batch), *clauses)
        rows = list(conn.execute(query.order_by(stix_objects.c.pk)))
        if not rows:
            continue
        if scope.filters.min_score is not None:
            yield _scored(conn, scope, _with_observables_by_pk(conn, rows))
        else:
            yield _with_observables_by_pk(conn, rows) if with_observables else _bare(rows)


def objects_by_id(conn: Connection, scope: Scope, stix_ids: Sequence[str]) -> list[ObjectRow]:
    """The visible latest versions of these objects (absent or hidden ones are left out)."""
    clauses = _clauses(conn, scope)
    wanted = sorted(set(stix_ids))
    found: list[ObjectRow] = []
    for start in range(0, len(wanted), _IN_CHUNK):
        query = (
            _object_select(conn)
            .where(stix_objects.c.stix_id.in_(wanted[start : start + _IN_CHUNK]), *clauses)
            .order_by(stix_objects.c.pk)
        )
        rows = _with_observables_by_pk(conn, list(conn.execute(query)))
        found.extend(_scored(conn, scope, rows) if scope.filters.min_score is not None else rows)
    found.sort(key=lambda row: row.pk)
    return found


def _with_observables_by_pk(conn: Connection, rows: Sequence[Any]) -> list[ObjectRow]:
    """Observables of rows already read through the policy, looked up by their pks."""
    found: dict[int, list[tuple[str, str]]] = {row[0]: [] for row in rows}
    if found:
        query = (
            select(observables.c.object_pk, observables.c.kind, observables.c.value)
            .where(observables.c.object_pk.in_(list(found)))
            .order_by(observables.c.object_pk, observables.c.kind, observables.c.value)
        )
        for pk, kind, value in conn.execute(query):
            found[pk].append((kind, value))
    return [ObjectRow._make((*row, found[row[0]])) for row in rows]


def last_sightings(conn: Connection, scope: Scope, stix_ids: Sequence[str]) -> dict[str, str]:
    """The latest `last_seen` of the caller's visible sightings of each of these objects."""
    sighting = stix_objects.alias("sighting_object")
    wanted = sorted(set(stix_ids))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        query = (
            select(sighting_refs.c.sighting_of_ref, func.max(sighting_refs.c.last_seen))
            .select_from(sighting_refs.join(sighting, sighting.c.pk == sighting_refs.c.object_pk))
            .where(
                sighting_refs.c.sighting_of_ref.in_(wanted[start : start + _IN_CHUNK]),
                sighting.c.is_latest == true(),
                visible(scope.principal, anonymous_public=scope.anonymous_public, table=sighting),
            )
            .group_by(sighting_refs.c.sighting_of_ref)
        )
        found.update((str(ref), str(seen)) for ref, seen in conn.execute(query))
    return found


def _scored(conn: Connection, scope: Scope, rows: list[ObjectRow]) -> list[ObjectRow]:
    """The rows with a value whose score reaches the export's `min_score` (see `scores`)."""
    minimum, now = scope.filters.min_score, scope.filters.scored_at
    if minimum is None or now is None:
        return rows
    sighted = last_sightings(conn, scope, [row.stix_id for row in rows if row.observables])
    kept = []
    for row in rows:
        if not row.observables:
            continue  # no value, no score: meets no minimum
        refreshed = scores.refreshed_at(row.time_key, sighted.get(row.stix_id))
        confidence = orjson.loads(row.data).get("confidence")
        kinds = {kind for kind, _ in row.observables}
        if scores.object_passes(minimum, confidence, kinds, refreshed, now):
            kept.append(row)
    return kept
