"""SQL of configured feeds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, true, update

from shieldwall.feeds.tables import feeds
from shieldwall.members.tables import organisations

_WITH_ORG = (*feeds.c, organisations.c.name.label("org"))


def _select() -> Any:
    return select(*_WITH_ORG).join(organisations, organisations.c.id == feeds.c.org_id)


def insert_feed(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(feeds).values(**values))


def feed_by_id(conn: Connection, feed_id: int) -> RowMapping | None:
    return conn.execute(_select().where(feeds.c.id == feed_id)).mappings().first()


def feed_of(conn: Connection, org: str, name: str) -> RowMapping | None:
    """The feed `name` of the organisation named `org`: names are unique per organisation."""
    query = _select().where(organisations.c.name == org, feeds.c.name == name)
    return conn.execute(query).mappings().first()


def feeds_named(conn: Connection, name: str) -> list[RowMapping]:
    """Every organisation's feed called `name`, by organisation name."""
    query = _select().where(feeds.c.name == name).order_by(organisations.c.name)
    return list(conn.execute(query).mappings())


def list_feeds(conn: Connection, org_id: int | None) -> list[RowMapping]:
    query = _select().order_by(feeds.c.name, organisations.c.name)
    if org_id is not None:
        query = query.where(feeds.c.org_id == org_id)
    return list(conn.execute(query).mappings())


def update_feed(conn: Connection, feed_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))


def delete_feed(conn: Connection, feed_id: int) -> None:
    conn.execute(delete(feeds).where(feeds.c.id == feed_id))


def due_feeds(conn: Connection, now: datetime) -> list[RowMapping]:
    query = (
        _select()
        .where(feeds.c.enabled == true(), feeds.c.next_run_at <= now)
        .order_by(feeds.c.next_run_at, feeds.c.id)
    )
    return list(conn.execute(query).mappings())


def claim(conn: Connection, feed: RowMapping, now: datetime) -> bool:
    """Moves a due feed's next run forward; False when another process got there first."""
    result = conn.execute(
        update(feeds)
        .where(feeds.c.id == feed["id"], feeds.c.next_run_at == feed["next_run_at"])
        .values(next_run_at=now + timedelta(seconds=feed["interval_seconds"]))
    )
    return result.rowcount == 1
