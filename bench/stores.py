"""Fresh, migrated stores for one benchmark run, each with a host organisation.

SQLite is a new WAL file under bench/out/, deleted afterwards. PostgreSQL is a
new schema on the given server (selected through `search_path`, as the test
suite does), dropped afterwards, so a run never touches anyone's data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from shieldwall.db.engine import make_engine, write_transaction
from shieldwall.db.migrate import upgrade
from shieldwall.members.bootstrap import init_node, principal_for
from shieldwall.members.model import Role
from shieldwall.sharing.policy import Principal

HOST_ORG = "Bench Host"
DEFAULT_PG_URL = os.environ.get(
    "SHIELDWALL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True, slots=True)
class Store:
    engine: Engine
    principal: Principal
    #: The SQLite file (and its -wal/-shm companions); None for PostgreSQL.
    path: Path | None = None

    def size_bytes(self) -> int:
        """What the stored intel takes on disk, tables and indexes."""
        with self.engine.connect() as conn:
            if self.path is None:
                return int(conn.execute(text(_PG_SCHEMA_SIZE)).scalar_one())
            # A big import leaves a WAL about as large as the database itself;
            # fold it in first so that the file size is the store's size.
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(p.stat().st_size for p in _sqlite_files(self.path) if p.exists())


_PG_SCHEMA_SIZE = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind = 'r'
"""


def _sqlite_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _initialise(engine: Engine) -> Principal:
    """Migrates the store and creates the host organisation that will own the intel."""
    upgrade(engine)
    with write_transaction(engine) as conn:
        init_node(conn, HOST_ORG, "EE")
        return principal_for(conn, HOST_ORG, Role.ANALYST)


@contextmanager
def sqlite_store(directory: Path) -> Iterator[Store]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{os.getpid()}.db"
    for stale in _sqlite_files(path):
        stale.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield Store(engine, _initialise(engine), path)
    finally:
        engine.dispose()
        for leftover in _sqlite_files(path):
            leftover.unlink(missing_ok=True)


def postgresql_unreachable(url: str) -> str | None:
    """Why the server cannot be used, or None when it answers."""
    try:
        probe = create_engine(url)
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
    except Exception as exc:  # any failure to connect means "not reachable"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def _admin(url: str, statement: str) -> None:
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(statement))
    admin.dispose()


@contextmanager
def postgresql_store(url: str) -> Iterator[Store]:
    schema = f"sw_bench_{os.getpid()}"
    _admin(url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    _admin(url, f'CREATE SCHEMA "{schema}"')
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield Store(engine, _initialise(engine))
    finally:
        engine.dispose()
        _admin(url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
