"""Alembic environment: runs against the engine handed over in config.attributes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import shieldwall.db.models  # noqa: F401  (registers every table on the metadata)
from shieldwall.db.base import metadata
from shieldwall.errors import ShieldwallError

engine = context.config.attributes["engine"]


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Turns SQLite's foreign key enforcement on or off (a no-op inside a transaction)."""
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
    if broken is not None:
        table, rowid, parent, _ = tuple(broken)
        raise ShieldwallError(
            f"the store's schema was not upgraded: row {rowid} of {table} refers to a row of"
            f" {parent} that does not exist (nothing was changed)"
        )


with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    # SQLite's way to change a table that others reference (lang_altertable.html):
    # copy it with enforcement off, or dropping the old copy would cascade to
    # the rows that reference it; then check every reference still holds.
    if sqlite:
        _sqlite_foreign_keys(connection, on=False)
    applied: list[str] = []
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=sqlite,
                compare_type=True,
                on_version_apply=lambda **kwargs: applied.append(str(kwargs["step"])),
            )
            context.run_migrations()
            # Only after a migration: the check reads every referencing row
            # (seconds on a store of a million indicators), and every command
            # upgrades its store first, mostly with nothing to apply.
            if sqlite and applied:
                _check_foreign_keys(connection)
    finally:
        if sqlite:
            _sqlite_foreign_keys(connection, on=True)
