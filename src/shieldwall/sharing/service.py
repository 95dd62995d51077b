"""Rules of sharing groups, and resolving a distribution named by a caller."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from shieldwall.db.base import utcnow
from shieldwall.errors import BadInput, Conflict, NotFound
from shieldwall.members import service as members
from shieldwall.sharing import repository
from shieldwall.sharing.policy import Action, Principal, may
from shieldwall.sharing.tlp import DistKind, Distribution, parse_distribution_text


def _view(conn: Connection, row: Any) -> dict[str, Any]:
    return {
        "name": row["name"],
        "description": row["description"],
        "members": repository.member_names(conn, row["id"]),
        "created_at": row["created_at"].isoformat(),
    }


def create_group(
    conn: Connection, name: str, member_names: list[str], description: str | None = None
) -> dict[str, Any]:
    clean = name.strip()
    if not clean or ":" in clean or len(clean) > 200:
        raise BadInput(f"group name {name!r} must be 1-200 characters without ':'", where="name")
    if repository.group_by_name(conn, clean) is not None:
        raise Conflict(f"sharing group {clean!r} already exists", where="name")
    orgs = [members.org_named(conn, member) for member in dict.fromkeys(member_names)]
    now = utcnow()
    group_id = repository.insert_group(conn, clean, description, now)
    for org in orgs:
        repository.add_member(conn, group_id, org["id"], now)
    row = repository.group_by_name(conn, clean)
    return _view(conn, row)


def add_member(conn: Connection, group_name: str, org_name: str) -> dict[str, Any]:
    group = repository.group_by_name(conn, group_name)
    if group is None:
        raise NotFound(f"sharing group {group_name!r} does not exist", where="group")
    org = members.org_named(conn, org_name)
    if repository.is_member(conn, group["id"], org["id"]):
        raise Conflict(f"{org_name!r} is already a member of {group_name!r}")
    repository.add_member(conn, group["id"], org["id"], utcnow())
    return _view(conn, group)


def remove_member(conn: Connection, group_name: str, org_name: str) -> dict[str, Any]:
    """Takes an organisation out of a group.

    Nothing else needs updating: every principal reads its group ids from
    `group_members` when it is built (per request, per session page), so the
    group's intel stops reaching the organisation with the next request.
    """
    group = repository.group_by_name(conn, group_name)
    if group is None:
        raise NotFound(f"sharing group {group_name!r} does not exist", where="group")
    org = members.org_named(conn, org_name)
    if not repository.is_member(conn, group["id"], org["id"]):
        raise NotFound(f"{org_name!r} is not a member of {group_name!r}", where="org")
    repository.remove_member(conn, group["id"], org["id"])
    return _view(conn, group)


def list_groups(conn: Connection, principal: Principal | None) -> list[dict[str, Any]]:
    """Host administrators (and the CLI, principal None) see every group; others their own."""
    everything = principal is None or may(principal, Action.ADMINISTER_NODE)
    org_id = None if everything or principal is None else principal.org_id
    return [_view(conn, row) for row in repository.list_groups(conn, org_id)]


def resolve_distribution(conn: Connection, text: str, principal: Principal) -> Distribution:
    """Turns `org|members|public|group:NAME` into a Distribution the caller may use.

    Sharing into a group requires belonging to it; an unknown group and a group
    the caller is not in give the same answer.
    """
    kind, group_name = parse_distribution_text(text)
    if kind is not DistKind.GROUP:
        return Distribution(kind)
    assert group_name is not None
    group = repository.group_by_name(conn, group_name)
    if group is None or group["id"] not in principal.effective_groups:
        raise BadInput(
            f"no sharing group {group_name!r} that {principal.org_name} belongs to",
            where="distribution",
        )
    return Distribution(kind, group["id"], group_name)
