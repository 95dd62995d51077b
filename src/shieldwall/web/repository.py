"""SQL of the web console: sessions, password hashes, and two intel reads the API lacks.

The intel reads take the caller's policy clause (`Reader.policy()`, the one
access policy's SQL filter) as an argument and never build one of their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    delete,
    insert,
    select,
    true,
    update,
)

from shieldwall.intel.repository import object_select
from shieldwall.intel.tables import stix_objects
from shieldwall.members.tables import organisations, users
from shieldwall.web.tables import web_sessions

#: STIX types whose objects point at others by id (what "referenced by" searches).
REFERRING_TYPES = ("relationship", "report", "grouping", "sighting", "note", "opinion")


def user_login_row(conn: Connection, username: str) -> RowMapping | None:
    query = (
        select(
            users.c.id,
            users.c.username,
            users.c.password_hash,
            users.c.disabled_at,
            organisations.c.name.label("org"),
            organisations.c.tier,
        )
        .join(organisations, organisations.c.id == users.c.org_id)
        .where(users.c.username == username)
    )
    return conn.execute(query).mappings().first()


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


def insert_session(
    conn: Connection,
    *,
    token_hash: str,
    user_id: int,
    csrf_token: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    conn.execute(
        insert(web_sessions).values(
            token_hash=token_hash,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


def session_with_user(conn: Connection, token_hash: str, now: datetime) -> RowMapping | None:
    """The live session of this token with its user and organisation, or None."""
    query = (
        select(
            web_sessions.c.csrf_token,
            web_sessions.c.expires_at,
            users.c.id.label("user_id"),
            users.c.username,
            users.c.display_name,
            users.c.role,
            organisations.c.name.label("org"),
            organisations.c.tier,
            organisations.c.country,
        )
        .join(users, users.c.id == web_sessions.c.user_id)
        .join(organisations, organisations.c.id == users.c.org_id)
        .where(
            web_sessions.c.token_hash == token_hash,
            web_sessions.c.expires_at > now,
            # Disabling ends the sessions; this keeps a disabled user out even
            # if a session row outlived that (written by an older node).
            users.c.disabled_at.is_(None),
        )
    )
    return conn.execute(query).mappings().first()


def delete_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash))


def delete_sessions_of(conn: Connection, user_id: int) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))


def delete_expired_sessions(conn: Connection, now: datetime) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))


def _latest_visible(policy: ColumnElement[bool]) -> Select[Any]:
    latest: Select[Any] = object_select().where(stix_objects.c.is_latest == true(), policy)
    return latest


def newest_visible(conn: Connection, policy: ColumnElement[bool], limit: int) -> list[RowMapping]:
    """The latest versions of the most recently stored visible objects, newest first."""
    query = _latest_visible(policy).order_by(stix_objects.c.pk.desc()).limit(limit)
    return list(conn.execute(query).mappings())


def newest_owned(
    conn: Connection, policy: ColumnElement[bool], owner_org_id: int, limit: int
) -> list[RowMapping]:
    """The latest versions of an organisation's most recently stored visible objects."""
    query = (
        _latest_visible(policy)
        .where(stix_objects.c.owner_org_id == owner_org_id)
        .order_by(stix_objects.c.pk.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def visible_referrers(
    conn: Connection, policy: ColumnElement[bool], stix_id: str, limit: int
) -> list[RowMapping]:
    """Visible relationships, reports, sightings... whose JSON names `stix_id`.

    A text search over the referring types only: the store keeps no table of
    references, so this is a scan of those objects (bounded by `limit`).
    """
    escaped = stix_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (
        _latest_visible(policy)
        .where(
            stix_objects.c.type.in_(REFERRING_TYPES),
            stix_objects.c.data.like(f'%"{escaped}"%', escape="\\"),
        )
        .order_by(stix_objects.c.pk.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
