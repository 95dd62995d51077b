"""`min_score`: exports keep what the decaying score (as matching computes it) keeps.

Scores here (see `shieldwall.scoring`): an IPv4 address lives 30 days with
speed 2, so confidence 90 refreshed a day ago scores 73.6 and 20 days ago
16.5; a SHA-256 lives ten years, so 20 days cost it nothing worth counting.
A sighting refreshes its indicator only for callers who may see the sighting.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi.testclient import TestClient

from tests.factories import Coalition, bundle, indicator, stix_id
from tests.intel.store import post_bundle

ORG = "Sponsor A"


def _stamp(days_ago: float) -> str:
    moment = datetime.now(UTC) - timedelta(days=days_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _post(
    client: TestClient, owner: str, coalition: Coalition, obj: dict[str, Any], **marking: str
) -> None:
    response = post_bundle(
        client,
        coalition.auth(owner),
        bundle(obj),
        tlp=marking.get("tlp", "green"),
        distribution=marking.get("distribution", "members"),
    )
    assert response.status_code == 200, response.text


def _indicator(value: str, days_ago: float, **extra: Any) -> dict[str, Any]:
    return indicator(value, object_id=stix_id("indicator"), modified=_stamp(days_ago), **extra)


def _sighting(of: str, days_ago: float) -> dict[str, Any]:
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": _stamp(days_ago),
        "modified": _stamp(days_ago),
        "sighting_of_ref": of,
        "last_seen": _stamp(days_ago),
    }


def _export(client: TestClient, coalition: Coalition, **params: str) -> str:
    response = client.get("/api/v1/export", params=params, headers=coalition.auth(ORG))
    assert response.status_code == 200, response.text
    return response.text


def test_min_score_keeps_values_whose_decayed_score_reaches_it(
    client: TestClient, coalition: Coalition
) -> None:
    fresh = _indicator("45.137.21.1", 1, confidence=90)  # 73.6
    stale = _indicator("45.137.21.2", 20, confidence=90)  # 16.5
    sighted = _indicator("45.137.21.3", 20, confidence=90)  # refreshed: 73.6
    sighted_unseen = _indicator("45.137.21.4", 20, confidence=90)  # hidden sighting: 16.5
    default_base = _indicator("45.137.21.5", 1)  # 75 * 0.817 = 61.3
    doubtful = _indicator("45.137.21.6", 1, confidence=10)  # 8.2
    old_hash = _indicator("a" * 64, 20, confidence=90)  # ~90
    old_hash["pattern"] = f"[file:hashes.'SHA-256' = '{'a' * 64}']"
    for obj in (fresh, stale, sighted, sighted_unseen, default_base, doubtful, old_hash):
        _post(client, ORG, coalition, obj)
    _post(client, "Sponsor B", coalition, _sighting(sighted["id"], 1))
    _post(client, "Sponsor B", coalition, _sighting(sighted_unseen["id"], 1), distribution="org")

    everything = _export(client, coalition, format="txt", type="ipv4").split()
    assert len(everything) == 6
    kept = _export(client, coalition, format="txt", type="ipv4", min_score="50").split()
    assert sorted(kept) == ["45.137.21.1", "45.137.21.3", "45.137.21.5"]
    assert _export(client, coalition, format="txt", type="sha256", min_score="80").split() == [
        "a" * 64
    ]
    zeek = _export(client, coalition, format="zeek", min_score="50")
    assert sorted(line.split("\t")[0] for line in zeek.splitlines()[1:]) == [
        "45.137.21.1",
        "45.137.21.3",
        "45.137.21.5",
        "a" * 64,
    ]
    document = orjson.loads(_export(client, coalition, format="stix21", min_score="50"))
    exported = {obj["id"] for obj in document["objects"]}
    # Sightings carry no value, so they have no score: they meet no minimum.
    assert exported == {fresh["id"], sighted["id"], default_base["id"], old_hash["id"]}


def test_min_score_out_of_range_is_refused(client: TestClient, coalition: Coalition) -> None:
    response = client.get(
        "/api/v1/export",
        params={"format": "csv", "min_score": "101"},
        headers=coalition.auth(ORG),
    )
    assert response.status_code == 422
    assert "min_score" in response.text
