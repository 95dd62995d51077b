"""Migration 0010 turns the version constraint into a unique index without losing a row.

On SQLite the migration copies `stix_objects`, which observables, correlation
keys and sighting refs reference with ON DELETE CASCADE: with enforcement on,
dropping the old copy would delete them all. These tests migrate a store that
holds intel both ways and count every table, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from shieldwall.db.engine import make_engine
from shieldwall.db.migrate import alembic_config, upgrade
from shieldwall.demo.generate import indicators
from shieldwall.errors import ShieldwallError
from shieldwall.intel.ingest import Mode, ingest_objects
from tests.conftest import PG_URL, _pg_reachable
from tests.factories import build_coalition
from tests.intel.store import ingest_options

_TABLES = ("stix_objects", "observables", "correlation_keys")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a store nothing has migrated yet."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
        yield engine
        engine.dispose()
        return
    # The suite's PostgreSQL fixture fails in CI and skips loudly elsewhere.
    request.getfixturevalue("pg_schema_engine")
    assert _pg_reachable() is None
    schema = f"sw_migration_{os.getpid()}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in _TABLES
        }


def _import(engine: Engine, count: int, seed: int) -> None:
    options = ingest_options(engine, "Sponsor A", Mode.STRICT)
    ingest_objects(engine, lambda: indicators(count, seed=seed), options)


def _store_a_version_again(engine: Engine) -> None:
    """Inserts a copy of a stored version under a new primary key: the index must refuse it."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stix_objects SELECT pk + 1000000, stix_id, type, version_key,"
                " owner_org_id, tlp, dist, group_id, is_latest, revoked, search_text,"
                " content_hash, added_at, data FROM stix_objects WHERE pk = 1"
            )
        )


def test_stores_keep_every_row_across_the_migration_both_ways(fresh_engine: Engine) -> None:
    config = alembic_config(fresh_engine)
    upgrade(fresh_engine)
    command.downgrade(config, "intel@-1")  # the schema as it was before 0010
    build_coalition(fresh_engine)
    _import(fresh_engine, 40, seed=21)
    before = _counts(fresh_engine)
    assert before["observables"] == 40
    assert before["correlation_keys"] > 0

    upgrade(fresh_engine)
    assert _counts(fresh_engine) == before
    with pytest.raises(IntegrityError):
        _store_a_version_again(fresh_engine)
    _import(fresh_engine, 10, seed=22)  # ingest works on the migrated store
    after = _counts(fresh_engine)
    assert after["stix_objects"] == before["stix_objects"] + 10

    command.downgrade(config, "intel@-1")
    assert _counts(fresh_engine) == after
    with pytest.raises(IntegrityError):
        _store_a_version_again(fresh_engine)


def test_sqlite_enforces_foreign_keys_again_after_migrating(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}", pool_size=1, max_overflow=0)
    upgrade(engine)
    with engine.connect() as conn:  # the one pooled connection the migration used
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        with pytest.raises(IntegrityError):
            conn.exec_driver_sql(
                "INSERT INTO observables (object_pk, kind, value) VALUES (999, 'ipv4', '1.2.3.4')"
            )
    engine.dispose()


def test_a_new_sqlite_store_has_16_kib_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:  # a store made before stores had 16 KiB pages
        conn.execute("PRAGMA page_size=4096")
        conn.execute("CREATE TABLE t (x)")
    for path, expected in ((tmp_path / "new.db", 16384), (old, 4096)):
        engine = make_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS u (y)")
            assert conn.exec_driver_sql("PRAGMA page_size").scalar_one() == expected
        engine.dispose()


def test_a_migration_that_would_leave_a_broken_reference_changes_nothing(tmp_path: Path) -> None:
    """The check after a SQLite migration refuses a store with a dangling reference, whole."""
    path = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    command.downgrade(alembic_config(engine), "intel@-1")
    engine.dispose()
    with sqlite3.connect(path) as raw:  # foreign keys off: as another tool could write
        raw.execute("INSERT INTO observables VALUES (42, 'ipv4', '1.2.3.4')")
    engine = make_engine(f"sqlite:///{path}")
    with pytest.raises(ShieldwallError, match="refers to a row of stix_objects"):
        upgrade(engine)
    with engine.connect() as conn:
        indexes = conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name = 'uq_stix_objects_version'"
        ).scalar_one()
    assert indexes == 0  # the migration was rolled back with the check
    engine.dispose()
