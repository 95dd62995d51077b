"""Users administered through REST: role changes, disabling and enabling.

`PATCH /api/v1/users/{username}` is allowed to whoever may create users in the
user's organisation (its org-admins, and the host's); to anyone else the user
does not exist. Disabling ends the web sessions, refuses the web login exactly
like a wrong password and stops the API keys tied to the user; a role change
ends the web sessions too.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.members.model import Role
from shieldwall.web.sessions import BAD_LOGIN
from tests.factories import Coalition, user_key
from tests.web.helpers import PASSWORD, add_user, log_in

#: The default SHIELDWALL_WEB_LOGIN_MAX_FAILURES.
MAX_LOGIN_FAILURES = 5


def _patch(client: TestClient, username: str, body: dict[str, Any], auth: dict[str, str]) -> Any:
    return client.patch(f"/api/v1/users/{username}", json=body, headers=auth)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json())


def _user_key(engine: Engine, username: str, role: Role = Role.ANALYST) -> dict[str, str]:
    """An API key tied to the user (api_keys.user_id), as a bearer header."""
    return {"Authorization": f"Bearer {user_key(engine, username, role.value)}"}


def _listed(client: TestClient, username: str, auth: dict[str, str]) -> dict[str, Any]:
    [row] = [
        u for u in client.get("/api/v1/users", headers=auth).json() if u["username"] == username
    ]
    return dict(row)


def _logged_in(client: TestClient) -> bool:
    return client.get("/", follow_redirects=False).status_code == 200


def test_host_admin_changes_a_role(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    admin = coalition.auth("Host", Role.ORG_ADMIN)
    add_user(engine, "Sponsor B", "bea", Role.READER)

    view = _ok(_patch(client, "bea", {"role": "analyst"}, admin))
    assert (view["username"], view["org"], view["role"], view["disabled"]) == (
        "bea",
        "Sponsor B",
        "analyst",
        False,
    )
    assert _listed(client, "bea", admin)["role"] == "analyst"


def test_bad_bodies_are_refused(client: TestClient, coalition: Coalition, engine: Engine) -> None:
    admin = coalition.auth("Host", Role.ORG_ADMIN)
    add_user(engine, "Sponsor B", "bea", Role.READER)
    for body, where in [
        ({"role": "god"}, "body.role"),
        ({"disabled": "perhaps"}, "body.disabled"),
        ({"role": "analyst", "password": "x"}, "body.password"),
        ({}, "body"),
    ]:
        refused = _patch(client, "bea", body, admin)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["where"] == where, body
    assert _listed(client, "bea", admin)["role"] == "reader"
    missing = _patch(client, "nobody", {"disabled": True}, admin)
    assert (missing.status_code, missing.json()["where"]) == (404, "username")


def test_only_who_may_create_the_user_may_change_it(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    add_user(engine, "Sponsor A", "ann", Role.READER)
    own_admin = coalition.auth("Sponsor A", Role.ORG_ADMIN)
    assert _ok(_patch(client, "ann", {"role": "analyst"}, own_admin))["role"] == "analyst"

    def missing_body(auth: dict[str, str]) -> tuple[int, str, str]:
        response = _patch(client, "no-such-user", {"disabled": True}, auth)
        body = response.json()
        return response.status_code, body["error"], body["where"]

    # Everyone else is told what a missing user gets: the name cannot be probed.
    for org, role in [
        ("Sponsor B", Role.ORG_ADMIN),
        ("Sponsor A", Role.ANALYST),
        ("Sponsor A", Role.READER),
        ("Host", Role.ANALYST),
    ]:
        auth = coalition.auth(org, role)
        refused = _patch(client, "ann", {"disabled": True}, auth)
        assert (refused.status_code, refused.json()["error"], refused.json()["where"]) == (
            missing_body(auth)
        ), (org, role)
        assert "ann" in refused.json()["detail"]
    host_admin = coalition.auth("Host", Role.ORG_ADMIN)
    assert _listed(client, "ann", host_admin)["disabled"] is False
    assert _ok(_patch(client, "ann", {"disabled": True}, host_admin))["disabled"] is True


def test_disabling_ends_sessions_and_refuses_login_like_a_wrong_password(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    admin = coalition.auth("Sponsor A", Role.ORG_ADMIN)
    add_user(engine, "Sponsor A", "ann")
    assert log_in(client, "ann").status_code == 303
    assert _logged_in(client)

    view = _ok(_patch(client, "ann", {"disabled": True}, admin))
    assert view["disabled"] is True
    assert view["disabled_at"] is not None
    assert not _logged_in(client)

    browser = TestClient(client.app, raise_server_exceptions=False)
    wrong_password = log_in(browser, "ann", "not the password at all")
    disabled = log_in(browser, "ann", PASSWORD)
    assert (disabled.status_code, wrong_password.status_code) == (401, 401)
    # The same one message as a wrong password (the pages differ only in their CSRF token).
    assert BAD_LOGIN in disabled.text
    assert BAD_LOGIN in wrong_password.text
    assert "sw_session" not in browser.cookies
    listed = _listed(client, "ann", admin)
    assert (listed["disabled"], listed["disabled_at"]) == (True, view["disabled_at"])

    # Disabling again keeps the first date; enabling lets the user back in.
    assert (
        _ok(_patch(client, "ann", {"disabled": True}, admin))["disabled_at"] == view["disabled_at"]
    )
    enabled = _ok(_patch(client, "ann", {"disabled": False}, admin))
    assert (enabled["disabled"], enabled["disabled_at"]) == (False, None)
    assert log_in(browser, "ann").status_code == 303
    assert _logged_in(browser)


def test_logins_of_a_disabled_user_count_towards_the_throttle(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    admin = coalition.auth("Sponsor A", Role.ORG_ADMIN)
    add_user(engine, "Sponsor A", "ann")
    _ok(_patch(client, "ann", {"disabled": True}, admin))
    for _ in range(MAX_LOGIN_FAILURES):
        assert log_in(client, "ann").status_code == 401
    _ok(_patch(client, "ann", {"disabled": False}, admin))
    # The right password, an enabled user, and still refused: the failures were counted.
    assert log_in(client, "ann").status_code == 429


def test_a_disabled_users_keys_are_refused_like_unknown_keys(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    admin = coalition.auth("Sponsor A", Role.ORG_ADMIN)
    add_user(engine, "Sponsor A", "ann")
    add_user(engine, "Sponsor A", "bob")
    anns_key = _user_key(engine, "ann")
    bobs_key = _user_key(engine, "bob")
    assert client.get("/api/v1/me", headers=anns_key).status_code == 200

    _ok(_patch(client, "ann", {"disabled": True}, admin))
    refused = client.get("/api/v1/objects", headers=anns_key)
    unknown = client.get("/api/v1/objects", headers={"Authorization": "Bearer sw_no-such-key"})
    assert refused.status_code == unknown.status_code == 401
    assert refused.json() == unknown.json()
    # The organisation's other keys, tied to another user or to none, still work.
    assert client.get("/api/v1/objects", headers=bobs_key).status_code == 200
    assert client.get("/api/v1/objects", headers=coalition.auth("Sponsor A")).status_code == 200

    _ok(_patch(client, "ann", {"disabled": False}, admin))
    assert client.get("/api/v1/me", headers=anns_key).json()["org"] == "Sponsor A"


@pytest.mark.parametrize("new_role", [Role.READER, Role.ORG_ADMIN])
def test_a_role_change_ends_the_users_sessions(
    client: TestClient, coalition: Coalition, engine: Engine, new_role: Role
) -> None:
    add_user(engine, "Sponsor A", "ann")
    assert log_in(client, "ann").status_code == 303
    assert _logged_in(client)
    view = _ok(
        _patch(client, "ann", {"role": new_role.value}, coalition.auth("Host", Role.ORG_ADMIN))
    )
    assert (view["role"], view["disabled"]) == (new_role.value, False)
    assert not _logged_in(client)
    # The next login carries the new role.
    assert log_in(client, "ann").status_code == 303
    assert _logged_in(client)


def test_role_and_disabled_in_one_change(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    admin = coalition.auth("Host", Role.ORG_ADMIN)
    add_user(engine, "Contributor", "cee", Role.ANALYST)
    view = _ok(_patch(client, "cee", {"role": "reader", "disabled": True}, admin))
    assert (view["role"], view["disabled"]) == ("reader", True)
    assert _listed(client, "cee", admin) == view


@pytest.mark.parametrize("change", [{"role": "analyst"}, {"disabled": True}])
def test_an_organisation_cannot_lock_out_its_last_org_admin(
    client: TestClient, coalition: Coalition, engine: Engine, change: dict[str, Any]
) -> None:
    add_user(engine, "Sponsor A", "ann", Role.ORG_ADMIN)
    own_admin = coalition.auth("Sponsor A", Role.ORG_ADMIN)
    refused = _patch(client, "ann", change, own_admin)
    assert refused.status_code == 409, refused.text
    assert refused.json()["where"] == f"body.{next(iter(change))}"
    assert "last active org-admin" in refused.json()["detail"]
    unchanged = _listed(client, "ann", own_admin)
    assert (unchanged["role"], unchanged["disabled"]) == ("org-admin", False)
    # With a second org-admin the change is allowed.
    add_user(engine, "Sponsor A", "amy", Role.ORG_ADMIN)
    _ok(_patch(client, "ann", change, own_admin))
    assert _patch(client, "amy", change, own_admin).status_code == 409


def test_the_host_may_stop_another_organisations_last_org_admin(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    # How a compromised account is stopped: the host acts on another organisation.
    add_user(engine, "Sponsor A", "ann", Role.ORG_ADMIN)
    view = _ok(_patch(client, "ann", {"disabled": True}, coalition.auth("Host", Role.ORG_ADMIN)))
    assert view["disabled"] is True
