"""Fixtures of the TAXII tests: our app served over real HTTP (see `servers`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from shieldwall.config import Settings
from tests.taxii.servers import serve_app


@pytest.fixture
def live_settings() -> Settings:
    return Settings(database_url="sqlite:///unused", max_body_bytes=50_000_000, page_size_max=1000)


@pytest.fixture
def live_server(engine: Engine, live_settings: Settings) -> Iterator[str]:
    with serve_app(engine, live_settings) as url:
        yield url
