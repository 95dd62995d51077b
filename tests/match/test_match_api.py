"""POST /api/v1/match over both stores: visibility, freshness, versions, revocation, limits."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.app import create_app
from shieldwall.config import Settings
from shieldwall.members.model import Role
from shieldwall.sharing.tlp import DistKind, Distribution
from tests.factories import Coalition, indicator
from tests.sharing import ingest_as

ORG = Distribution(DistKind.ORG)
MEMBERS = Distribution(DistKind.MEMBERS)


def match(client: TestClient, headers: dict[str, str], *values: Any, **extra: Any) -> Any:
    response = client.post(
        "/api/v1/match", json={"observables": list(values), **extra}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def hit_ids(body: dict[str, Any]) -> dict[str, set[str]]:
    return {hit["value"]: {i["id"] for i in hit["indicators"]} for hit in body["hits"]}


def test_hits_show_only_what_the_caller_may_see(
    client: TestClient, engine: Engine, coalition: Coalition
) -> None:
    private = indicator("45.148.10.10")
    shared = indicator("45.148.10.0/24", confidence=80)
    ingest_as(engine, "Sponsor A", ORG, [private])
    ingest_as(engine, "Sponsor B", MEMBERS, [shared])

    as_a = match(client, coalition.auth("Sponsor A", Role.SENSOR), "45.148.10.10", "45.148.10.99")
    assert hit_ids(as_a) == {
        "45.148.10.10": {private["id"], shared["id"]},
        "45.148.10.99": {shared["id"]},
    }
    assert as_a["checked"] == 2
    # A contributing participant is not on the committee: members intel is not its to see.
    as_contributor = match(client, coalition.auth("Contributor"), "45.148.10.10")
    assert as_contributor["hits"] == []
    hit = match(client, coalition.auth("Host"), {"type": "ipv4", "value": "45.148.10.10"})["hits"][
        0
    ]
    (view,) = hit["indicators"]
    assert view["owner"] == "Sponsor B"
    assert view["matched"] == {"type": "cidr", "value": "45.148.10.0/24"}
    assert view["tlp"] == "amber"
    assert view["distribution"] == "members"
    assert view["warninglisted"] is False
    assert 0 <= view["score"] <= 80


def test_new_versions_and_revocations_take_effect_without_a_rebuild(
    client: TestClient, engine: Engine, coalition: Coalition
) -> None:
    auth = coalition.auth("Sponsor A")
    first = indicator("evil.example", "domain-name:value")
    ingest_as(engine, "Sponsor A", ORG, [first])
    assert hit_ids(match(client, auth, "www.evil.example")) == {"www.evil.example": {first["id"]}}

    moved = indicator(
        "worse.example",
        "domain-name:value",
        object_id=first["id"],
        modified="2024-02-01T00:00:00.000Z",
    )
    ingest_as(engine, "Sponsor A", ORG, [moved])
    assert match(client, auth, "www.evil.example")["hits"] == []
    assert hit_ids(match(client, auth, "worse.example")) == {"worse.example": {first["id"]}}

    revoked = {**moved, "modified": "2024-03-01T00:00:00.000Z", "revoked": True}
    ingest_as(engine, "Sponsor A", ORG, [revoked])
    assert match(client, auth, "worse.example")["hits"] == []


def test_every_process_sees_a_new_indicator_on_its_next_request(
    engine: Engine, settings: Settings, coalition: Coalition
) -> None:
    auth = coalition.auth("Host")
    with (
        TestClient(create_app(settings, engine)) as one,
        TestClient(create_app(settings, engine)) as two,
    ):
        assert (
            match(one, auth, "77.90.185.1")["hits"] == match(two, auth, "77.90.185.1")["hits"] == []
        )
        new = indicator("77.90.185.1")
        ingest_as(engine, "Sponsor A", MEMBERS, [new])
        for process in (one, two):
            assert hit_ids(match(process, auth, "77.90.185.1")) == {"77.90.185.1": {new["id"]}}


def test_warninglisted_values_are_left_out_unless_asked_for(
    client: TestClient, engine: Engine, coalition: Coalition
) -> None:
    resolver = indicator("8.8.8.8")
    ingest_as(engine, "Host", ORG, [resolver])
    auth = coalition.auth("Host")
    assert match(client, auth, "8.8.8.8")["hits"] == []
    (hit,) = match(client, auth, "8.8.8.8", include_warninglisted=True)["hits"]
    assert hit["indicators"][0]["warninglisted"] is True


def test_min_score_filters_hits(client: TestClient, engine: Engine, coalition: Coalition) -> None:
    ingest_as(engine, "Host", ORG, [indicator("a" * 64, "file:hashes.'SHA-256'", confidence=10)])
    auth = coalition.auth("Host")
    assert len(match(client, auth, "a" * 64)["hits"]) == 1
    assert match(client, auth, "a" * 64, min_score=50)["hits"] == []


def test_unrecognised_values_and_bad_requests(client: TestClient, coalition: Coalition) -> None:
    auth = coalition.auth("Host")
    body = match(client, auth, "", {"type": "ipv4", "value": "example.com"})
    assert [item["index"] for item in body["unrecognised"]] == [0, 1]
    response = client.post(
        "/api/v1/match", json={"observables": [{"type": "colour", "value": "red"}]}, headers=auth
    )
    assert response.status_code == 400
    assert response.json()["where"] == "type"
    too_many = client.post(
        "/api/v1/match", json={"observables": ["1.1.1.1"] * 10_001}, headers=auth
    )
    assert too_many.status_code == 400
    assert too_many.json()["where"] == "observables"
    assert client.post("/api/v1/match", json={"observables": []}).status_code == 401
