"""SQL of correlation: keys written at ingest, related objects read through the policy."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, delete, func, select, true

from shieldwall.correlate.tables import correlation_keys, sighting_refs
from shieldwall.intel.tables import observables, stix_objects
from shieldwall.members.tables import organisations

#: Observable kinds that carry a correlation key (see `correlate.keys`).
KEYED_KINDS = ("ipv4", "ipv6", "domain", "url")


def insert_keys(conn: Connection, rows: Sequence[tuple[str, int]]) -> None:
    """(key, object_pk) pairs, straight through the driver: COPY on PostgreSQL.

    Ingest calls this once per batch; SQLAlchemy's executemany would cost more
    building parameters than the store takes to write the rows.
    """
    if not rows:
        return
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy("COPY correlation_keys (key, object_pk) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany("INSERT INTO correlation_keys (key, object_pk) VALUES (?, ?)", rows)
    finally:
        cursor.close()


def clear_detection_indexes(conn: Connection) -> None:
    conn.execute(delete(correlation_keys))
    conn.execute(delete(sighting_refs))


def count_keyed_observables(conn: Connection) -> int:
    query = select(func.count()).select_from(observables).where(observables.c.kind.in_(KEYED_KINDS))
    return int(conn.execute(query).scalar_one())


def keyed_observables(conn: Connection) -> Iterator[tuple[int, str, str]]:
    """(object_pk, kind, value) of every observable that carries a key, streamed."""
    query = select(observables.c.object_pk, observables.c.kind, observables.c.value).where(
        observables.c.kind.in_(KEYED_KINDS)
    )
    for pk, kind, value in conn.execution_options(yield_per=20_000).execute(query):
        yield int(pk), str(kind), str(value)


def sighting_rows(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every stored sighting version, as ingest rows (for rebuilding `sighting_refs`)."""
    query = select(
        stix_objects.c.pk, stix_objects.c.type, stix_objects.c.version_key, stix_objects.c.data
    ).where(stix_objects.c.type == "sighting")
    for row in conn.execution_options(yield_per=5_000).execute(query).mappings():
        yield dict(row)


# --------------------------------------------------------------------------- reading


def newest_visible_pk(conn: Connection, policy: ColumnElement[bool], stix_id: str) -> int | None:
    """The newest version of an object the policy lets through (as `GET /objects/{id}`)."""
    query = (
        select(stix_objects.c.pk)
        .where(stix_objects.c.stix_id == stix_id, policy)
        .order_by(stix_objects.c.version_key.desc(), stix_objects.c.pk.desc())
        .limit(1)
    )
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else int(found)


def observables_of(conn: Connection, pk: int) -> list[tuple[str, str]]:
    query = (
        select(observables.c.kind, observables.c.value)
        .where(observables.c.object_pk == pk)
        .order_by(observables.c.kind, observables.c.value)
    )
    return [(str(kind), str(value)) for kind, value in conn.execute(query)]


def holders_of_values(kind: str, values: Sequence[str]) -> Select[Any]:
    """Objects holding any of `values` as an observable of `kind` (a subquery)."""
    return select(observables.c.object_pk).where(
        observables.c.kind == kind, observables.c.value.in_(list(values))
    )


def holders_of_keys(first: str, last: str, *, inclusive: bool) -> Select[Any]:
    """Objects with a correlation key in [first, last] (or (first, last) when not inclusive)."""
    if inclusive:
        where = (correlation_keys.c.key >= first, correlation_keys.c.key <= last)
    else:
        where = (correlation_keys.c.key > first, correlation_keys.c.key < last)
    return select(correlation_keys.c.object_pk).where(*where)


def visible_objects(
    conn: Connection,
    policy: ColumnElement[bool],
    holders: Select[Any],
    *,
    exclude_stix_id: str | None,
    limit: int,
) -> list[RowMapping]:
    """The latest visible versions among `holders`, at most `limit`, oldest first."""
    query = (
        select(
            stix_objects.c.stix_id,
            stix_objects.c.type,
            stix_objects.c.tlp,
            stix_objects.c.data,
            organisations.c.name.label("owner"),
        )
        .select_from(stix_objects)
        .join(organisations, organisations.c.id == stix_objects.c.owner_org_id)
        .where(stix_objects.c.pk.in_(holders), stix_objects.c.is_latest == true(), policy)
        .order_by(stix_objects.c.pk)
        .limit(limit)
    )
    if exclude_stix_id is not None:
        query = query.where(stix_objects.c.stix_id != exclude_stix_id)
    return list(conn.execute(query).mappings())
