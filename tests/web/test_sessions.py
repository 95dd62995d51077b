"""Passwords and sessions: the CLI that sets a password, expiry, and sessions ended by a reset."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.db.base import utcnow
from shieldwall.db.engine import make_engine, read_transaction, write_transaction
from shieldwall.errors import Unauthorized
from shieldwall.members import repository as members_repository
from shieldwall.members import service as members
from shieldwall.members.model import Role
from shieldwall.web import passwords, repository, sessions
from shieldwall.web.settings import WebSettings
from tests.cli.runner import Shieldwall, init_in_process
from tests.web.helpers import PASSWORD, log_in, logged_in, post_form

SETTINGS = WebSettings()


def test_production_hashes_with_argon2id_at_the_library_defaults(
    production_password_hashing: None,
) -> None:
    # The other in-process tests hash cheaply (tests/conftest.py): this one proves
    # what the node itself uses.
    default = PasswordHasher()
    made = passwords.hash_password(PASSWORD)
    assert made.startswith(
        f"$argon2id$v=19$m={default.memory_cost},t={default.time_cost},p={default.parallelism}$"
    )
    assert passwords._hasher.type is Type.ID
    assert not passwords.needs_rehash(made)
    assert passwords.verify(made, PASSWORD)
    assert not passwords.verify(made, PASSWORD + "!")


def test_shieldwall_user_passwd_sets_an_argon2_hash_from_stdin(
    tmp_path: Path, production_password_hashing: None
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    init_in_process(url)
    cli = Shieldwall(url, tmp_path)
    cli.ok("user", "add", "alice", "--org", "Host", "--role", "analyst")

    def passwd(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cli.command("user", "passwd", *args),
            input=stdin,
            capture_output=True,
            text=True,
            env=cli.env(),
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    done = passwd("alice", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    short = passwd("alice", "--password-stdin", stdin="short\n")
    assert short.returncode == 2
    assert "at least 12 characters" in short.stderr
    unknown = passwd("nobody", "--password-stdin", stdin=PASSWORD + "\n")
    assert unknown.returncode == 2
    assert "does not exist" in unknown.stderr

    engine = make_engine(url)
    with read_transaction(engine) as conn:
        row = repository.user_login_row(conn, "alice")
    assert row is not None
    assert row["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in row["password_hash"]
    with write_transaction(engine) as conn:
        assert sessions.login(conn, SETTINGS, "alice", PASSWORD, utcnow()).token
    engine.dispose()


def test_an_expired_session_is_no_session(
    web_app: FastAPI, engine: Engine, people: dict[str, str]
) -> None:
    long_ago = utcnow() - SETTINGS.web_session_lifetime - timedelta(minutes=1)
    with write_transaction(engine) as conn:
        old = sessions.login(conn, SETTINGS, people["Sponsor A"], PASSWORD, long_ago)
    client = TestClient(web_app, cookies={"sw_session": old.token})
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F"


def test_a_password_reset_ends_the_users_sessions(web_app: FastAPI, people: dict[str, str]) -> None:
    user = logged_in(web_app, people["Sponsor A"])
    admin = logged_in(web_app, people["Sponsor A admin"])
    reset = post_form(
        admin,
        "/admin",
        f"/admin/users/{people['Sponsor A']}/password",
        {"password": "a new long enough password"},
    )
    assert reset.status_code == 303
    assert user.get("/", follow_redirects=False).status_code == 303
    assert log_in(TestClient(web_app), people["Sponsor A"]).status_code == 401
    again = log_in(TestClient(web_app), people["Sponsor A"], "a new long enough password")
    assert again.status_code == 303


def test_a_tier_change_reaches_an_open_session_at_once(
    web_app: FastAPI, engine: Engine, people: dict[str, str]
) -> None:
    """A withdrawn organisation's browser sessions stop working, as its API keys do."""
    client = logged_in(web_app, people["Outsider"])
    assert client.get("/").status_code == 200
    with write_transaction(engine) as conn:
        outsider = members.org_named(conn, "Outsider")
        members_repository.set_tier(conn, outsider["id"], "withdrawn", None)
    assert client.get("/", follow_redirects=False).status_code == 303
    refused = log_in(TestClient(web_app), people["Outsider"])
    assert refused.status_code == 401


def test_login_is_refused_without_a_password_set(
    web_app: FastAPI, engine: Engine, coalition: object
) -> None:
    with write_transaction(engine) as conn:
        members.create_user(conn, "Sponsor A", "no-password", Role.ANALYST, None)
    with write_transaction(engine) as conn, pytest.raises(Unauthorized, match=sessions.BAD_LOGIN):
        sessions.login(conn, SETTINGS, "no-password", "", utcnow())
