"""CLI stores: a fresh SQLite file, or a fresh PostgreSQL schema named in the URL.

The PostgreSQL store is reached the way a user would configure it: through
`SHIELDWALL_DATABASE_URL` with a `search_path` option, in a schema created
for the test and dropped after it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.cli.runner import Shieldwall

PG_URL = os.environ.get(
    "SHIELDWALL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Shieldwall:
    return Shieldwall(f"sqlite:///{tmp_path / 'cli.db'}", tmp_path)


def _admin_execute(statement: str) -> None:
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(statement))
    finally:
        admin.dispose()


@pytest.fixture
def postgresql_cli(tmp_path: Path) -> Iterator[Shieldwall]:
    schema = f"sw_cli_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        _admin_execute(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # any failure to reach the server
        message = f"PostgreSQL at {PG_URL} is not reachable ({type(exc).__name__}: {exc})"
        if IN_CI:
            pytest.fail(message + ": CI must run the PostgreSQL half of the suite")
        pytest.skip("SKIPPING THE POSTGRESQL HALF: " + message)
    separator = "&" if "?" in PG_URL else "?"
    yield Shieldwall(f"{PG_URL}{separator}options=-csearch_path%3D{schema}", tmp_path)
    _admin_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def cli(request: pytest.FixtureRequest) -> Shieldwall:
    """The CLI on each backend in turn."""
    return request.getfixturevalue(f"{request.param}_cli")  # type: ignore[no-any-return]
