"""SQL of sharing groups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, delete, insert, select

from shieldwall.members.tables import organisations
from shieldwall.sharing.tables import group_members, sharing_groups


def group_by_name(conn: Connection, name: str) -> RowMapping | None:
    return (
        conn.execute(select(sharing_groups).where(sharing_groups.c.name == name)).mappings().first()
    )


def insert_group(conn: Connection, name: str, description: str | None, created_at: datetime) -> int:
    result = conn.execute(
        insert(sharing_groups).values(name=name, description=description, created_at=created_at)
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def add_member(conn: Connection, group_id: int, org_id: int, added_at: datetime) -> None:
    conn.execute(insert(group_members).values(group_id=group_id, org_id=org_id, added_at=added_at))


def remove_member(conn: Connection, group_id: int, org_id: int) -> None:
    conn.execute(
        delete(group_members).where(
            group_members.c.group_id == group_id, group_members.c.org_id == org_id
        )
    )


def is_member(conn: Connection, group_id: int, org_id: int) -> bool:
    query = select(group_members.c.org_id).where(
        group_members.c.group_id == group_id, group_members.c.org_id == org_id
    )
    return conn.execute(query).first() is not None


def list_groups(conn: Connection, org_id: int | None) -> list[RowMapping]:
    query = select(sharing_groups).order_by(sharing_groups.c.name)
    if org_id is not None:
        query = query.where(
            sharing_groups.c.id.in_(
                select(group_members.c.group_id).where(group_members.c.org_id == org_id)
            )
        )
    return list(conn.execute(query).mappings())


def member_names(conn: Connection, group_id: int) -> list[str]:
    query = (
        select(organisations.c.name)
        .join(group_members, group_members.c.org_id == organisations.c.id)
        .where(group_members.c.group_id == group_id)
        .order_by(organisations.c.name)
    )
    return list(conn.execute(query).scalars())
