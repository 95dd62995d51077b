"""Rules of membership: organisations, users, API keys and authentication."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from shieldwall.db.base import utcnow
from shieldwall.errors import BadInput, Conflict, Forbidden, NotFound, Unauthorized
from shieldwall.members import repository
from shieldwall.members.model import Role, Tier
from shieldwall.sharing.policy import Action, Principal, may, require
from shieldwall.web import repository as web_repository

KEY_PREFIX = "sw_"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._&()'-]{0,199}")
_COUNTRY_RE = re.compile(r"[A-Z]{2}")


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_name(name: str, field: str) -> str:
    cleaned = name.strip()
    if not _NAME_RE.fullmatch(cleaned):
        raise BadInput(
            f"{field} {name!r} must be 1-200 letters, digits, spaces or . _ & ( ) ' -",
            where=field,
        )
    return cleaned


def _check_country(country: str | None) -> str | None:
    if country is None:
        return None
    code = country.strip().upper()
    if not _COUNTRY_RE.fullmatch(code):
        raise BadInput(f"country {country!r} must be an ISO 3166 two-letter code", where="country")
    return code


def create_org(conn: Connection, name: str, tier: Tier, country: str | None) -> dict[str, Any]:
    clean_name = _check_name(name, "name")
    if repository.org_by_name(conn, clean_name) is not None:
        raise Conflict(f"organisation {clean_name!r} already exists", where="name")
    if tier is Tier.HOST and any(org["tier"] == Tier.HOST for org in repository.list_orgs(conn)):
        raise Conflict("this node already has a host organisation", where="tier")
    now = utcnow()
    member = tier in (Tier.HOST, Tier.SPONSORING, Tier.CONTRIBUTING)
    org_id = repository.insert_org(
        conn,
        name=clean_name,
        tier=tier.value,
        country=_check_country(country),
        created_at=now,
        accession_at=now if member else None,
    )
    return org_view(_org_or_missing(conn, org_id))


def org_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "tier": row["tier"],
        "country": row["country"],
        "created_at": row["created_at"].isoformat(),
        "accession_at": row["accession_at"].isoformat() if row["accession_at"] else None,
    }


def _org_or_missing(conn: Connection, org_id: int) -> Any:
    row = repository.org_by_id(conn, org_id)
    if row is None:
        raise NotFound(f"organisation {org_id} does not exist")
    return row


def org_named(conn: Connection, name: str) -> Any:
    row = repository.org_by_name(conn, name)
    if row is None:
        raise NotFound(f"organisation {name!r} does not exist", where="org")
    return row


def list_orgs(conn: Connection) -> list[dict[str, Any]]:
    return [org_view(row) for row in repository.list_orgs(conn)]


@dataclass(frozen=True, slots=True)
class NewKey:
    id: int
    secret: str
    org: str
    role: Role


def create_key(conn: Connection, org_name: str, role: Role, label: str | None = None) -> NewKey:
    """Creates an API key; the secret exists only in the returned value."""
    org = org_named(conn, org_name)
    if org["tier"] == Tier.WITHDRAWN:
        raise Conflict(f"organisation {org_name!r} has withdrawn; it cannot get keys", where="org")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = repository.insert_key(
        conn,
        org_id=org["id"],
        role=role.value,
        key_hash=hash_key(secret),
        prefix=secret[:10],
        label=label,
        created_at=utcnow(),
    )
    return NewKey(key_id, secret, org["name"], role)


def authenticate(conn: Connection, secret: str) -> Principal:
    row = repository.key_with_org(conn, hash_key(secret))
    # A key of a disabled user is refused exactly like an unknown one.
    if row is None or row["revoked_at"] is not None or row["user_disabled_at"] is not None:
        raise Unauthorized("the API key is not valid")
    tier = Tier(row["tier"])
    if tier is Tier.WITHDRAWN:
        raise Unauthorized("the API key belongs to an organisation that has withdrawn")
    return Principal(
        org_id=row["org_id"],
        org_name=row["org_name"],
        tier=tier,
        role=Role(row["role"]),
        group_ids=repository.group_ids_of(conn, row["org_id"]),
    )


def key_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "org": row["org"],
        "role": row["role"],
        "prefix": row["prefix"],
        "label": row["label"],
        "created_at": row["created_at"].isoformat(),
        "revoked_at": row["revoked_at"].isoformat() if row["revoked_at"] else None,
    }


def require_manage(principal: Principal, org_name: str) -> None:
    """Host org-admins manage every organisation; other org-admins their own."""
    if may(principal, Action.ADMINISTER_NODE):
        return
    if principal.org_name == org_name and may(principal, Action.MANAGE_OWN_ORG):
        return
    raise Forbidden(f"{principal.org_name} may not manage organisation {org_name!r}")


def list_keys(conn: Connection, principal: Principal) -> list[dict[str, Any]]:
    if may(principal, Action.ADMINISTER_NODE):
        return [key_view(row) for row in repository.list_keys(conn, None)]
    require(principal, Action.MANAGE_OWN_ORG)
    return [key_view(row) for row in repository.list_keys(conn, principal.org_id)]


def revoke_key(conn: Connection, principal: Principal, key_id: int) -> None:
    row = repository.key_by_id(conn, key_id)
    owner = repository.org_by_id(conn, row["org_id"]) if row else None
    if row is None or owner is None:
        raise NotFound(f"key {key_id} does not exist")
    try:
        require_manage(principal, owner["name"])
    except Forbidden:
        # Another organisation's key is not something the caller may know of.
        raise NotFound(f"key {key_id} does not exist") from None
    repository.revoke_key(conn, key_id, utcnow())


def user_view(row: Any) -> dict[str, Any]:
    return {
        "username": row["username"],
        "org": row["org"],
        "role": row["role"],
        "display_name": row["display_name"],
        "created_at": row["created_at"].isoformat(),
        "disabled": row["disabled_at"] is not None,
        "disabled_at": row["disabled_at"].isoformat() if row["disabled_at"] else None,
    }


def create_user(
    conn: Connection, org_name: str, username: str, role: Role, display_name: str | None
) -> dict[str, Any]:
    org = org_named(conn, org_name)
    clean = _check_name(username, "username")
    if repository.user_by_name(conn, clean) is not None:
        raise Conflict(f"user {clean!r} already exists", where="username")
    repository.insert_user(
        conn,
        org_id=org["id"],
        username=clean,
        display_name=display_name,
        role=role.value,
        created_at=utcnow(),
    )
    return user_view(repository.user_with_org(conn, clean))


def list_users(conn: Connection, principal: Principal | None) -> list[dict[str, Any]]:
    """Host administrators (and the CLI, principal None) see every user; org-admins their own."""
    org_filter = None
    if principal is not None and not may(principal, Action.ADMINISTER_NODE):
        require(principal, Action.MANAGE_OWN_ORG)
        org_filter = principal.org_id
    return [user_view(row) for row in repository.list_users(conn, org_filter)]


def managed_user(conn: Connection, username: str, by: Principal | None) -> Any:
    """The user named, as `by` may manage it (None: the node's operator, from the CLI).

    A user of an organisation `by` does not manage is, to it, no user at all:
    the same 404 as a missing one, so that names cannot be probed.
    """
    row = repository.user_with_org(conn, username.strip())
    if row is not None and by is not None:
        try:
            require_manage(by, row["org"])
        except Forbidden:
            row = None
    if row is None:
        raise NotFound(f"user {username!r} does not exist", where="username")
    return row


def _keep_an_org_admin(
    conn: Connection, row: Any, *, role: Role | None, disabled: bool | None, by: Principal | None
) -> None:
    """Refuses a change by which an organisation's administrators lock themselves out.

    Demoting or disabling the last active org-admin user of one's own
    organisation would leave nobody there to manage its users and keys. The
    node's operator (the CLI) and the host's administrators acting on another
    organisation may still do it: that is how a compromised account is stopped.
    """
    if by is None or by.org_name != row["org"]:
        return
    if row["role"] != Role.ORG_ADMIN.value or row["disabled_at"] is not None:
        return
    demoted = role is not None and role is not Role.ORG_ADMIN
    if not (demoted or disabled is True):
        return
    if repository.count_active_users(conn, row["org"], Role.ORG_ADMIN.value) <= 1:
        raise Conflict(
            f"{row['username']!r} is the last active org-admin of {row['org']!r}; "
            "make another user org-admin first",
            where="body.role" if demoted else "body.disabled",
        )


def update_user(
    conn: Connection,
    username: str,
    *,
    role: Role | None = None,
    disabled: bool | None = None,
    by: Principal | None = None,
) -> dict[str, Any]:
    """Changes a user's role and/or disables or enables the user.

    Either change ends the user's web sessions: a session must not outlive a
    disabling, and one opened under the old role must not carry it on.
    """
    row = managed_user(conn, username, by)
    _keep_an_org_admin(conn, row, role=role, disabled=disabled, by=by)
    if role is not None and role.value != row["role"]:
        repository.set_user_role(conn, row["id"], role.value)
        web_repository.delete_sessions_of(conn, row["id"])
    if disabled is True and row["disabled_at"] is None:
        repository.set_user_disabled_at(conn, row["id"], utcnow())
        web_repository.delete_sessions_of(conn, row["id"])
    elif disabled is False and row["disabled_at"] is not None:
        repository.set_user_disabled_at(conn, row["id"], None)
    return user_view(repository.user_with_org(conn, row["username"]))
