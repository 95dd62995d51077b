"""Fixtures of the web console tests: an app with a manual clock, and users per organisation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from shieldwall.app import create_app
from shieldwall.config import Settings
from shieldwall.governance.clock import ManualClock
from shieldwall.governance.settings import GovernanceSettings
from shieldwall.members.model import Role
from tests.factories import Coalition
from tests.web.helpers import add_user

START = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)


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
    found = {}
    for org in coalition.keys:
        slug = org.lower().replace(" ", "")
        found[org] = add_user(engine, org, f"{slug}-analyst", Role.ANALYST)
        found[f"{org} admin"] = add_user(engine, org, f"{slug}-admin", Role.ORG_ADMIN)
    return found
