"""Feeds: configured through the API (and CLI), run by the scheduler, outcome visible."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.config import Settings
from shieldwall.db.base import utcnow
from shieldwall.feeds import runner
from shieldwall.members.model import Role
from shieldwall.taxii.schemas import TAXII_MEDIA_TYPE
from tests.factories import Coalition, indicator
from tests.taxii.servers import serve_app

FEEDS = "/api/v1/feeds"


@pytest.fixture
def remote(engine: Engine, settings: Settings) -> Iterator[str]:
    """This node served over HTTP: the feeds pull from its TAXII server."""
    with serve_app(engine, settings) as url:
        yield url


def _admin(coalition: Coalition, org: str) -> dict[str, str]:
    return coalition.auth(org, Role.ORG_ADMIN)


def _taxii_feed(name: str, url: str, collection: str, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "taxii",
        "url": url,
        "collection": collection,
        "org": "Sponsor B",
        "secret": key,
        **extra,
    }


def _public_collection(client: TestClient, coalition: Coalition) -> str:
    headers = {**coalition.auth("Sponsor A"), "Accept": TAXII_MEDIA_TYPE}
    found = client.get("/taxii2/intel/collections/", headers=headers).json()["collections"]
    return next(c["id"] for c in found if c["title"] == "Public")


def _publish(client: TestClient, coalition: Coalition, collection: str, count: int) -> None:
    response = client.post(
        f"/taxii2/intel/collections/{collection}/objects/",
        content=orjson.dumps({"objects": [indicator(f"192.0.2.{i}") for i in range(count)]}),
        headers={
            **coalition.auth("Sponsor A"),
            "Accept": TAXII_MEDIA_TYPE,
            "Content-Type": TAXII_MEDIA_TYPE,
        },
    )
    assert response.status_code == 202


def test_configure_run_and_see_the_outcome(
    client: TestClient, coalition: Coalition, remote: str, engine: Engine, settings: Settings
) -> None:
    public = _public_collection(client, coalition)
    _publish(client, coalition, public, 3)
    api_root = f"{remote}/taxii2/intel/"
    body = _taxii_feed("hub-public", api_root, public, coalition.key("Sponsor A"))
    created = client.post(FEEDS, json=body, headers=_admin(coalition, "Sponsor B"))
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["has_secret"] is True
    assert "secret" not in view
    assert view["last_status"] is None

    # A new feed is due at once; the scheduler's tick runs it.
    assert runner.run_due(engine, settings) == ["hub-public"]
    ran = client.get(f"{FEEDS}/hub-public", headers=_admin(coalition, "Sponsor B")).json()
    assert ran["last_status"] == "ok"
    assert ran["last_error"] is None
    assert ran["last_counts"]["created"] == 3
    assert ran["next_run_at"] > ran["last_run_at"]
    # Not due again until its interval has passed.
    assert runner.run_due(engine, settings) == []
    later = utcnow() + timedelta(seconds=body.get("interval_seconds", 3600) + 1)
    assert runner.run_due(engine, settings, later) == ["hub-public"]

    _publish(client, coalition, public, 2)
    again = client.post(f"{FEEDS}/hub-public/run", headers=_admin(coalition, "Sponsor B"))
    assert again.status_code == 200
    assert again.json()["last_counts"]["objects"] == 2


def test_a_failing_feed_records_its_error(
    client: TestClient, coalition: Coalition, remote: str
) -> None:
    body = _taxii_feed(
        "wrong-collection",
        f"{remote}/taxii2/intel/",
        "00000000-0000-4000-8000-000000000000",
        coalition.key("Sponsor A"),
    )
    assert client.post(FEEDS, json=body, headers=_admin(coalition, "Host")).status_code == 201
    ran = client.post(f"{FEEDS}/wrong-collection/run", headers=_admin(coalition, "Host")).json()
    assert ran["last_status"] == "error"
    assert "404" in ran["last_error"]
    assert ran["last_counts"] is None


def test_who_may_configure_which_feed(client: TestClient, coalition: Coalition) -> None:
    body = _taxii_feed("b-feed", "https://hub.example/taxii2/intel/", "c1", "k")
    assert client.post(FEEDS, json=body, headers=coalition.auth("Sponsor B")).status_code == 403
    assert client.post(FEEDS, json=body, headers=_admin(coalition, "Sponsor A")).status_code == 403
    assert client.post(FEEDS, json=body, headers=_admin(coalition, "Host")).status_code == 201
    other = {**body, "name": "a-feed", "org": "Sponsor A"}
    assert client.post(FEEDS, json=other, headers=_admin(coalition, "Sponsor A")).status_code == 201

    def names(org: str) -> list[str]:
        return [f["name"] for f in client.get(FEEDS, headers=_admin(coalition, org)).json()]

    assert names("Host") == ["a-feed", "b-feed"]
    assert names("Sponsor B") == ["b-feed"]
    # Another organisation's feed is answered as absent.
    assert client.get(f"{FEEDS}/a-feed", headers=_admin(coalition, "Sponsor B")).status_code == 404
    gone = client.delete(f"{FEEDS}/a-feed", headers=_admin(coalition, "Sponsor B"))
    assert gone.status_code == 404
    assert client.get(FEEDS, headers=coalition.auth("Sponsor B", Role.ANALYST)).status_code == 403

    disabled = client.patch(
        f"{FEEDS}/b-feed", json={"enabled": False}, headers=_admin(coalition, "Sponsor B")
    )
    assert disabled.json()["enabled"] is False
    assert (
        client.delete(f"{FEEDS}/b-feed", headers=_admin(coalition, "Sponsor B")).status_code == 204
    )
    assert names("Host") == ["a-feed"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"url": "file:///etc/passwd"}, 400),
        ({"collection": None}, 400),
        ({"kind": "misp"}, 400),
        ({"distribution": "group:ics"}, 400),  # Sponsor B is not in the group
        ({"tlp": "purple"}, 400),
        ({"name": "has spaces"}, 400),
        ({"interval_seconds": 5}, 422),
        ({"org": "Nobody"}, 403),
    ],
)
def test_feed_configuration_is_checked(
    client: TestClient, coalition: Coalition, change: dict[str, Any], status: int
) -> None:
    body = {**_taxii_feed("checked", "https://hub.example/taxii2/intel/", "c1", "k"), **change}
    response = client.post(FEEDS, json=body, headers=_admin(coalition, "Sponsor B"))
    assert response.status_code == status, response.text


def test_duplicate_names_conflict(client: TestClient, coalition: Coalition) -> None:
    body = _taxii_feed("twice", "https://hub.example/taxii2/intel/", "c1", "k")
    assert client.post(FEEDS, json=body, headers=_admin(coalition, "Host")).status_code == 201
    assert client.post(FEEDS, json=body, headers=_admin(coalition, "Host")).status_code == 409


def test_a_disabled_feed_is_not_run(
    client: TestClient, coalition: Coalition, engine: Engine, settings: Settings
) -> None:
    body = _taxii_feed("off", "https://hub.example/taxii2/intel/", "c1", "k", enabled=False)
    assert client.post(FEEDS, json=body, headers=_admin(coalition, "Host")).status_code == 201
    assert runner.run_due(engine, settings, utcnow() + timedelta(days=30)) == []
