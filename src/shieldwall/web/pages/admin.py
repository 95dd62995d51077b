"""Administration for org-admins: users and their roles, API keys, sharing groups, feeds.

What an org-admin manages is what the API lets its org-admin key manage:
its own organisation (the host's org-admins: every organisation, and the
sharing groups). The members, sharing and feeds services decide; this module
only turns forms into their calls.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from shieldwall.db.engine import write_transaction
from shieldwall.feeds import service as feeds
from shieldwall.feeds.schemas import FeedUpdate
from shieldwall.members import service as members
from shieldwall.members.model import Role
from shieldwall.sharing import service as sharing
from shieldwall.sharing.policy import Action, require
from shieldwall.web import sessions
from shieldwall.web.pages.deps import ReadConn
from shieldwall.web.routing import CurrentUser, FormUser, PageRoute, render
from shieldwall.web.sessions import WebUser

router = APIRouter(prefix="/admin", route_class=PageRoute, include_in_schema=False)

NOTICES = {
    "user-added": "The user is added; they can log in with the password you set.",
    "password-set": "The password is changed; the user's open sessions are ended.",
    "key-revoked": "The key is revoked.",
    "group-created": "The sharing group is created.",
    "feed-updated": "The feed is updated.",
}
#: What each role may do, as the access policy grants it (shown beside the users).
ROLE_NOTES = {
    Role.ORG_ADMIN: "reads and writes intel, manages its organisation, acts in governance",
    Role.ANALYST: "reads and writes intel, reports sightings",
    Role.READER: "reads intel",
    Role.SENSOR: "reads detection content, reports sightings",
    Role.SYNC: "another node pulling and pushing for the organisation",
}


def _done(notice: str) -> Response:
    return RedirectResponse(f"/admin?notice={notice}", status_code=303)


def _managed_orgs(conn: Connection, user: WebUser) -> list[str]:
    if user.administers_node:
        return [org["name"] for org in members.list_orgs(conn) if org["tier"] != "withdrawn"]
    return [user.org]


def _admin_context(conn: Connection, user: WebUser) -> dict[str, Any]:
    require(user.principal, Action.MANAGE_OWN_ORG)
    return {
        "users": members.list_users(conn, user.principal),
        "keys": members.list_keys(conn, user.principal),
        "groups": sharing.list_groups(conn, user.principal),
        "feeds": feeds.list_feeds(conn, user.principal),
        "orgs": _managed_orgs(conn, user),
        "roles": ROLE_NOTES,
    }


@router.get("")
def admin(
    request: Request, user: CurrentUser, conn: ReadConn, notice: str | None = None
) -> Response:
    context = _admin_context(conn, user)
    context["notice"] = NOTICES.get(notice or "")
    return render(request, "admin/index.html", context)


@router.post("/users")
def add_user(
    request: Request,
    user: FormUser,
    org: Annotated[str, Form(max_length=200)],
    username: Annotated[str, Form(max_length=200)],
    role: Annotated[Role, Form()],
    password: Annotated[str, Form(max_length=1024)],
    display_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    members.require_manage(user.principal, org)
    with write_transaction(request.app.state.engine) as conn:
        members.create_user(conn, org, username, role, display_name or None)
        sessions.set_password(conn, username, password, by=user.principal)
    return _done("user-added")


@router.post("/users/{username}/password")
def set_password(
    request: Request,
    username: str,
    user: FormUser,
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    with write_transaction(request.app.state.engine) as conn:
        sessions.set_password(conn, username, password, by=user.principal)
    return _done("password-set")


@router.post("/keys")
def create_key(
    request: Request,
    user: FormUser,
    org: Annotated[str, Form(max_length=200)],
    role: Annotated[Role, Form()],
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    members.require_manage(user.principal, org)
    with write_transaction(request.app.state.engine) as conn:
        key = members.create_key(conn, org, role, label or None)
    # Rendered, not redirected: the secret exists only in this answer.
    return render(request, "admin/key_created.html", {"key": key})


@router.post("/keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: int, user: FormUser) -> Response:
    with write_transaction(request.app.state.engine) as conn:
        members.revoke_key(conn, user.principal, key_id)
    return _done("key-revoked")


@router.post("/groups")
def create_group(
    request: Request,
    user: FormUser,
    name: Annotated[str, Form(max_length=200)],
    members_text: Annotated[str, Form(alias="members", max_length=10_000)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    require(user.principal, Action.ADMINISTER_NODE)
    names = [part.strip() for part in members_text.split(",") if part.strip()]
    with write_transaction(request.app.state.engine) as conn:
        sharing.create_group(conn, name, names, description or None)
    return _done("group-created")


@router.post("/feeds/{name}")
def update_feed(
    request: Request,
    name: str,
    user: FormUser,
    enabled: Annotated[bool, Form()],
    org: Annotated[str | None, Form()] = None,
) -> Response:
    # Feed names are unique per organisation: the host's admins name the owner.
    with write_transaction(request.app.state.engine) as conn:
        feeds.update_feed(conn, user.principal, name, FeedUpdate(enabled=enabled), org=org)
    return _done("feed-updated")
