"""How a SQLite store's engine sets its connections up for writers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from shieldwall.db import engine as engine_module
from shieldwall.db.engine import make_engine, read_transaction, write_transaction

_FILL_200_PAGES = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
    "INSERT INTO filler SELECT zeroblob(16000) FROM n"
)


def _pragma(conn: Connection, name: str) -> int:
    return int(conn.exec_driver_sql(f"PRAGMA {name}").scalar_one())


def test_a_writer_lets_the_wal_grow_to_the_size_of_the_store_within_bounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoints come at the store's own size: rarely for a large store, soon for a small one."""
    monkeypatch.setattr(engine_module, "_CHECKPOINT_PAGES", 10)
    monkeypatch.setattr(engine_module, "_CHECKPOINT_PAGES_MAX", 300)
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with write_transaction(engine) as conn:
        conn.execute(text("CREATE TABLE filler (x BLOB)"))
        assert _pragma(conn, "wal_autocheckpoint") == 10  # an empty store: the least
    with write_transaction(engine) as conn:
        conn.execute(text(_FILL_200_PAGES))  # a row of 16,000 bytes fills a 16 KiB page
    with write_transaction(engine) as conn:
        pages = _pragma(conn, "page_count")
        assert 200 <= pages < 300
        assert _pragma(conn, "wal_autocheckpoint") == pages
        conn.execute(text(_FILL_200_PAGES))
    with write_transaction(engine) as conn:
        assert _pragma(conn, "page_count") > 400
        assert _pragma(conn, "wal_autocheckpoint") == 300  # the most
    with read_transaction(engine) as conn:
        assert conn.execute(text("SELECT count(*) FROM filler")).scalar_one() == 400
    engine.dispose()
