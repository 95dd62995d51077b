"""Two real `shieldwall serve` processes over one PostgreSQL store: a new indicator
imported through one matches in both within a second (each keeps its own index
current from the store, see `match.service.IndexHolder`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import Engine, text

from tests.factories import Coalition, indicator
from tests.serving import free_loopback_port, stop, wait_until_serving

FRESH_WITHIN_S = 1.0
START_WITHIN_S = 60.0


def _store_url(engine: Engine) -> str:
    """The engine's URL with its test schema, as a user would give it to `serve`."""
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    url = engine.url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def two_nodes(engine: Engine, tmp_path: Path) -> Iterator[list[str]]:
    """Base URLs of two `shieldwall serve` processes over the test's PostgreSQL schema."""
    env = {**os.environ, "SHIELDWALL_DATABASE_URL": _store_url(engine)}
    processes: list[subprocess.Popen[bytes]] = []
    bases = []
    try:
        for number in range(2):
            port = free_loopback_port()
            log = (tmp_path / f"serve-{number}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "shieldwall", "serve", "--port", str(port)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, processes, strict=True):
            wait_until_serving(process, base, START_WITHIN_S)
        yield bases
    finally:
        for process in processes:
            stop(process, 10)


def _matched(base: str, auth: dict[str, str], value: str, timeout: float = 5) -> bool:
    response = httpx.post(
        f"{base}/api/v1/match",
        # The test addresses are documentation ones, hence warninglisted.
        json={"observables": [value], "include_warninglisted": True},
        headers=auth,
        timeout=timeout,
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["hits"])


def _import(base: str, auth: dict[str, str], value: str) -> None:
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [indicator(value)]}
    response = httpx.post(
        f"{base}/api/v1/bundles",
        params={"distribution": "members", "tlp": "green"},
        content=orjson.dumps(bundle),
        headers={**auth, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_new_indicator_matches_in_every_process_within_a_second(
    coalition: Coalition, two_nodes: list[str]
) -> None:
    importer, other = two_nodes
    owner, reader = coalition.auth("Sponsor A"), coalition.auth("Sponsor B")
    # Start-up is not freshness: a first hit in each process waits for its
    # index and warninglists to load (seconds), so both are warmed up first.
    _import(importer, owner, "198.51.100.1")
    for base in two_nodes:
        assert _matched(base, reader, "198.51.100.1", timeout=START_WITHIN_S)

    value = "198.51.100.77"
    for base in two_nodes:
        assert not _matched(base, reader, value)
    _import(importer, owner, value)
    committed = time.monotonic()

    pending = {other, importer}
    while pending and time.monotonic() - committed < FRESH_WITHIN_S:
        pending = {base for base in pending if not _matched(base, reader, value)}
    assert not pending, f"not matching within {FRESH_WITHIN_S} s in {sorted(pending)}"
