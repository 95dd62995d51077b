"""REST endpoints of organisations, users and API keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from shieldwall.deps import CurrentPrincipal, ReadConn, WriteConn
from shieldwall.members import service
from shieldwall.members.schemas import KeyCreate, OrgCreate, UserCreate, UserUpdate
from shieldwall.sharing.policy import Action, require

router = APIRouter(prefix="/api/v1", tags=["members"])


@router.get("/me", summary="Who the presented key belongs to")
def whoami(principal: CurrentPrincipal) -> dict[str, Any]:
    return {
        "org": principal.org_name,
        "tier": principal.tier,
        "role": principal.role,
    }


@router.get("/orgs", summary="The organisations of the coalition")
def list_orgs(principal: CurrentPrincipal, conn: ReadConn) -> list[dict[str, Any]]:
    return service.list_orgs(conn)


@router.get("/orgs/{name}", summary="One organisation")
def get_org(name: str, principal: CurrentPrincipal, conn: ReadConn) -> dict[str, Any]:
    return service.org_view(service.org_named(conn, name))


@router.post("/orgs", status_code=status.HTTP_201_CREATED, summary="Add an organisation")
def create_org(body: OrgCreate, principal: CurrentPrincipal, conn: WriteConn) -> dict[str, Any]:
    require(principal, Action.ADMINISTER_NODE)
    return service.create_org(conn, body.name, body.tier, body.country)


@router.post("/keys", status_code=status.HTTP_201_CREATED, summary="Create an API key (shown once)")
def create_key(body: KeyCreate, principal: CurrentPrincipal, conn: WriteConn) -> dict[str, Any]:
    service.require_manage(principal, body.org)
    key = service.create_key(conn, body.org, body.role, body.label)
    return {"id": key.id, "org": key.org, "role": key.role, "key": key.secret}


@router.get("/keys", summary="API keys the caller may manage (never the secrets)")
def list_keys(principal: CurrentPrincipal, conn: ReadConn) -> list[dict[str, Any]]:
    return service.list_keys(conn, principal)


@router.delete("/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a key")
def revoke_key(key_id: int, principal: CurrentPrincipal, conn: WriteConn) -> None:
    service.revoke_key(conn, principal, key_id)


@router.post("/users", status_code=status.HTTP_201_CREATED, summary="Add a user")
def create_user(body: UserCreate, principal: CurrentPrincipal, conn: WriteConn) -> dict[str, Any]:
    service.require_manage(principal, body.org)
    return service.create_user(conn, body.org, body.username, body.role, body.display_name)


@router.get("/users", summary="Users the caller may manage")
def list_users(principal: CurrentPrincipal, conn: ReadConn) -> list[dict[str, Any]]:
    return service.list_users(conn, principal)


@router.patch("/users/{username}", summary="Change a user's role, or disable or enable the user")
def update_user(
    username: str, body: UserUpdate, principal: CurrentPrincipal, conn: WriteConn
) -> dict[str, Any]:
    return service.update_user(conn, username, role=body.role, disabled=body.disabled, by=principal)
