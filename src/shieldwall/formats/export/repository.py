"""SQL of exports: the latest visible objects and their observables, in primary-key pages.

Every query here carries `intel.repository.visible(principal)`, the access
policy's SQL filter, so an export can never read a row its caller may not see.
Pages are keyset pages (`pk > last`), so memory stays flat whatever the size
of the store and a page never depends on how many rows came before it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, ColumnElement, Connection, Integer, cast, select, true
from sqlalchemy.sql.expression import type_coerce

from shieldwall.formats.export.model import ExportFilters, ObjectRow, ValueRow
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
    return clauses


def _page_end(
    conn: Connection, clauses: Sequence[ColumnElement[bool]], after: int, size: int
) -> int | None:
    """The pk of the `size`-th object after `after`, or None when fewer remain."""
    query = (
        select(stix_objects.c.pk)
        .where(stix_objects.c.pk > after, *clauses)
        .order_by(stix_objects.c.pk)
        .limit(1)
        .offset(size - 1)
    )
    return conn.execute(query).scalar_one_or_none()


def value_pages(
    conn: Connection, scope: Scope, *, page_size: int, with_data: bool
) -> Iterator[list[ValueRow]]:
    """Observable values of the visible objects in scope, object pk order, a page at a time.

    A page holds the values of `page_size` objects (objects without a value in
    scope count too, so a page may be short or empty before the end).
    """
    object_clauses = _clauses(conn, scope)
    value_clauses = list(object_clauses)
    if scope.kinds:
        value_clauses.append(observables.c.kind.in_(scope.kinds))
    columns = [
        observables.c.kind,
        observables.c.value,
        stix_objects.c.pk,
        stix_objects.c.stix_id,
        stix_objects.c.type,
        organisations.c.name,
        stix_objects.c.tlp,
        stix_objects.c.dist,
        stix_objects.c.version_key,
        # Only csv needs these; parsing every timestamp would cost more than the rest.
        stix_objects.c.added_at if with_data else type_coerce(None, stix_objects.c.added_at.type),
        stix_objects.c.data if with_data else type_coerce(None, stix_objects.c.data.type),
    ]
    joined = stix_objects.join(observables, observables.c.object_pk == stix_objects.c.pk).join(
        organisations, organisations.c.id == stix_objects.c.owner_org_id
    )
    after = 0
    while True:
        end = _page_end(conn, object_clauses, after, page_size)
        bounds = [stix_objects.c.pk > after]
        if end is not None:
            bounds.append(stix_objects.c.pk <= end)
        query = (
            select(*columns)
            .select_from(joined)
            .where(*bounds, *value_clauses)
            .order_by(stix_objects.c.pk, observables.c.kind, observables.c.value)
        )
        yield [ValueRow._make(row) for row in conn.execute(query).all()]
        if end is None:
            return
        after = end


_OBJECT_COLUMNS = (
    stix_objects.c.pk,
    stix_objects.c.stix_id,
    stix_objects.c.type,
    organisations.c.name,
    stix_objects.c.tlp,
    stix_objects.c.dist,
    sharing_groups.c.name,
    stix_objects.c.version_key,
    stix_objects.c.data,
)


def _object_select() -> Any:
    return (
        select(*_OBJECT_COLUMNS)
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
            _object_select()
            .where(stix_objects.c.pk > after, *clauses)
            .order_by(stix_objects.c.pk)
            .limit(page_size)
        )
        rows = conn.execute(query).all()
        if not rows:
            return
        yield _with_observables(conn, clauses, rows) if with_observables else _bare(rows)
        if len(rows) < page_size:
            return
        after = rows[-1][0]


def objects_by_id(conn: Connection, scope: Scope, stix_ids: Sequence[str]) -> list[ObjectRow]:
    """The visible latest versions of these objects (absent or hidden ones are left out)."""
    clauses = _clauses(conn, scope)
    wanted = sorted(set(stix_ids))
    found: list[ObjectRow] = []
    for start in range(0, len(wanted), _IN_CHUNK):
        query = (
            _object_select()
            .where(stix_objects.c.stix_id.in_(wanted[start : start + _IN_CHUNK]), *clauses)
            .order_by(stix_objects.c.pk)
        )
        rows = list(conn.execute(query))
        for row in _with_observables_by_pk(conn, rows):
            found.append(row)
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
