"""Engines for the embedded (SQLite, WAL) and production (PostgreSQL) stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

#: Execution option that marks a transaction as a writer.
WRITE = "shieldwall_write"

#: SQLite page cache of a connection, in KiB (negative: a size, not a page count).
_READ_CACHE_KIB = 65536
#: The page cache while a connection writes. A bulk import's indexes outgrow a
#: smaller cache, and SQLite then spills dirty pages to the WAL mid-transaction:
#: measured on 1,000,000 indicators, 130 s wall with 64 MiB against 85 s with
#: 256 MiB, for the same CPU time. Given back when the transaction ends, so
#: idle pooled connections do not each keep 256 MiB.
_WRITE_CACHE_KIB = 262144
#: Page size of a new SQLite store, in bytes (a file keeps the size it was made
#: with). Measured on 1,000,000 indicators into an empty store: 24.5 s CPU
#: with SQLite's default 4 KiB pages, 19.5 s with 16 KiB; fewer, fuller pages
#: to split, cache and write back for the same rows and index entries.
_PAGE_SIZE = 16384
#: WAL pages after which a writer's commit copies the WAL back into the
#: database file (SQLite's default: 1,000): as many as the database has, within
#: these bounds (`_checkpoint_pages`). Imports of a few thousand objects each
#: dirty index pages all over a large store, and the next imports dirty the
#: same pages again; a checkpoint writes each page back once however many WAL
#: frames hold it, so the fewer checkpoints, the fewer page writes and fsyncs.
#: Measured with bench.misp_import's storage floor (the ESET rows, one copy per
#: transaction) in a store holding 950,000 attributes: 25,500-26,400
#: attributes/s with 8,192 pages, 37,500-48,300/s with 65,536; the whole
#: benchmark (1,000,000 attributes, import): 15,500-15,600/s against
#: 16,900-17,400/s, on a machine shared with other work. A small store
#: keeps a small WAL; a large one may need twice its size on disk while the
#: WAL fills (at 16 KiB pages: 128 MiB to 1 GiB).
_CHECKPOINT_PAGES = 8192
_CHECKPOINT_PAGES_MAX = 65536


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA page_size={_PAGE_SIZE}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA cache_size=-{_READ_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front: a deferred transaction that
        # reads and then writes can fail at once with SQLITE_BUSY under WAL.
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes intel: serialised with every other writer.

    Serialising writers keeps object primary keys in commit order, which is what
    lets cursor pagination promise no skipped objects while ingests run.
    """
    with engine.execution_options(**{WRITE: True}).connect() as conn:
        if conn.dialect.name == "postgresql":
            with conn.begin():
                # Advisory locks span the database; keying on the schema serialises
                # the writers of this store only, not of every store on the server.
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema()))"))
                yield conn
            return
        # Set on the driver's connection, outside the transaction, so that the
        # cache shrinks back only after the commit has written the pages.
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute(f"PRAGMA cache_size=-{_WRITE_CACHE_KIB}")
        raw.execute(f"PRAGMA wal_autocheckpoint={_checkpoint_pages(raw)}")
        try:
            with conn.begin():
                yield conn
        finally:
            raw.execute(f"PRAGMA cache_size=-{_READ_CACHE_KIB}")


def _checkpoint_pages(raw: Any) -> int:
    """The WAL size, in pages, at which this writer's commit checkpoints: the database's."""
    (pages,) = raw.execute("PRAGMA page_count").fetchone()
    return min(max(_CHECKPOINT_PAGES, int(pages)), _CHECKPOINT_PAGES_MAX)


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        yield conn
