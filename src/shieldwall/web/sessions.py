"""Logging in and out, and who a browser is: sessions, passwords and the principal.

A session is a random token in an HttpOnly cookie; the store keeps its
SHA-256, its CSRF token and its expiry. The principal is rebuilt from the
user's organisation on every request, so a tier change (an accession, a
suspension) reaches the browser at once, as it reaches API keys.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from shieldwall.errors import Forbidden, NotFound, Unauthorized
from shieldwall.intel.service import Reader
from shieldwall.members import bootstrap
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from shieldwall.sharing.policy import Action, Principal, may
from shieldwall.web import passwords, repository
from shieldwall.web.settings import WebSettings

#: The one answer to every failed login: which part was wrong is not told.
BAD_LOGIN = "unknown user or wrong password"


@dataclass(frozen=True, slots=True)
class WebUser:
    """A logged-in person: their user record, organisation and principal."""

    username: str
    display_name: str | None
    org: str
    country: str | None
    principal: Principal
    csrf_token: str

    @property
    def role(self) -> Role:
        assert self.principal.role is not None
        return self.principal.role

    @property
    def tier(self) -> Tier:
        assert self.principal.tier is not None
        return self.principal.tier

    @property
    def reader(self) -> Reader:
        """Reads intel as the API does for a key of this organisation and role."""
        return Reader(self.principal)

    @property
    def manages_org(self) -> bool:
        return may(self.principal, Action.MANAGE_OWN_ORG)

    @property
    def administers_node(self) -> bool:
        return may(self.principal, Action.ADMINISTER_NODE)

    @property
    def writes_intel(self) -> bool:
        return may(self.principal, Action.WRITE_INTEL)

    @property
    def acts_in_governance(self) -> bool:
        return self.principal.role is Role.ORG_ADMIN


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(
    conn: Connection, settings: WebSettings, username: str, password: str, now: datetime
) -> NewSession:
    """Checks the password and opens a session; raises Unauthorized with one message."""
    row = repository.user_login_row(conn, username.strip())
    stored = row["password_hash"] if row is not None else None
    # The password is checked even for a disabled user, so that neither the
    # answer nor its timing tells a disabled account from a wrong password.
    if not passwords.verify(stored, password) or row is None or row["disabled_at"] is not None:
        raise Unauthorized(BAD_LOGIN)
    if Tier(row["tier"]) is Tier.WITHDRAWN:
        raise Unauthorized("this user's organisation has withdrawn from the coalition")
    if stored is not None and passwords.needs_rehash(stored):
        repository.set_password_hash(conn, row["id"], passwords.hash_password(password))
    repository.delete_expired_sessions(conn, now)
    token = secrets.token_urlsafe(32)
    expires_at = now + settings.web_session_lifetime
    repository.insert_session(
        conn,
        token_hash=token_hash(token),
        user_id=row["id"],
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=expires_at,
    )
    return NewSession(token, expires_at)


def logout(conn: Connection, token: str) -> None:
    repository.delete_session(conn, token_hash(token))


def current_user(conn: Connection, token: str, now: datetime) -> WebUser | None:
    """The user of a live session, with a principal as of now; None when there is none."""
    row = repository.session_with_user(conn, token_hash(token), now)
    if row is None or Tier(row["tier"]) is Tier.WITHDRAWN:
        return None
    principal = bootstrap.principal_for(conn, row["org"], Role(row["role"]))
    return WebUser(
        username=row["username"],
        display_name=row["display_name"],
        org=row["org"],
        country=row["country"],
        principal=principal,
        csrf_token=row["csrf_token"],
    )


def set_password(
    conn: Connection, username: str, password: str, *, by: Principal | None = None
) -> None:
    """Sets a user's password and ends every session the user had.

    `by`: the org-admin doing it (None: the node's operator, from the CLI); a
    user of an organisation it does not manage is, to it, no user at all.
    """
    row = repository.user_login_row(conn, username.strip())
    if row is not None and by is not None:
        try:
            members.require_manage(by, row["org"])
        except Forbidden:
            row = None
    if row is None:
        raise NotFound(f"user {username!r} does not exist", where="username")
    repository.set_password_hash(conn, row["id"], passwords.hash_password(password))
    repository.delete_sessions_of(conn, row["id"])
