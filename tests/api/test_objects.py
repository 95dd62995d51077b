"""GET /api/v1/objects: cursor pagination while intel keeps arriving, and the filters."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Coalition, bundle, indicator, stix_id
from tests.intel.store import post_bundle

START = 50
PAGE = 7


def _post(
    client: TestClient, coalition: Coalition, org: str, objects: list[dict[str, Any]], **params: str
) -> None:
    params = {"tlp": "green", "distribution": "members", **params}
    response = post_bundle(client, coalition.auth(org), bundle(*objects), **params)
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == 0


def _indicators(first: int, count: int) -> list[dict[str, Any]]:
    return [indicator(f"198.51.{n // 250}.{n % 250 + 1}") for n in range(first, first + count)]


def _page(client: TestClient, auth: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/objects", params=params, headers=auth)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_cursor_walk_neither_skips_nor_repeats_while_intel_arrives(
    client: TestClient, coalition: Coalition
) -> None:
    for start in range(0, START, 10):
        _post(client, coalition, "Sponsor A", _indicators(start, 10))
    reader = coalition.auth("Sponsor B", "reader")
    at_start = {o["id"] for o in _page(client, reader, limit=1000)["objects"]}
    assert len(at_start) == START

    seen: list[str] = []
    arrived: set[str] = set()
    cursor: str | None = None
    for page_number in range(100):
        params: dict[str, Any] = {"limit": PAGE}
        if cursor:
            params["cursor"] = cursor
        page = _page(client, reader, **params)
        assert len(page["objects"]) <= PAGE
        seen.extend(o["id"] for o in page["objects"])
        if not page["more"]:
            break
        cursor = page["next"]
        # Another committee member publishes between every two pages.
        fresh = _indicators(1000 + 2 * page_number, 2)
        _post(client, coalition, "Host", fresh)
        arrived.update(o["id"] for o in fresh)
    else:
        pytest.fail("the walk never ended")

    assert len(seen) == len(set(seen)), "an object was served twice"
    assert at_start <= set(seen), "an object present at the start was skipped"
    assert set(seen) <= at_start | arrived
    assert arrived & set(seen), "what arrived after the walk began is served at its end"


def test_next_cursor_polls_what_arrived_since(client: TestClient, coalition: Coalition) -> None:
    _post(client, coalition, "Sponsor A", _indicators(0, 3))
    reader = coalition.auth("Sponsor B", "reader")
    page = _page(client, reader, limit=10)
    assert (len(page["objects"]), page["more"]) == (3, False)

    quiet = _page(client, reader, cursor=page["next"])
    assert (quiet["objects"], quiet["more"]) == ([], False)
    assert quiet["next"] == page["next"]

    later = _indicators(100, 2)
    _post(client, coalition, "Host", later)
    polled = _page(client, reader, cursor=page["next"])
    assert [o["id"] for o in polled["objects"]] == [o["id"] for o in later]


@pytest.mark.parametrize("cursor", ["not-a-cursor!", "eDU", "bzEyYQ", "////"])
def test_bad_cursor_is_400_naming_the_cursor(
    client: TestClient, coalition: Coalition, cursor: str
) -> None:
    response = client.get(
        "/api/v1/objects", params={"cursor": cursor}, headers=coalition.auth("Sponsor B")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_input"
    assert response.json()["where"] == "cursor"


@pytest.fixture
def mixed(client: TestClient, coalition: Coalition) -> dict[str, list[str]]:
    """Sponsor A's indicators at each TLP, a malware, and Host's own indicator."""
    ids: dict[str, list[str]] = {"clear": [], "green": [], "amber": [], "red": []}
    for level in ids:
        objects = [
            indicator(f"203.0.113.{len(level) * 10 + n}", name=f"{level} ip") for n in range(2)
        ]
        _post(client, coalition, "Sponsor A", objects, tlp=level)
        ids[level] = [o["id"] for o in objects]
    malware = {
        "type": "malware",
        "spec_version": "2.1",
        "id": stix_id("malware"),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "PoisonIvy Loader",
        "is_family": True,
    }
    _post(client, coalition, "Sponsor A", [malware])
    host_own = indicator("192.0.2.200", name="host sighting")
    _post(client, coalition, "Host", [host_own])
    ids["malware"] = [malware["id"]]
    ids["host"] = [host_own["id"]]
    return ids


def _ids(client: TestClient, coalition: Coalition, **params: Any) -> list[str]:
    page = _page(client, coalition.auth("Sponsor B"), limit=1000, **params)
    return [o["id"] for o in page["objects"]]


def test_filter_by_type(
    client: TestClient, coalition: Coalition, mixed: dict[str, list[str]]
) -> None:
    assert _ids(client, coalition, type="malware") == mixed["malware"]
    assert len(_ids(client, coalition, type="indicator")) == 9
    both = _ids(client, coalition, type=["malware", "indicator"])
    assert len(both) == 10
    assert _ids(client, coalition, type="campaign") == []


def test_filter_by_text(
    client: TestClient, coalition: Coalition, mixed: dict[str, list[str]]
) -> None:
    assert _ids(client, coalition, text="poisonivy") == mixed["malware"]
    assert _ids(client, coalition, text="AMBER IP") == mixed["amber"]
    assert _ids(client, coalition, text="host sight") == mixed["host"]
    # LIKE wildcards are literal characters.
    assert _ids(client, coalition, text="%") == []
    assert _ids(client, coalition, text="_") == []
    # Without a name, an indicator is found by its pattern.
    nameless = {k: v for k, v in indicator("192.0.2.201").items() if k != "name"}
    _post(client, coalition, "Sponsor A", [nameless])
    assert _ids(client, coalition, text="192.0.2.201") == [nameless["id"]]


def test_filter_by_owner(
    client: TestClient, coalition: Coalition, mixed: dict[str, list[str]]
) -> None:
    assert _ids(client, coalition, owner="Host") == mixed["host"]
    assert len(_ids(client, coalition, owner="Sponsor A")) == 9
    assert _ids(client, coalition, owner="Sponsor B") == []
    unknown = client.get(
        "/api/v1/objects", params={"owner": "Nobody"}, headers=coalition.auth("Sponsor B")
    )
    assert unknown.status_code == 404
    assert unknown.json()["where"] == "org"


def test_filter_by_tlp_at_most(
    client: TestClient, coalition: Coalition, mixed: dict[str, list[str]]
) -> None:
    # The malware and the host's indicator took the default, green.
    green = mixed["clear"] + mixed["green"] + mixed["malware"] + mixed["host"]
    assert sorted(_ids(client, coalition, tlp="green")) == sorted(green)
    assert sorted(_ids(client, coalition, tlp="clear")) == sorted(mixed["clear"])
    everything_but_red = set(_ids(client, coalition)) - set(mixed["red"])
    assert set(_ids(client, coalition, tlp="amber+strict")) == everything_but_red
    bad = client.get("/api/v1/objects", params={"tlp": "purple"}, headers=coalition.auth("Host"))
    assert (bad.status_code, bad.json()["where"]) == (400, "tlp")


def test_filter_by_added_since(client: TestClient, coalition: Coalition) -> None:
    _post(client, coalition, "Sponsor A", _indicators(0, 3))
    later = _indicators(10, 2)
    _post(client, coalition, "Sponsor A", later)
    reader = coalition.auth("Sponsor B")
    stamps = {o["id"]: o["added_at"] for o in _page(client, reader)["objects"]}
    since = stamps[later[0]["id"]]

    assert sorted(_ids(client, coalition, added_since=since)) == sorted(o["id"] for o in later)
    assert len(_ids(client, coalition, added_since="2000-01-01T00:00:00Z")) == 5
    assert _ids(client, coalition, added_since="2999-01-01T00:00:00Z") == []
    naive = client.get(
        "/api/v1/objects", params={"added_since": "2024-01-01T00:00:00"}, headers=reader
    )
    assert (naive.status_code, naive.json()["where"]) == (400, "added_since")


def test_filters_combine_and_never_widen_visibility(
    client: TestClient, coalition: Coalition, mixed: dict[str, list[str]]
) -> None:
    assert (
        _ids(client, coalition, type="indicator", owner="Sponsor A", tlp="clear") == mixed["clear"]
    )
    # Contributor is not on the committee: `members` intel stays out of every filter.
    page = _page(client, coalition.auth("Contributor"), owner="Sponsor A", type="indicator")
    assert page["objects"] == []


@pytest.mark.parametrize(("limit", "status"), [(0, 422), (-1, 422), ("ten", 422)])
def test_bad_limit(client: TestClient, coalition: Coalition, limit: Any, status: int) -> None:
    response = client.get(
        "/api/v1/objects", params={"limit": limit}, headers=coalition.auth("Host")
    )
    assert response.status_code == status
    assert response.json()["where"] == "query.limit"
