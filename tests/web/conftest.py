"""Fixtures of the web console tests: an app with a manual clock, and users per organisation."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine

from shieldwall.app import create_app
from shieldwall.config import Settings
from shieldwall.db.engine import make_engine
from shieldwall.governance.clock import ManualClock
from shieldwall.governance.settings import GovernanceSettings
from tests.factories import Coalition, build_coalition
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve
from tests.web.helpers import add_people

START = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Live:
    base: str
    engine: Engine
    coalition: Coalition
    #: org -> analyst username; "org admin" -> org-admin username.
    users: dict[str, str]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def web_app(
    engine: Engine, settings: Settings, clock: ManualClock, tmp_path: Path
) -> Iterator[FastAPI]:
    app = create_app(settings, engine)
    app.state.clock = clock
    app.state.governance_settings = GovernanceSettings(
        ledger_key_file=tmp_path / "ledger-key.pem", governance_tick_seconds=0
    )
    return app


@pytest.fixture
def people(engine: Engine, coalition: Coalition) -> dict[str, str]:
    """One analyst and one org-admin user per organisation: name -> username."""
    return add_people(engine, coalition)


# --------------------------------------------------------------------------- browser tests


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated SQLite store of its own (the browser tests run on SQLite only)."""
    path = tmp_path / "browser.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def live(
    sqlite_engine: Engine, settings: Settings, clock: ManualClock, tmp_path: Path
) -> Iterator[Live]:
    """The node served over HTTP, with the standard coalition and one user per role."""
    coalition = build_coalition(sqlite_engine)
    app = create_app(settings, sqlite_engine)
    app.state.clock = clock
    app.state.governance_settings = GovernanceSettings(
        ledger_key_file=tmp_path / "ledger-key.pem", governance_tick_seconds=0
    )
    users = add_people(sqlite_engine, coalition)
    with serve(app) as base:
        yield Live(base, sqlite_engine, coalition, users)
