"""Rules of configured feeds: who may configure which, and what a feed looks like.

A feed imports into one organisation's holdings, so configuring it is
managing that organisation: its own org-admins, or the host's. Others are
told a feed does not exist. Names are unique per organisation, so a feed is
named by (organisation, name). The remote credential is write-only.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, RowMapping

from shieldwall.db.base import utcnow
from shieldwall.errors import BadInput, Conflict, Forbidden, NotFound
from shieldwall.feeds import repository
from shieldwall.feeds.schemas import FeedCreate, FeedKind, FeedUpdate
from shieldwall.members import bootstrap
from shieldwall.members import service as members
from shieldwall.members.model import Role
from shieldwall.sharing import service as sharing
from shieldwall.sharing.policy import Action, Principal, may, require
from shieldwall.sharing.tlp import TLP

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def feed_view(row: RowMapping) -> dict[str, Any]:
    def when(column: str) -> str | None:
        value = row[column]
        return value.isoformat() if value is not None else None

    return {
        "name": row["name"],
        "kind": row["kind"],
        "url": row["url"],
        "collection": row["collection_id"],
        "org": row["org"],
        "tlp": row["tlp"],
        "distribution": row["distribution"],
        "username": row["username"],
        "has_secret": row["secret"] is not None,
        "interval_seconds": row["interval_seconds"],
        "enabled": bool(row["enabled"]),
        "created_at": when("created_at"),
        "next_run_at": when("next_run_at"),
        "last_run_at": when("last_run_at"),
        "last_status": row["last_status"],
        "last_error": row["last_error"],
        "last_counts": orjson.loads(row["last_counts"]) if row["last_counts"] else None,
    }


def _check(conn: Connection, body: FeedCreate) -> None:
    if not _NAME_RE.fullmatch(body.name):
        raise BadInput(
            f"feed name {body.name!r} must be 1-200 letters, digits or . _ -", where="name"
        )
    if urlsplit(body.url).scheme not in ("http", "https"):
        raise BadInput("a feed URL must be http:// or https://", where="url")
    if body.kind is FeedKind.TAXII and not body.collection:
        raise BadInput("a TAXII feed needs the collection id", where="collection")
    if body.kind is FeedKind.MISP and body.collection:
        raise BadInput("a MISP feed has no collection", where="collection")
    TLP.parse(body.tlp)
    # The organisation must be able to share into the distribution it names.
    owner = bootstrap.principal_for(conn, body.org, Role.ANALYST)
    sharing.resolve_distribution(conn, body.distribution, owner)


def create_feed(conn: Connection, principal: Principal, body: FeedCreate) -> dict[str, Any]:
    members.require_manage(principal, body.org)
    return create_feed_as_operator(conn, body)


def create_feed_as_operator(conn: Connection, body: FeedCreate) -> dict[str, Any]:
    """Creates a feed without a caller to check: the node's operator (CLI)."""
    _check(conn, body)
    if repository.feed_of(conn, body.org, body.name) is not None:
        # Only the organisation's own feeds collide, and whoever got here manages it.
        raise Conflict(f"{body.org} already has a feed named {body.name!r}", where="name")
    now = utcnow()
    repository.insert_feed(
        conn,
        {
            "name": body.name,
            "kind": body.kind.value,
            "url": body.url,
            "collection_id": body.collection,
            "org_id": members.org_named(conn, body.org)["id"],
            "tlp": body.tlp,
            "distribution": body.distribution,
            "username": body.username,
            "secret": body.secret,
            "interval_seconds": body.interval_seconds,
            "enabled": body.enabled,
            "created_at": now,
            "next_run_at": now,
        },
    )
    return feed_view(_found(repository.feed_of(conn, body.org, body.name), body.name))


def _found(row: RowMapping | None, name: str) -> RowMapping:
    if row is None:
        raise NotFound(f"no feed {name!r}", where="name")
    return row


def manageable_feed(
    conn: Connection, principal: Principal | None, name: str, org: str | None = None
) -> RowMapping:
    """The feed `name` of organisation `org`, if the caller manages it.

    Feed names are unique per organisation. An API caller names feeds within
    `org`, by default its own organisation; a feed it may not manage answers
    as absent. The local operator (principal None, CLI) sees every
    organisation's feeds, so `org` is needed only when the name is ambiguous.
    """
    if principal is None:
        return _operator_feed(conn, name, org)
    owner = org if org is not None else principal.org_name
    if owner is None:
        raise NotFound(f"no feed {name!r}", where="name")
    try:
        members.require_manage(principal, owner)
    except Forbidden:
        raise NotFound(f"no feed {name!r}", where="name") from None
    return _found(repository.feed_of(conn, owner, name), name)


def _operator_feed(conn: Connection, name: str, org: str | None) -> RowMapping:
    if org is not None:
        return _found(repository.feed_of(conn, org, name), name)
    rows = repository.feeds_named(conn, name)
    if len(rows) > 1:
        owners = ", ".join(repr(row["org"]) for row in rows)
        raise BadInput(
            f"organisations {owners} each have a feed named {name!r}: name one with --org",
            where="org",
        )
    return _found(rows[0] if rows else None, name)


def list_feeds(conn: Connection, principal: Principal | None) -> list[dict[str, Any]]:
    if principal is None or may(principal, Action.ADMINISTER_NODE):
        return [feed_view(row) for row in repository.list_feeds(conn, None)]
    require(principal, Action.MANAGE_OWN_ORG)
    return [feed_view(row) for row in repository.list_feeds(conn, principal.org_id)]


def update_feed(
    conn: Connection,
    principal: Principal | None,
    name: str,
    body: FeedUpdate,
    org: str | None = None,
) -> dict[str, Any]:
    row = manageable_feed(conn, principal, name, org)
    values: dict[str, Any] = {}
    if body.enabled is not None:
        values["enabled"] = body.enabled
        if body.enabled and not row["enabled"]:
            values["next_run_at"] = utcnow()
    if body.interval_seconds is not None:
        values["interval_seconds"] = body.interval_seconds
    if values:
        repository.update_feed(conn, row["id"], values)
    return feed_view(_found(repository.feed_by_id(conn, row["id"]), name))


def delete_feed(
    conn: Connection, principal: Principal | None, name: str, org: str | None = None
) -> None:
    repository.delete_feed(conn, manageable_feed(conn, principal, name, org)["id"])
