"""SQL of the TAXII feature: collection pages over the object store, status, cursors.

Every read of `stix_objects` here takes the caller's policy clause (built by
`intel.repository.visible`) from the service; this module adds only the
collection's distribution, the TAXII filters and the paging bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Row,
    RowMapping,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.elements import KeyedColumnElement

from shieldwall.intel.tables import stix_objects
from shieldwall.sharing.tlp import DistKind
from shieldwall.taxii.schemas import ObjectQuery, VersionMatch, VersionSelector
from shieldwall.taxii.tables import taxii_cursors, taxii_status

_OBJECTS = stix_objects.c

Columns = tuple[KeyedColumnElement[Any], ...]
#: A row of a page (its columns depend on the kind of page).
PageRow = Row[*tuple[Any, ...]]
#: What each kind of page reads: object pages need only the stored JSON (the
#: dates of their first and last rows come from `added_at_of`).
OBJECT_COLUMNS: Columns = (_OBJECTS.pk, _OBJECTS.data)
MANIFEST_COLUMNS: Columns = (
    _OBJECTS.pk,
    _OBJECTS.stix_id,
    _OBJECTS.added_at,
    _OBJECTS.data,
)


def snapshot_upper(conn: Connection) -> int:
    """The largest committed object key: the end of a paging snapshot."""
    return int(conn.execute(select(func.coalesce(func.max(_OBJECTS.pk), 0))).scalar_one())


def collection_clause(dist: DistKind, group_id: int | None) -> ColumnElement[bool]:
    """Objects shared with the distribution a collection stands for."""
    if dist is DistKind.GROUP:
        return and_(_OBJECTS.dist == int(dist), _OBJECTS.group_id == group_id)
    return _OBJECTS.dist == int(dist)


PolicyOn = Callable[[FromClause], ColumnElement[bool]]


def _version_clause(
    versions: VersionMatch, upper_pk: int, policy_on: PolicyOn
) -> ColumnElement[bool]:
    """`match[version]` judged within the snapshot: a version committed after the
    first page neither hides the version it supersedes nor shows up itself.
    Only versions the caller may see count as older or newer ones."""
    if VersionSelector.ALL in versions.selectors:
        return true()
    other = stix_objects.alias("other")
    same_object = and_(
        other.c.owner_org_id == _OBJECTS.owner_org_id,
        other.c.stix_id == _OBJECTS.stix_id,
        other.c.pk <= upper_pk,
        policy_on(other),
    )
    clauses: list[ColumnElement[bool]] = []
    if VersionSelector.LAST in versions.selectors:
        # is_latest settles most rows without the look-up: nothing newer exists at all.
        newer = exists().where(same_object, other.c.version_key > _OBJECTS.version_key)
        clauses.append(or_(_OBJECTS.is_latest == true(), ~newer))
    if VersionSelector.FIRST in versions.selectors:
        older = exists().where(same_object, other.c.version_key < _OBJECTS.version_key)
        clauses.append(~older)
    if versions.keys:
        clauses.append(_OBJECTS.version_key.in_(versions.keys))
    return or_(*clauses)


def page(
    conn: Connection,
    columns: Columns,
    policy: ColumnElement[bool],
    policy_on: PolicyOn,
    scope: ColumnElement[bool],
    query: ObjectQuery,
    *,
    after_pk: int,
    upper_pk: int,
    limit: int,
) -> Sequence[PageRow]:
    """One page of rows in commit (date added) order, `limit` at most."""
    statement = (
        select(*columns)
        .where(_OBJECTS.pk > after_pk, _OBJECTS.pk <= upper_pk, policy, scope)
        .where(_version_clause(query.versions, upper_pk, policy_on))
        .order_by(_OBJECTS.pk)
        .limit(limit)
    )
    if query.added_after is not None:
        statement = statement.where(_OBJECTS.added_at > query.added_after)
    if query.ids:
        statement = statement.where(_OBJECTS.stix_id.in_(query.ids))
    if query.types:
        statement = statement.where(_OBJECTS.type.in_(query.types))
    return conn.execute(statement).all()


def added_at_of(conn: Connection, pks: Sequence[int]) -> dict[int, datetime]:
    query = select(_OBJECTS.pk, _OBJECTS.added_at).where(_OBJECTS.pk.in_(pks))
    return {int(row.pk): row.added_at for row in conn.execute(query)}


def matching_versions(
    conn: Connection,
    policy: ColumnElement[bool],
    policy_on: PolicyOn,
    scope: ColumnElement[bool],
    stix_id: str,
    versions: VersionMatch,
) -> list[RowMapping]:
    """The visible versions of one object in a collection that `versions` selects."""
    upper = snapshot_upper(conn)
    statement = select(_OBJECTS.pk, _OBJECTS.owner_org_id).where(
        _OBJECTS.stix_id == stix_id, policy, scope, _version_clause(versions, upper, policy_on)
    )
    return list(conn.execute(statement).mappings())


def delete_versions(conn: Connection, pks: Sequence[int]) -> None:
    """Deletes object rows; their observables go with them (ON DELETE CASCADE)."""
    conn.execute(delete(stix_objects).where(_OBJECTS.pk.in_(pks)))


def restore_latest(conn: Connection, owner_org_id: int, stix_id: str) -> None:
    """After a delete, the newest remaining version of the object is the latest again."""
    same = and_(_OBJECTS.owner_org_id == owner_org_id, _OBJECTS.stix_id == stix_id)
    newest = conn.execute(select(func.max(_OBJECTS.version_key)).where(same)).scalar_one()
    if newest is not None:
        conn.execute(
            update(stix_objects).where(same).values(is_latest=_OBJECTS.version_key == newest)
        )


# --------------------------------------------------------------------------- status


def insert_status(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(taxii_status).values(**values))


def update_status(conn: Connection, status_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(taxii_status).where(taxii_status.c.id == status_id).values(**values))


def status_of(conn: Connection, status_id: str, org_id: int) -> RowMapping | None:
    query = select(taxii_status).where(
        taxii_status.c.id == status_id, taxii_status.c.org_id == org_id
    )
    return conn.execute(query).mappings().first()


# --------------------------------------------------------------------------- cursors


def _cursor_key(url: str, collection_id: str, org_id: int) -> ColumnElement[bool]:
    return and_(
        taxii_cursors.c.url == url,
        taxii_cursors.c.collection_id == collection_id,
        taxii_cursors.c.org_id == org_id,
    )


def cursor_of(conn: Connection, url: str, collection_id: str, org_id: int) -> str | None:
    query = select(taxii_cursors.c.added_after).where(_cursor_key(url, collection_id, org_id))
    value = conn.execute(query).scalar_one_or_none()
    return str(value) if value is not None else None


def save_cursor(
    conn: Connection, url: str, collection_id: str, org_id: int, added_after: str, now: datetime
) -> None:
    result = conn.execute(
        update(taxii_cursors)
        .where(_cursor_key(url, collection_id, org_id))
        .values(added_after=added_after, updated_at=now)
    )
    if result.rowcount == 0:
        conn.execute(
            insert(taxii_cursors).values(
                url=url,
                collection_id=collection_id,
                org_id=org_id,
                added_after=added_after,
                updated_at=now,
            )
        )
