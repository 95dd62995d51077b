"""The TAXII 2.1 server through HTTP: collections per caller, contents, filters, writes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from shieldwall.app import create_app
from shieldwall.config import Settings
from shieldwall.intel.tables import observables
from shieldwall.members.model import Role
from shieldwall.taxii import submissions
from shieldwall.taxii.schemas import TAXII_MEDIA_TYPE
from tests.factories import Coalition, indicator, stix_id
from tests.taxii.helpers import ACCEPT, ROOT, collections, headers, ids_of, page_all, post

OWN = "{org} (own)"


@pytest.fixture
def public_client(engine: Engine) -> Iterator[TestClient]:
    """A node that serves public TLP:CLEAR intel without credentials."""
    settings = Settings(database_url="sqlite://", public_read=True, max_body_bytes=5_000_000)
    with TestClient(create_app(settings, engine), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("org", "expected"),
    [
        ("Host", ["Host (own)", "Members", "Group ics", "Public"]),
        ("Sponsor A", ["Sponsor A (own)", "Members", "Group ics", "Public"]),
        ("Sponsor B", ["Sponsor B (own)", "Members", "Public"]),
        ("Contributor", ["Contributor (own)", "Group ics", "Public"]),
        ("Applicant", ["Applicant (own)", "Public"]),
    ],
)
def test_each_caller_gets_the_collections_the_policy_allows(
    client: TestClient, coalition: Coalition, org: str, expected: list[str]
) -> None:
    assert list(collections(client, headers(coalition, org))) == expected


def test_write_flag_follows_the_role(client: TestClient, coalition: Coalition) -> None:
    for role, can_write in [(Role.ANALYST, True), (Role.READER, False), (Role.SENSOR, False)]:
        response = client.get(f"{ROOT}/collections/", headers=headers(coalition, "Host", role))
        assert {c["can_write"] for c in response.json()["collections"]} == {can_write}
    applicant = client.get(f"{ROOT}/collections/", headers=headers(coalition, "Applicant"))
    assert {c["can_write"] for c in applicant.json()["collections"]} == {False}


def test_collection_contents_follow_distribution_and_policy(
    client: TestClient, coalition: Coalition
) -> None:
    sponsor = headers(coalition, "Sponsor A")
    mine = collections(client, sponsor)
    placed = {}
    for title in ["Sponsor A (own)", "Members", "Group ics", "Public"]:
        obj = indicator(f"192.0.2.{len(placed) + 1}")
        assert post(client, mine[title], sponsor, [obj]).json()["success_count"] == 1
        placed[title] = obj["id"]

    def visible(org: str) -> dict[str, list[str]]:
        auth = headers(coalition, org)
        return {
            title: ids_of(client.get(f"{ROOT}/collections/{cid}/objects/", headers=auth))
            for title, cid in collections(client, auth).items()
        }

    assert visible("Sponsor A") == {title: [placed[title]] for title in placed}
    assert visible("Sponsor B") == {
        "Sponsor B (own)": [],
        "Members": [placed["Members"]],
        "Public": [placed["Public"]],
    }
    assert visible("Contributor") == {
        "Contributor (own)": [],
        "Group ics": [placed["Group ics"]],
        "Public": [placed["Public"]],
    }
    # Posted without a TLP marking to `public`: TLP:CLEAR, so even applicants read it.
    assert visible("Applicant")["Public"] == [placed["Public"]]


def test_other_callers_collection_ids_are_answered_as_missing(
    client: TestClient, coalition: Coalition
) -> None:
    members_id = collections(client, headers(coalition, "Sponsor A"))["Members"]
    contributor = headers(coalition, "Contributor")
    hidden = client.get(f"{ROOT}/collections/{members_id}/objects/", headers=contributor)
    missing = client.get(f"{ROOT}/collections/{stix_id('x')[3:]}/objects/", headers=contributor)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    assert hidden.headers["content-type"] == TAXII_MEDIA_TYPE


def test_anonymous_reads_public_clear_only_and_sees_other_collections_as_missing(
    public_client: TestClient, coalition: Coalition
) -> None:
    sponsor = headers(coalition, "Sponsor A")
    mine = collections(public_client, sponsor)
    clear = indicator("192.0.2.10")
    green = indicator(
        "192.0.2.11",
        object_marking_refs=["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    )
    assert post(public_client, mine["Public"], sponsor, [clear, green]).status_code == 202

    assert collections(public_client, ACCEPT) == {"Public": mine["Public"]}
    served = public_client.get(f"{ROOT}/collections/{mine['Public']}/objects/", headers=ACCEPT)
    assert ids_of(served) == [clear["id"]]

    hidden = public_client.get(f"{ROOT}/collections/{mine['Members']}/", headers=ACCEPT)
    missing = public_client.get(f"{ROOT}/collections/{stix_id('x')[3:]}/", headers=ACCEPT)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    posted = post(public_client, mine["Public"], ACCEPT, [indicator()])
    assert posted.status_code == 401


def test_without_public_read_anonymous_callers_get_401_everywhere(
    client: TestClient, coalition: Coalition
) -> None:
    members_id = collections(client, headers(coalition, "Host"))["Members"]
    for path in ["/", "/collections/", f"/collections/{members_id}/objects/"]:
        url = "/taxii2/" if path == "/" else ROOT + path
        response = client.get(url, headers=ACCEPT)
        assert response.status_code == 401
        assert response.json()["http_status"] == "401"
        assert "Basic" in response.headers["www-authenticate"]


def test_basic_auth_with_the_key_as_password(client: TestClient, coalition: Coalition) -> None:
    key = coalition.key("Sponsor B")
    response = client.get(f"{ROOT}/collections/", headers=ACCEPT, auth=("anything", key))
    assert response.status_code == 200
    assert "Sponsor B (own)" in [c["title"] for c in response.json()["collections"]]
    wrong = client.get(f"{ROOT}/collections/", headers=ACCEPT, auth=("anything", "sw_nope"))
    assert wrong.status_code == 401


def _members(client: TestClient, coalition: Coalition) -> str:
    return collections(client, headers(coalition, "Host"))["Members"]


def test_pages_follow_next_without_gaps_and_carry_date_added_headers(
    client: TestClient, coalition: Coalition
) -> None:
    members_id = _members(client, coalition)
    auth = headers(coalition, "Sponsor A")
    first = [indicator(f"198.51.100.{i}") for i in range(7)]
    post(client, members_id, auth, first)
    url = f"{ROOT}/collections/{members_id}/objects/"

    response = client.get(url, headers=auth, params={"limit": 3})
    body = response.json()
    assert body["more"] is True
    assert len(body["objects"]) == 3
    assert response.headers["X-TAXII-Date-Added-First"].endswith("Z")
    assert [o["id"] for o in page_all(client, url, auth, limit=3)] == [o["id"] for o in first]

    last_seen = response.headers["X-TAXII-Date-Added-Last"]
    later = [indicator("198.51.100.200")]
    post(client, members_id, auth, later)
    newer = client.get(url, headers=auth, params={"added_after": last_seen})
    assert ids_of(newer) == [later[0]["id"]]


def test_a_new_version_posted_while_paging_neither_hides_nor_joins_the_snapshot(
    client: TestClient, coalition: Coalition
) -> None:
    members_id = _members(client, coalition)
    auth = headers(coalition, "Sponsor A")
    objects = [indicator(f"198.51.100.{i}") for i in range(4)]
    post(client, members_id, auth, objects)
    url = f"{ROOT}/collections/{members_id}/objects/"

    first = client.get(url, headers=auth, params={"limit": 2}).json()
    revised = {**objects[3], "modified": "2025-01-01T00:00:00.000Z"}
    fresh = indicator("198.51.100.99")
    post(client, members_id, auth, [revised, fresh])
    rest = client.get(url, headers=auth, params={"limit": 2, "next": first["next"]}).json()

    served = [o["id"] for o in first["objects"] + rest["objects"]]
    assert served == [o["id"] for o in objects]
    assert rest["objects"][-1]["modified"] == objects[3]["modified"]
    assert rest["more"] is False


def test_match_filters(client: TestClient, coalition: Coalition) -> None:
    members_id = _members(client, coalition)
    auth = headers(coalition, "Sponsor A")
    oid = stix_id("indicator")
    v1 = indicator("198.51.100.1", object_id=oid, modified="2024-01-01T00:00:00.000Z")
    v2 = indicator("198.51.100.1", object_id=oid, modified="2024-02-01T00:00:00Z")
    v3 = indicator("198.51.100.1", object_id=oid, modified="2024-03-01T00:00:00.000Z")
    other = indicator("198.51.100.2")
    identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": stix_id("identity"),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "Sponsor A CERT",
    }
    post(client, members_id, auth, [v2, v1, v3, other, identity])
    url = f"{ROOT}/collections/{members_id}/objects/"

    def modified(**params: str) -> list[str]:
        response = client.get(url, headers=auth, params={"match[id]": oid, **params})
        return sorted(o["modified"] for o in response.json()["objects"])

    assert modified() == [v3["modified"]]
    assert modified(**{"match[version]": "first"}) == [v1["modified"]]
    assert modified(**{"match[version]": "all"}) == sorted(v["modified"] for v in (v1, v2, v3))
    assert modified(**{"match[version]": "first,last"}) == [v1["modified"], v3["modified"]]
    # Another precision of the same instant names the same version.
    assert modified(**{"match[version]": "2024-02-01T00:00:00.000000Z"}) == [v2["modified"]]
    assert modified(**{"match[spec_version]": "2.0"}) == []
    assert modified(**{"match[spec_version]": "2.0,2.1"}) == [v3["modified"]]

    types = client.get(url, headers=auth, params={"match[type]": "identity"})
    assert ids_of(types) == [identity["id"]]
    both = client.get(url, headers=auth, params={"match[id]": f"{oid},{other['id']}"})
    assert sorted(ids_of(both)) == sorted([oid, other["id"]])


def test_object_versions_and_manifest(client: TestClient, coalition: Coalition) -> None:
    members_id = _members(client, coalition)
    auth = headers(coalition, "Sponsor B")
    oid = stix_id("indicator")
    versions = ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"]
    post(client, members_id, auth, [indicator(object_id=oid, modified=v) for v in versions])
    base = f"{ROOT}/collections/{members_id}"

    got = client.get(f"{base}/objects/{oid}/", headers=auth)
    assert [o["modified"] for o in got.json()["objects"]] == [versions[1]]
    listed = client.get(f"{base}/objects/{oid}/versions/", headers=auth)
    assert listed.headers["content-type"] == TAXII_MEDIA_TYPE
    assert listed.json() == {"more": False, "versions": versions}
    manifest = client.get(f"{base}/manifest/", headers=auth).json()
    assert [(m["id"], m["version"]) for m in manifest["objects"]] == [(oid, versions[1])]
    assert manifest["objects"][0]["media_type"] == "application/stix+json;version=2.1"

    contributor = headers(coalition, "Host")
    own_id = collections(client, contributor)["Host (own)"]
    absent = client.get(f"{ROOT}/collections/{own_id}/objects/{oid}/", headers=contributor)
    assert absent.status_code == 404


def test_delete_is_for_the_owner_only_and_restores_the_previous_version(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    members_id = _members(client, coalition)
    owner = headers(coalition, "Sponsor A")
    oid = stix_id("indicator")
    old, new = "2024-01-01T00:00:00.000Z", "2024-06-01T00:00:00.000Z"
    post(
        client,
        members_id,
        owner,
        [indicator("198.51.100.9", object_id=oid, modified=m) for m in (old, new)],
    )
    url = f"{ROOT}/collections/{members_id}/objects/{oid}/"

    assert client.delete(url, headers=headers(coalition, "Sponsor B")).status_code == 403
    reader = headers(coalition, "Sponsor A", Role.READER)
    assert client.delete(url, headers=reader).status_code == 403
    assert client.delete(url, headers=headers(coalition, "Contributor")).status_code == 404

    dropped = client.delete(url, headers=owner, params={"match[version]": new})
    assert dropped.status_code == 200
    current = client.get(url, headers=headers(coalition, "Sponsor B"))
    assert [o["modified"] for o in current.json()["objects"]] == [old]

    assert client.delete(url, headers=owner).status_code == 200
    assert client.get(url, headers=owner).status_code == 404
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(observables)).scalar_one() == 0


def test_large_bundles_are_imported_in_the_background(
    client: TestClient, coalition: Coalition
) -> None:
    members_id = _members(client, coalition)
    auth = headers(coalition, "Sponsor A")
    objects = [
        indicator(f"10.1.{i // 250}.{i % 250}") for i in range(submissions.BACKGROUND_THRESHOLD + 5)
    ]
    objects[3] = {**objects[3], "pattern": "[not a pattern"}
    response = post(client, members_id, auth, objects)
    assert response.status_code == 202
    pending = response.json()
    assert pending["status"] == "pending"
    assert pending["pending_count"] == pending["total_count"] == len(objects)

    submissions.drain()
    status_url = f"{ROOT}/status/{pending['id']}/"
    done = client.get(status_url, headers=auth).json()
    assert done["status"] == "complete"
    assert (done["success_count"], done["failure_count"], done["pending_count"]) == (
        len(objects) - 1,
        1,
        0,
    )
    [failure] = done["failures"]
    assert failure["id"] == objects[3]["id"]
    assert failure["version"] == objects[3]["modified"]
    assert "objects[3].pattern" in failure["message"]
    assert client.get(status_url, headers=headers(coalition, "Sponsor B")).status_code == 404


def test_status_of_a_small_bundle_is_complete_at_once(
    client: TestClient, coalition: Coalition
) -> None:
    members_id = _members(client, coalition)
    auth = headers(coalition, "Host")
    same = indicator("203.0.113.1")
    first = post(client, members_id, auth, [same, {"type": "indicator"}]).json()
    assert (first["status"], first["success_count"], first["failure_count"]) == ("complete", 1, 1)
    again = post(client, members_id, auth, [same]).json()
    assert again["success_count"] == 1
    stored = client.get(f"{ROOT}/status/{first['id']}/", headers=auth).json()
    assert stored == first
