"""Schema migrations through Alembic, driven from code (no alembic.ini needed).

Each feature package owns a branch of migrations rooted at 0001 (its own
`branch_labels`), so features evolve their tables independently and the store
is upgraded to all heads.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Migrates the store to `revision` (every head: what every command does first)."""
    command.upgrade(alembic_config(engine), revision)
