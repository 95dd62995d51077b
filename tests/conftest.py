"""Fixtures shared by the whole suite: a migrated store on SQLite and on PostgreSQL.

Every test that takes `engine` (or anything built on it) runs once per
backend. PostgreSQL is the server on 127.0.0.1:5432 (`SHIELDWALL_TEST_PG_URL`
overrides it); each xdist worker gets its own schema, migrated once, and
every test starts from empty tables. Outside CI a missing server skips the
PostgreSQL half with a loud reason; in CI (CI=true) it fails the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from shieldwall.app import create_app
from shieldwall.config import Settings
from shieldwall.db.base import metadata
from shieldwall.db.engine import make_engine
from shieldwall.db.migrate import upgrade
from shieldwall.web import passwords
from tests.factories import Coalition, build_coalition

PG_URL = os.environ.get(
    "SHIELDWALL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_reachable() -> str | None:
    try:
        probe = create_engine(PG_URL)
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
    except Exception as exc:  # any failure to connect means "not reachable"
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema_engine() -> Iterator[Engine]:
    problem = _pg_reachable()
    if problem is not None:
        message = f"PostgreSQL at {PG_URL} is not reachable ({problem})"
        if IN_CI:
            pytest.fail(message + ": CI must run the PostgreSQL half of the suite")
        pytest.skip("SKIPPING THE POSTGRESQL HALF: " + message)
    # One schema per test process: concurrent runs on one server never meet.
    schema = f"sw_test_{_worker()}_{os.getpid()}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    upgrade(engine)
    yield engine
    engine.dispose()
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


#: argon2id still, at the smallest cost the library takes seriously: the
#: library defaults cost about 0.3 s of CPU per hash and per login.
_CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_password_hashing(request: pytest.FixtureRequest) -> Iterator[None]:
    """The in-process node hashes passwords cheaply, unless the test asks for production's.

    What a login proves (the right password lets in, a wrong one or an unknown
    user does not, a reset ends sessions) does not depend on the cost. A test
    that requests `production_password_hashing` keeps the production hasher;
    CLI subprocesses always use it.
    """
    if "production_password_hashing" in request.fixturenames:
        yield
        return
    production = passwords._hasher
    passwords._hasher = _CHEAP_HASHER
    # The dummy hash an unknown user is checked against is cached: made by each hasher.
    passwords._dummy_hash.cache_clear()
    try:
        yield
    finally:
        passwords._hasher = production
        passwords._dummy_hash.cache_clear()


@pytest.fixture
def production_password_hashing() -> None:
    """Requested by a test that needs the production hasher (see cheap_password_hashing)."""


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copy(sqlite_template, path)
        sqlite_engine = make_engine(f"sqlite:///{path}")
        yield sqlite_engine
        sqlite_engine.dispose()
        return
    pg_engine: Engine = request.getfixturevalue("pg_schema_engine")
    _truncate_all(pg_engine)
    yield pg_engine


@pytest.fixture
def settings() -> Settings:
    return Settings(database_url="sqlite:///unused-the-engine-is-given", max_body_bytes=5_000_000)


@pytest.fixture
def client(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def coalition(engine: Engine) -> Coalition:
    return build_coalition(engine)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip where it is absent (a user's clone); CI requires it."""
    if not SHARED_DATA.is_dir():
        if IN_CI:
            pytest.fail(f"{SHARED_DATA} is missing: CI must run the shared-data tests")
        pytest.skip(f"SKIPPED: {SHARED_DATA} is absent (it only exists beside the project)")
    return SHARED_DATA
