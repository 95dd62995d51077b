"""Objects without timestamps of their own (SCOs) in the exports that count time.

STIX 2.1 gives an SCO no `created` or `modified`; its version is timed by
when this node stored it. MISP's attribute timestamps and `min_score`'s age
are counted from there, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import io
import time
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi.testclient import TestClient
from pymisp import MISPEvent

from tests.factories import Coalition, bundle, indicator, stix_id
from tests.intel.store import post_bundle

ORG = "Sponsor A"
SCO_IP = "198.51.100.77"
SCO = {
    "type": "ipv4-addr",
    "spec_version": "2.1",
    "id": "ipv4-addr--2f5c7e3a-4c1e-5b6a-9d8e-1a2b3c4d5e6f",
    "value": SCO_IP,
}


def _stale_indicator() -> dict[str, Any]:
    twenty_days_ago = (datetime.now(UTC) - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return indicator(
        "45.137.21.9", object_id=stix_id("indicator"), modified=twenty_days_ago, confidence=90
    )


def _store(client: TestClient, coalition: Coalition) -> tuple[int, int]:
    """Posts the SCO and a 20-day-old indicator; the epoch seconds around the post."""
    before = int(time.time())
    response = post_bundle(
        client, coalition.auth(ORG), bundle(SCO, _stale_indicator()), tlp="green"
    )
    assert response.status_code == 200, response.text
    return before, int(time.time()) + 1


def _export(client: TestClient, coalition: Coalition, **params: str) -> bytes:
    response = client.get("/api/v1/export", params=params, headers=coalition.auth(ORG))
    assert response.status_code == 200, response.text
    return response.content


def _events(document: Any) -> list[dict[str, Any]]:
    """The events of a MISP export document (`{"response": [{"Event": ...}, ...]}`)."""
    return [item["Event"] for item in document["response"]]


def _sco_timestamps(event: dict[str, Any]) -> list[int]:
    return [int(a["timestamp"]) for a in event["Attribute"] if a["value"] == SCO_IP]


def test_misp_times_an_sco_by_when_it_was_stored(client: TestClient, coalition: Coalition) -> None:
    before, after = _store(client, coalition)
    events = _events(orjson.loads(_export(client, coalition, format="misp")))
    stamps = [stamp for event in events for stamp in _sco_timestamps(event)]
    assert len(stamps) == 1
    assert before <= stamps[0] <= after
    for event in events:
        MISPEvent().from_dict(Event=event)  # PyMISP takes it


def test_misp_feed_carries_the_sco(client: TestClient, coalition: Coalition) -> None:
    before, after = _store(client, coalition)
    archive = _export(client, coalition, format="misp-feed", archive="zip")
    with zipfile.ZipFile(io.BytesIO(archive)) as feed:
        events = [
            orjson.loads(feed.read(name))["Event"]
            for name in feed.namelist()
            if name.endswith(".json") and not name.endswith("manifest.json")
        ]
    stamps = [stamp for event in events for stamp in _sco_timestamps(event)]
    assert len(stamps) == 1
    assert before <= stamps[0] <= after


def test_min_score_ages_an_sco_from_when_it_was_stored(
    client: TestClient, coalition: Coalition
) -> None:
    """Stored just now, the SCO keeps its base score (75); the stale indicator has 16.5."""
    _store(client, coalition)
    csv_rows = _export(client, coalition, format="csv", min_score="70").decode().splitlines()
    assert [row.split(",")[0] for row in csv_rows[1:]] == [SCO_IP]
    document = orjson.loads(_export(client, coalition, format="stix21", min_score="70"))
    assert [obj["id"] for obj in document["objects"]] == [SCO["id"]]
    events = _events(orjson.loads(_export(client, coalition, format="misp", min_score="70")))
    values = {a["value"] for event in events for a in event["Attribute"]}
    assert values == {SCO_IP}
