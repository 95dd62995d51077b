"""SQL of organisations, users and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, func, insert, select, update

from shieldwall.members.tables import api_keys, organisations, users
from shieldwall.sharing.tables import group_members


def org_by_name(conn: Connection, name: str) -> RowMapping | None:
    return (
        conn.execute(select(organisations).where(organisations.c.name == name)).mappings().first()
    )


def org_by_id(conn: Connection, org_id: int) -> RowMapping | None:
    return (
        conn.execute(select(organisations).where(organisations.c.id == org_id)).mappings().first()
    )


def list_orgs(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(organisations).order_by(organisations.c.name)).mappings())


def insert_org(
    conn: Connection,
    *,
    name: str,
    tier: str,
    country: str | None,
    created_at: datetime,
    accession_at: datetime | None,
) -> int:
    result = conn.execute(
        insert(organisations).values(
            name=name, tier=tier, country=country, created_at=created_at, accession_at=accession_at
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def set_tier(conn: Connection, org_id: int, tier: str, accession_at: datetime | None) -> None:
    values: dict[str, object] = {"tier": tier}
    if accession_at is not None:
        values["accession_at"] = accession_at
    conn.execute(update(organisations).where(organisations.c.id == org_id).values(**values))


def insert_key(
    conn: Connection,
    *,
    org_id: int,
    role: str,
    key_hash: str,
    prefix: str,
    label: str | None,
    created_at: datetime,
    user_id: int | None = None,
) -> int:
    result = conn.execute(
        insert(api_keys).values(
            org_id=org_id,
            user_id=user_id,
            role=role,
            key_hash=key_hash,
            prefix=prefix,
            label=label,
            created_at=created_at,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def key_with_org(conn: Connection, key_hash: str) -> RowMapping | None:
    query = (
        select(
            api_keys.c.id.label("key_id"),
            api_keys.c.role,
            api_keys.c.revoked_at,
            organisations.c.id.label("org_id"),
            organisations.c.name.label("org_name"),
            organisations.c.tier,
            # NULL both for a key of no user and for a key of an active user.
            users.c.disabled_at.label("user_disabled_at"),
        )
        .join(organisations, organisations.c.id == api_keys.c.org_id)
        .outerjoin(users, users.c.id == api_keys.c.user_id)
        .where(api_keys.c.key_hash == key_hash)
    )
    return conn.execute(query).mappings().first()


def group_ids_of(conn: Connection, org_id: int) -> frozenset[int]:
    query = select(group_members.c.group_id).where(group_members.c.org_id == org_id)
    return frozenset(conn.execute(query).scalars())


def list_keys(conn: Connection, org_id: int | None) -> list[RowMapping]:
    query = (
        select(
            api_keys.c.id,
            api_keys.c.prefix,
            api_keys.c.role,
            api_keys.c.label,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
            organisations.c.name.label("org"),
        )
        .join(organisations, organisations.c.id == api_keys.c.org_id)
        .order_by(api_keys.c.id)
    )
    if org_id is not None:
        query = query.where(api_keys.c.org_id == org_id)
    return list(conn.execute(query).mappings())


def key_by_id(conn: Connection, key_id: int) -> RowMapping | None:
    return conn.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings().first()


def revoke_key(conn: Connection, key_id: int, when: datetime) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=when))


def insert_user(
    conn: Connection,
    *,
    org_id: int,
    username: str,
    display_name: str | None,
    role: str,
    created_at: datetime,
) -> int:
    result = conn.execute(
        insert(users).values(
            org_id=org_id,
            username=username,
            display_name=display_name,
            role=role,
            created_at=created_at,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def user_by_name(conn: Connection, username: str) -> RowMapping | None:
    return conn.execute(select(users).where(users.c.username == username)).mappings().first()


def _user_select() -> Select[Any]:
    query: Select[Any] = select(
        users.c.id,
        users.c.username,
        users.c.display_name,
        users.c.role,
        users.c.created_at,
        users.c.disabled_at,
        organisations.c.name.label("org"),
    ).join(organisations, organisations.c.id == users.c.org_id)
    return query


def user_with_org(conn: Connection, username: str) -> RowMapping | None:
    query = _user_select().where(users.c.username == username)
    return conn.execute(query).mappings().first()


def list_users(conn: Connection, org_id: int | None) -> list[RowMapping]:
    query = _user_select().order_by(users.c.username)
    if org_id is not None:
        query = query.where(users.c.org_id == org_id)
    return list(conn.execute(query).mappings())


def set_user_role(conn: Connection, user_id: int, role: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(role=role))


def set_user_disabled_at(conn: Connection, user_id: int, when: datetime | None) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(disabled_at=when))


def count_active_users(conn: Connection, org_name: str, role: str) -> int:
    """Users of the organisation with this role who are not disabled."""
    query = (
        select(func.count())
        .select_from(users.join(organisations, organisations.c.id == users.c.org_id))
        .where(
            organisations.c.name == org_name,
            users.c.role == role,
            users.c.disabled_at.is_(None),
        )
    )
    return int(conn.execute(query).scalar_one())
