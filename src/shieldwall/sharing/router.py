"""REST endpoints of sharing groups."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from shieldwall.deps import CurrentPrincipal, ReadConn, WriteConn
from shieldwall.sharing import service
from shieldwall.sharing.policy import Action, require

router = APIRouter(prefix="/api/v1", tags=["sharing"])


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(default_factory=list)
    description: str | None = None


class GroupMemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org: str = Field(min_length=1, max_length=200)


@router.get("/groups", summary="Sharing groups (all for host admins, else the caller's)")
def list_groups(principal: CurrentPrincipal, conn: ReadConn) -> list[dict[str, Any]]:
    return service.list_groups(conn, principal)


@router.post("/groups", status_code=status.HTTP_201_CREATED, summary="Create a sharing group")
def create_group(body: GroupCreate, principal: CurrentPrincipal, conn: WriteConn) -> dict[str, Any]:
    require(principal, Action.ADMINISTER_NODE)
    return service.create_group(conn, body.name, body.members, body.description)


@router.post("/groups/{name}/members", summary="Add an organisation to a sharing group")
def add_member(
    name: str, body: GroupMemberAdd, principal: CurrentPrincipal, conn: WriteConn
) -> dict[str, Any]:
    require(principal, Action.ADMINISTER_NODE)
    return service.add_member(conn, name, body.org)


@router.delete(
    "/groups/{name}/members/{org}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove an organisation from a sharing group",
)
def remove_member(name: str, org: str, principal: CurrentPrincipal, conn: WriteConn) -> None:
    require(principal, Action.ADMINISTER_NODE)
    service.remove_member(conn, name, org)
