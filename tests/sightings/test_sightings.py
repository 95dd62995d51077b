"""Sightings: filed as STIX sightings, read through the policy, refreshing scores."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.members.model import Role
from shieldwall.sharing.tlp import DistKind, Distribution
from tests.factories import Coalition, indicator
from tests.sharing import ingest_as

MEMBERS = Distribution(DistKind.MEMBERS)


def file_sightings(
    client: TestClient, headers: dict[str, str], *items: dict[str, Any], **extra: Any
) -> Any:
    return client.post(
        "/api/v1/sightings", json={"sightings": list(items), **extra}, headers=headers
    )


def scores(client: TestClient, headers: dict[str, str], value: str) -> list[tuple[Any, Any]]:
    body = client.post("/api/v1/match", json={"observables": [value]}, headers=headers).json()
    return [(i["score"], i["last_sighted"]) for hit in body["hits"] for i in hit["indicators"]]


def test_sightings_reach_whom_their_marking_allows_and_refresh_their_scores(
    client: TestClient, engine: Engine, coalition: Coalition
) -> None:
    # Last modified in 2024: an address that old has decayed to 0.
    old = indicator("45.148.10.7", confidence=90)
    ingest_as(engine, "Sponsor B", MEMBERS, [old])
    owner, sensor = coalition.auth("Sponsor B"), coalition.auth("Sponsor A", Role.SENSOR)
    assert scores(client, owner, "45.148.10.7") == [(0.0, None)]

    # Only for Sponsor A: its own sighting refreshes the score it sees, and nobody else's.
    private = file_sightings(
        client, sensor, {"value": "45.148.10.7", "count": 3, "where": "dmz"}, distribution="org"
    )
    assert private.status_code == 200, private.text
    assert private.json()["created"] == 1
    (mine,) = scores(client, coalition.auth("Sponsor A"), "45.148.10.7")
    assert mine[0] > 85
    assert mine[1] is not None
    assert scores(client, owner, "45.148.10.7") == [(0.0, None)]
    listed = client.get("/api/v1/sightings", params={"object_id": old["id"]}, headers=owner)
    assert listed.json()["sightings"] == []

    # Shared with the committee: the owner sees it, who filed it, and the refreshed score.
    shared = file_sightings(
        client,
        sensor,
        {"object_id": old["id"], "count": 2, "last_seen": "2026-11-01T00:00:00Z"},
    )
    assert shared.status_code == 200, shared.text
    (seen,) = client.get(
        "/api/v1/sightings", params={"object_id": old["id"]}, headers=owner
    ).json()["sightings"]
    assert (seen["by"], seen["count"], seen["last_seen"]) == (
        "Sponsor A",
        2,
        "2026-11-01T00:00:00Z",
    )
    ((score, sighted),) = scores(client, owner, "45.148.10.7")
    assert score > 0
    assert sighted == "2026-11-01T00:00:00.000000000Z"


def test_sightings_of_what_the_caller_cannot_see_are_refused_as_absent(
    client: TestClient, engine: Engine, coalition: Coalition
) -> None:
    hidden = indicator("45.148.10.8")
    ingest_as(engine, "Sponsor B", MEMBERS, [hidden])
    contributor = coalition.auth("Contributor", Role.SENSOR)
    by_id = file_sightings(client, contributor, {"object_id": hidden["id"]})
    by_value = file_sightings(client, contributor, {"value": "45.148.10.8"})
    assert by_id.status_code == by_value.status_code == 404
    listed = client.get(
        "/api/v1/sightings", params={"object_id": hidden["id"]}, headers=contributor
    )
    assert listed.status_code == 404

    reader = coalition.auth("Sponsor A", Role.READER)
    assert file_sightings(client, reader, {"object_id": hidden["id"]}).status_code == 403
    both = file_sightings(
        client, coalition.auth("Sponsor A"), {"object_id": hidden["id"], "value": "x.example"}
    )
    assert both.status_code == 400
    late = file_sightings(
        client,
        coalition.auth("Sponsor A"),
        {
            "object_id": hidden["id"],
            "first_seen": "2026-02-01T00:00:00Z",
            "last_seen": "2026-01-01T00:00:00Z",
        },
    )
    assert late.status_code == 400
    assert late.json()["where"] == "sightings[0].last_seen"
