"""Our client pulls: from medallion (the OASIS reference server), retries, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import Engine
from taxii2client.v21 import Collection

from shieldwall.config import Settings
from shieldwall.errors import NotFound
from shieldwall.taxii.client import Credentials, RemoteError, RetryPolicy, TaxiiClient
from shieldwall.taxii.pull import PullTarget, pull_collection
from tests.factories import Coalition, indicator
from tests.taxii.servers import (
    MEDALLION_COLLECTION,
    MEDALLION_USER,
    medallion_data,
    run_medallion,
)

TARGET = PullTarget(org="Contributor", tlp="green", distribution="group:ics")


def _date_added(index: int) -> str:
    return f"2024-03-01T00:{index // 60:02d}:{index % 60:02d}.000000Z"


@pytest.fixture
def medallion(tmp_path: Path) -> Iterator[tuple[str, list[dict[str, object]]]]:
    objects = [indicator(f"192.0.2.{i % 250}", name=f"m{i}") for i in range(230)]
    with run_medallion(tmp_path, medallion_data(objects, _date_added), page_size=100) as root:
        yield root, objects


def _client(root: str) -> TaxiiClient:
    return TaxiiClient(
        root, Credentials(*MEDALLION_USER), retry=RetryPolicy(attempts=1), sleep=_no_sleep
    )


def _no_sleep(_: float) -> None:
    raise AssertionError("a pull from a healthy local server should never need to wait")


def test_pulls_everything_then_only_what_is_new(
    engine: Engine,
    coalition: Coalition,
    settings: Settings,
    medallion: tuple[str, list[dict[str, object]]],
) -> None:
    root, _ = medallion
    with _client(root) as client:
        first = pull_collection(engine, settings, client, MEDALLION_COLLECTION, TARGET)
    assert (first.pages, first.report.objects, first.report.created) == (3, 230, 230)
    assert first.report.rejected == []
    assert first.cursor_before is None
    assert first.cursor_after == _date_added(229)

    with _client(root) as client:
        again = pull_collection(engine, settings, client, MEDALLION_COLLECTION, TARGET)
    assert again.report.objects == 0
    assert again.cursor_before == again.cursor_after == first.cursor_after

    added = [indicator("203.0.113.50"), indicator("203.0.113.51")]
    remote = Collection(
        f"{root}collections/{MEDALLION_COLLECTION}/",
        user=MEDALLION_USER[0],
        password=MEDALLION_USER[1],
    )
    assert remote.add_objects({"objects": added}).success_count == 2
    with _client(root) as client:
        newer = pull_collection(engine, settings, client, MEDALLION_COLLECTION, TARGET)
    assert (newer.report.objects, newer.report.created) == (2, 2)


def test_pulled_objects_belong_to_the_target_and_its_distribution(
    engine: Engine,
    coalition: Coalition,
    settings: Settings,
    medallion: tuple[str, list[dict[str, object]]],
) -> None:
    from fastapi.testclient import TestClient

    from shieldwall.app import create_app

    root, objects = medallion
    with _client(root) as client:
        pull_collection(engine, settings, client, MEDALLION_COLLECTION, TARGET, limit=50)
    with TestClient(create_app(settings, engine)) as api:
        seen = api.get(
            f"/api/v1/objects/{objects[0]['id']}", headers=coalition.auth("Sponsor A")
        ).json()
        hidden = api.get(f"/api/v1/objects/{objects[0]['id']}", headers=coalition.auth("Sponsor B"))
    assert (seen["owner"], seen["distribution"], seen["tlp"]) == (
        "Contributor",
        "group:ics",
        "green",
    )
    assert hidden.status_code == 404


def _scripted(responses: list[httpx.Response]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[len(seen) - 1]

    return httpx.MockTransport(handle), seen


def _envelope(
    objects: list[dict[str, object]],
    more: bool = False,
    next_: str | None = None,
    last: str = "2024-01-01T00:00:00.000Z",
) -> httpx.Response:
    body: dict[str, object] = {"more": more, "objects": objects}
    if next_:
        body["next"] = next_
    return httpx.Response(
        200,
        content=orjson.dumps(body),
        headers={
            "Content-Type": "application/taxii+json;version=2.1",
            "X-TAXII-Date-Added-Last": last,
        },
    )


def test_retries_on_429_and_5xx_honouring_retry_after() -> None:
    transport, seen = _scripted(
        [
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503),
            httpx.Response(502, headers={"Retry-After": "0"}),
            _envelope([indicator()], more=True, next_="p2"),
            httpx.Response(500),
            _envelope([indicator()]),
        ]
    )
    slept: list[float] = []
    client = TaxiiClient(
        "https://remote.example/api/",
        Credentials(secret="k"),
        transport=transport,
        sleep=slept.append,
    )
    pages = list(client.pages("c1", added_after="2023-12-31T00:00:00Z", limit=1))
    assert len(pages) == 2
    # Retry-After when given; otherwise exponential backoff from 1 s.
    assert slept == [7.0, 2.0, 0.0, 1.0]
    assert seen[0].headers["Authorization"] == "Bearer k"
    assert seen[3].url.params["added_after"] == "2023-12-31T00:00:00Z"
    assert seen[4].url.params["next"] == "p2"
    assert seen[4].url.params["added_after"] == "2023-12-31T00:00:00Z"


def test_gives_up_after_the_last_attempt_and_on_client_errors() -> None:
    transport, _ = _scripted([httpx.Response(503)] * 3)
    client = TaxiiClient(
        "https://remote.example/api/",
        transport=transport,
        sleep=lambda _: None,
        retry=RetryPolicy(attempts=3),
    )
    with pytest.raises(RemoteError, match="503"):
        list(client.pages("c1", None))

    error = {"title": "Not found", "description": "no such collection", "http_status": "404"}
    transport, seen = _scripted([httpx.Response(404, json=error)])
    client = TaxiiClient("https://remote.example/api/", transport=transport, sleep=lambda _: None)
    with pytest.raises(RemoteError, match="no such collection"):
        list(client.pages("c1", None))
    assert len(seen) == 1


def test_a_retry_after_beyond_the_cap_is_an_error_not_a_long_sleep() -> None:
    transport, _ = _scripted([httpx.Response(429, headers={"Retry-After": "86400"})])
    client = TaxiiClient("https://remote.example/api/", transport=transport, sleep=lambda _: None)
    with pytest.raises(RemoteError, match="86400"):
        list(client.pages("c1", None))


def test_a_pull_that_fails_half_way_keeps_the_old_cursor(
    engine: Engine, coalition: Coalition, settings: Settings
) -> None:
    transport, _ = _scripted(
        [_envelope([indicator()], more=True, next_="p2", last="2024-02-01T00:00:00Z")]
        + [httpx.Response(500)] * 2
    )
    client = TaxiiClient(
        "https://remote.example/api/",
        transport=transport,
        sleep=lambda _: None,
        retry=RetryPolicy(attempts=2),
    )
    with pytest.raises(RemoteError):
        pull_collection(engine, settings, client, "c1", TARGET)
    transport, _ = _scripted([_envelope([], last="2024-02-01T00:00:00Z")])
    client = TaxiiClient("https://remote.example/api/", transport=transport)
    retried = pull_collection(engine, settings, client, "c1", TARGET)
    assert retried.cursor_before is None


def test_an_unknown_target_organisation_is_refused(
    engine: Engine, coalition: Coalition, settings: Settings
) -> None:
    client = TaxiiClient("https://remote.example/api/", transport=_scripted([])[0])
    with pytest.raises(NotFound):
        pull_collection(engine, settings, client, "c1", PullTarget(org="Nobody"))


def test_cli_pull_from_medallion(
    tmp_path: Path, medallion: tuple[str, list[dict[str, object]]]
) -> None:
    root, _ = medallion
    cli = Path(sys.executable).with_name("shieldwall")
    env = {
        **os.environ,
        "SHIELDWALL_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "SHIELDWALL_TAXII_PASSWORD": MEDALLION_USER[1],
        "SHIELDWALL_FEEDS_TICK_SECONDS": "0",
    }

    def shieldwall(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(cli), *args], env=env, capture_output=True, text=True, check=False
        )

    assert shieldwall("init", "--host-org", "Hub").returncode == 0
    pull = [
        "taxii",
        "pull",
        root,
        "--collection",
        MEDALLION_COLLECTION,
        "--org",
        "Hub",
        "--user",
        MEDALLION_USER[0],
        "--json",
    ]
    first = shieldwall(*pull)
    assert first.returncode == 0, first.stderr
    report = orjson.loads(first.stdout)
    assert (report["objects"], report["created"], report["pages"]) == (230, 230, 3)
    second = orjson.loads(shieldwall(*pull).stdout)
    assert second["objects"] == 0
    assert second["cursor_before"] == report["cursor_after"]

    wrong = shieldwall("taxii", "pull", root, "--collection", "nope", "--org", "Hub", "--user", "x")
    assert wrong.returncode == 1
    assert "401" in wrong.stderr
