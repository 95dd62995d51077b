"""Helpers of the web console tests: users with passwords, logged-in TestClients."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from shieldwall.db.engine import write_transaction
from shieldwall.members import service as members
from shieldwall.members.model import Role
from shieldwall.web import passwords, repository
from tests.factories import Coalition

PASSWORD = "correct horse battery staple"
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _password_hash() -> str:
    return _password_hash_by(passwords._hasher)


@cache
def _password_hash_by(hasher: object) -> str:
    # argon2 costs over half a second a hash here, by design: hash once per test run
    # and hasher (tests hash cheaply unless they ask for production's, see conftest).
    return passwords.hash_password(PASSWORD)


def add_user(engine: Engine, org: str, username: str, role: Role = Role.ANALYST) -> str:
    """A user of `org` whose password is PASSWORD."""
    with write_transaction(engine) as conn:
        members.create_user(conn, org, username, role, username.title())
        row = repository.user_login_row(conn, username)
        assert row is not None
        repository.set_password_hash(conn, row["id"], _password_hash())
    return username


def add_people(engine: Engine, coalition: Coalition) -> dict[str, str]:
    """One analyst and one org-admin per organisation: org -> analyst, "org admin" -> admin."""
    found = {}
    for org in coalition.keys:
        slug = org.lower().replace(" ", "")
        found[org] = add_user(engine, org, f"{slug}-analyst", Role.ANALYST)
        found[f"{org} admin"] = add_user(engine, org, f"{slug}-admin", Role.ORG_ADMIN)
    return found


def csrf_of(page: Response) -> str:
    found = _CSRF_RE.search(page.text)
    assert found is not None, page.text[:2000]
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    form = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form)},
        follow_redirects=False,
    )


def logged_in(app: Any, username: str, base_url: str = "http://testserver") -> TestClient:
    client = TestClient(app, base_url=base_url, raise_server_exceptions=False)
    response = log_in(client, username)
    assert response.status_code == 303, response.text
    return client


def post_form(client: TestClient, page: str, action: str, data: dict[str, Any]) -> Response:
    """Posts a form the way a browser does: with the CSRF token of the page it is on."""
    token = csrf_of(client.get(page))
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False)
