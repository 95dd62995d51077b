"""Feeds: configured through the API (and CLI), run by the scheduler, outcome visible."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.config import Settings
from shieldwall.db.base import utcnow
from shieldwall.db.engine import make_engine, read_transaction, write_transaction
from shieldwall.db.migrate import upgrade
from shieldwall.errors import BadInput, NotFound
from shieldwall.feeds import runner, service
from shieldwall.feeds.schemas import FeedCreate
from shieldwall.members.model import Role
from shieldwall.taxii.schemas import TAXII_MEDIA_TYPE
from tests.cli.runner import Shieldwall, assert_one_line_error
from tests.factories import Coalition, build_coalition, indicator
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


def _ran(engine: Engine, settings: Settings, now: datetime | None = None) -> list[str]:
    """The names of the feeds one scheduler tick ran."""
    return [feed["name"] for feed in runner.run_due(engine, settings, now)]


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
    assert _ran(engine, settings) == ["hub-public"]
    ran = client.get(f"{FEEDS}/hub-public", headers=_admin(coalition, "Sponsor B")).json()
    assert ran["last_status"] == "ok"
    assert ran["last_error"] is None
    assert ran["last_counts"]["created"] == 3
    assert ran["next_run_at"] > ran["last_run_at"]
    # Not due again until its interval has passed.
    assert _ran(engine, settings) == []
    later = utcnow() + timedelta(seconds=body.get("interval_seconds", 3600) + 1)
    assert _ran(engine, settings, later) == ["hub-public"]

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
    ran = client.post(
        f"{FEEDS}/wrong-collection/run",
        params={"org": "Sponsor B"},
        headers=_admin(coalition, "Host"),
    ).json()
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
    assert _ran(engine, settings, utcnow() + timedelta(days=30)) == []


def _feed_of(org: str, name: str = "osint", **extra: Any) -> dict[str, Any]:
    # Disabled: the scheduler must not try to reach the URL.
    url = "https://hub.example/taxii2/intel/"
    return {**_taxii_feed(name, url, "c1", "k"), "org": org, "enabled": False, **extra}


def test_names_are_per_organisation_and_the_host_names_the_organisation(
    client: TestClient, coalition: Coalition
) -> None:
    for org in ("Sponsor A", "Sponsor B"):
        created = client.post(FEEDS, json=_feed_of(org), headers=_admin(coalition, org))
        assert created.status_code == 201, created.text
    again = client.post(FEEDS, json=_feed_of("Sponsor B"), headers=_admin(coalition, "Host"))
    assert again.status_code == 409
    for org in ("Sponsor A", "Sponsor B"):
        own = client.get(f"{FEEDS}/osint", headers=_admin(coalition, org))
        assert own.json()["org"] == org

    host = _admin(coalition, "Host")
    # The host names another organisation's feed with ?org=; by default its own.
    assert client.get(f"{FEEDS}/osint", headers=host).status_code == 404
    named = client.get(f"{FEEDS}/osint", params={"org": "Sponsor B"}, headers=host)
    assert named.json()["org"] == "Sponsor B"
    # Others may not: answered as absent.
    peek = client.get(
        f"{FEEDS}/osint", params={"org": "Sponsor B"}, headers=_admin(coalition, "Sponsor A")
    )
    assert (peek.status_code, peek.json()["error"]) == (404, "not_found")

    changed = client.patch(
        f"{FEEDS}/osint", params={"org": "Sponsor A"}, json={"interval_seconds": 600}, headers=host
    )
    assert (changed.json()["org"], changed.json()["interval_seconds"]) == ("Sponsor A", 600)
    untouched = client.get(f"{FEEDS}/osint", headers=_admin(coalition, "Sponsor B")).json()
    assert untouched["interval_seconds"] == 3600
    gone = client.delete(f"{FEEDS}/osint", params={"org": "Sponsor A"}, headers=host)
    assert gone.status_code == 204
    left = [(f["org"], f["name"]) for f in client.get(FEEDS, headers=host).json()]
    assert left == [("Sponsor B", "osint")]


def test_feeds_sharing_a_name_each_record_their_own_run(
    client: TestClient, coalition: Coalition, remote: str, engine: Engine, settings: Settings
) -> None:
    api_root = f"{remote}/taxii2/intel/"
    key = coalition.key("Sponsor A")
    wrong = _taxii_feed("hub", api_root, "00000000-0000-4000-8000-000000000000", key)
    right = _taxii_feed("hub", api_root, _public_collection(client, coalition), key)
    for org, body in (("Sponsor A", wrong), ("Sponsor B", right)):
        created = client.post(FEEDS, json={**body, "org": org}, headers=_admin(coalition, org))
        assert created.status_code == 201, created.text

    ran = {feed["org"]: feed["last_status"] for feed in runner.run_due(engine, settings)}
    assert ran == {"Sponsor A": "error", "Sponsor B": "ok"}
    for org, status in ran.items():
        stored = client.get(f"{FEEDS}/hub", headers=_admin(coalition, org)).json()
        assert stored["last_status"] == status


def test_the_operator_names_the_organisation_where_a_name_is_ambiguous(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    for org in ("Sponsor A", "Sponsor B"):
        assert (
            client.post(FEEDS, json=_feed_of(org), headers=_admin(coalition, org)).status_code
            == 201
        )
    assert (
        client.post(
            FEEDS, json=_feed_of("Sponsor B", "b-only"), headers=_admin(coalition, "Sponsor B")
        ).status_code
        == 201
    )
    with read_transaction(engine) as conn:
        with pytest.raises(BadInput) as ambiguous:
            service.manageable_feed(conn, None, "osint")
        assert ambiguous.value.where == "org"
        assert "'Sponsor A'" in ambiguous.value.detail
        assert "'Sponsor B'" in ambiguous.value.detail
        assert service.manageable_feed(conn, None, "osint", "Sponsor B")["org"] == "Sponsor B"
        # Unambiguous names need no organisation.
        assert service.manageable_feed(conn, None, "b-only")["org"] == "Sponsor B"
        with pytest.raises(NotFound):
            service.manageable_feed(conn, None, "b-only", "Sponsor A")


def test_the_cli_refuses_an_ambiguous_name_with_exit_code_2(tmp_path: Path) -> None:
    cli = Shieldwall(f"sqlite:///{tmp_path / 'cli.db'}", tmp_path)
    engine = make_engine(cli.database_url)
    try:
        upgrade(engine)
        build_coalition(engine)
        with write_transaction(engine) as conn:
            for org in ("Sponsor A", "Sponsor B"):
                service.create_feed_as_operator(conn, FeedCreate(**_feed_of(org)))

        refused = cli("feed", "disable", "osint")
        assert refused.code == 2, refused.explain()
        assert_one_line_error(refused)
        assert "--org" in refused.stderr
        cli.ok("feed", "enable", "osint", "--org", "Sponsor B")

        with read_transaction(engine) as conn:
            enabled = {feed["org"]: feed["enabled"] for feed in service.list_feeds(conn, None)}
    finally:
        engine.dispose()
    assert enabled == {"Sponsor A": False, "Sponsor B": True}
