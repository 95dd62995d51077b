"""Creating a node's host organisation, and acting as an organisation locally."""

from __future__ import annotations

from sqlalchemy import Connection

from shieldwall.errors import Conflict
from shieldwall.members import repository, service
from shieldwall.members.model import Role, Tier
from shieldwall.sharing.policy import Principal


def host_org(conn: Connection) -> str | None:
    for org in repository.list_orgs(conn):
        if org["tier"] == Tier.HOST:
            return str(org["name"])
    return None


def init_node(conn: Connection, host_name: str, country: str | None) -> service.NewKey:
    """Creates the host organisation and its first org-admin key (shown once)."""
    existing = host_org(conn)
    if existing is not None:
        raise Conflict(f"this node is already initialised (host organisation {existing!r})")
    service.create_org(conn, host_name, Tier.HOST, country)
    return service.create_key(conn, host_name, Role.ORG_ADMIN, label="created by init")


def principal_for(conn: Connection, org_name: str, role: Role) -> Principal:
    """The principal of a local operator acting as `org_name` (CLI `--as`, `--org`)."""
    org = service.org_named(conn, org_name)
    tier = Tier(org["tier"])
    return Principal(
        org_id=org["id"],
        org_name=org["name"],
        tier=tier,
        role=role,
        group_ids=repository.group_ids_of(conn, org["id"]),
    )
