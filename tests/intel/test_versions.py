"""Object versions: `id` + `modified` is one version; every version is kept.

What a consumer relies on: the newest `modified` is the latest whatever the
order of arrival, re-sending a version changes nothing, and a producer cannot
silently rewrite a version it already published.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import Coalition, bundle, indicator, stix_id
from tests.intel.store import post_bundle, report_counts, rows

OLD = "2024-01-01T00:00:00.000Z"
NEW = "2024-02-01T00:00:00.000Z"


def _post(client: TestClient, coalition: Coalition, *objects: dict[str, object]) -> dict:
    response = post_bundle(
        client, coalition.auth("Sponsor A"), bundle(*objects), tlp="green", distribution="members"
    )
    assert response.status_code == 200, response.text
    return response.json()


def _latest(client: TestClient, coalition: Coalition, object_id: str) -> dict:
    response = client.get(f"/api/v1/objects/{object_id}", headers=coalition.auth("Sponsor B"))
    assert response.status_code == 200, response.text
    return response.json()


def _versions(client: TestClient, coalition: Coalition, object_id: str) -> list[dict]:
    response = client.get(
        f"/api/v1/objects/{object_id}/versions", headers=coalition.auth("Sponsor B")
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == object_id
    return response.json()["versions"]


def _listed_ids(client: TestClient, coalition: Coalition) -> list[str]:
    page = client.get("/api/v1/objects", headers=coalition.auth("Sponsor B")).json()
    return [o["id"] for o in page["objects"]]


def test_new_modified_is_a_new_version_and_becomes_latest(
    client: TestClient, coalition: Coalition
) -> None:
    object_id = stix_id("indicator")
    assert report_counts(
        _post(client, coalition, indicator("198.51.100.1", modified=OLD, object_id=object_id))
    ) == (1, 0, 0, 0)
    report = _post(client, coalition, indicator("198.51.100.2", modified=NEW, object_id=object_id))
    assert report_counts(report) == (0, 1, 0, 0)

    latest = _latest(client, coalition, object_id)
    assert latest["object"]["modified"] == NEW
    assert latest["object"]["pattern"] == "[ipv4-addr:value = '198.51.100.2']"
    versions = _versions(client, coalition, object_id)
    assert [v["object"]["modified"] for v in versions] == [OLD, NEW]
    assert [v["latest"] for v in versions] == [False, True]
    # The listing shows an object once, in its latest version.
    assert _listed_ids(client, coalition) == [object_id]


def test_older_version_arriving_later_does_not_become_latest(
    client: TestClient, coalition: Coalition
) -> None:
    object_id = stix_id("indicator")
    _post(client, coalition, indicator("198.51.100.2", modified=NEW, object_id=object_id))
    report = _post(client, coalition, indicator("198.51.100.1", modified=OLD, object_id=object_id))
    assert report_counts(report) == (0, 1, 0, 0)

    assert _latest(client, coalition, object_id)["object"]["modified"] == NEW
    versions = _versions(client, coalition, object_id)
    assert [v["object"]["modified"] for v in versions] == [OLD, NEW]
    assert [v["latest"] for v in versions] == [False, True]
    # Finding by value follows the latest version only.
    old_value = client.get(
        "/api/v1/observables", params={"value": "198.51.100.1"}, headers=coalition.auth("Host")
    )
    assert old_value.json()["objects"] == []


def test_versions_in_one_bundle_in_any_order(client: TestClient, coalition: Coalition) -> None:
    object_id = stix_id("indicator")
    middle = "2024-01-15T00:00:00.000Z"
    report = _post(
        client,
        coalition,
        indicator("198.51.100.2", modified=middle, object_id=object_id),
        indicator("198.51.100.3", modified=NEW, object_id=object_id),
        indicator("198.51.100.1", modified=OLD, object_id=object_id),
    )
    assert report_counts(report) == (1, 2, 0, 0)
    versions = _versions(client, coalition, object_id)
    assert [v["object"]["modified"] for v in versions] == [OLD, middle, NEW]
    assert [v["latest"] for v in versions] == [False, False, True]


def test_same_version_same_content_is_unchanged(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    same = indicator("198.51.100.1", modified=OLD)
    _post(client, coalition, same)
    before = rows(engine)
    # Key order and whitespace are not content: the same object re-serialised.
    reordered = dict(reversed(list(same.items())))
    assert report_counts(_post(client, coalition, reordered)) == (0, 0, 1, 0)
    assert rows(engine) == before


def test_same_version_other_content_is_rejected(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    object_id = stix_id("indicator")
    _post(client, coalition, indicator("198.51.100.1", modified=OLD, object_id=object_id))
    before = rows(engine)
    rewritten = indicator("198.51.100.9", modified=OLD, object_id=object_id)

    strict = post_bundle(client, coalition.auth("Sponsor A"), bundle(rewritten), tlp="green")
    assert strict.status_code == 422
    assert strict.json()["where"] == "objects[0].modified"
    assert rows(engine) == before

    lenient = post_bundle(
        client, coalition.auth("Sponsor A"), bundle(rewritten), tlp="green", mode="lenient"
    )
    assert lenient.status_code == 200
    assert report_counts(lenient.json()) == (0, 0, 0, 1)
    [rejection] = lenient.json()["rejections"]
    assert (rejection["index"], rejection["id"], rejection["field"]) == (0, object_id, "modified")
    assert rows(engine) == before
    assert _latest(client, coalition, object_id)["object"]["pattern"].endswith("'198.51.100.1']")


def test_versions_of_unknown_object_is_404(client: TestClient, coalition: Coalition) -> None:
    response = client.get(
        f"/api/v1/objects/{stix_id('indicator')}/versions", headers=coalition.auth("Host")
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
