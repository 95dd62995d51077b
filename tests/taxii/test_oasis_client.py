"""The OASIS `taxii2-client` drives our server over real HTTP, as several organisations."""

from __future__ import annotations

from typing import Any

import pytest
from requests.exceptions import HTTPError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from shieldwall.members.model import Role
from tests.factories import Coalition, indicator, stix_id


def _collections(
    base: str, coalition: Coalition, org: str, role: Role = Role.ANALYST
) -> dict[str, Collection]:
    server = Server(f"{base}/taxii2/", user=org, password=coalition.key(org, role))
    [api_root] = server.api_roots
    assert server.default.url == api_root.url
    return {c.title: c for c in api_root.collections}


def test_discovery_and_api_root(live_server: str, coalition: Coalition) -> None:
    server = Server(f"{live_server}/taxii2/", user="x", password=coalition.key("Host"))
    assert server.title == "shieldwall"
    [root] = server.api_roots
    assert isinstance(root, ApiRoot)
    assert root.versions == ["application/taxii+json;version=2.1"]
    assert root.max_content_length == 50_000_000


def test_each_organisation_gets_its_own_collections(live_server: str, coalition: Coalition) -> None:
    titles = {
        org: sorted(_collections(live_server, coalition, org))
        for org in ("Sponsor A", "Sponsor B", "Contributor", "Applicant")
    }
    assert titles == {
        "Sponsor A": ["Group ics", "Members", "Public", "Sponsor A (own)"],
        "Sponsor B": ["Members", "Public", "Sponsor B (own)"],
        "Contributor": ["Contributor (own)", "Group ics", "Public"],
        "Applicant": ["Applicant (own)", "Public"],
    }
    reader = _collections(live_server, coalition, "Sponsor A", Role.READER)
    assert {c.can_write for c in reader.values()} == {False}


def _envelope(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {"objects": objects}


def test_add_page_manifest_versions_get_and_delete(live_server: str, coalition: Coalition) -> None:
    sponsor = _collections(live_server, coalition, "Sponsor A")
    group = sponsor["Group ics"]
    objects = [indicator(f"198.51.100.{i}") for i in range(25)]
    status = group.add_objects(_envelope(objects))
    assert (status.status, status.success_count, status.failure_count) == ("complete", 25, 0)

    contributor = _collections(live_server, coalition, "Contributor")["Group ics"]
    pages = list(as_pages(contributor.get_objects, per_request=10))
    assert [len(p["objects"]) for p in pages] == [10, 10, 5]
    assert [o["id"] for p in pages for o in p["objects"]] == [o["id"] for o in objects]
    manifest = list(as_pages(contributor.get_manifest, per_request=20))
    assert sum(len(p["objects"]) for p in manifest) == 25

    # Sponsor B is not in the group: the group's collection is not there for it.
    assert "Group ics" not in _collections(live_server, coalition, "Sponsor B")

    oid = objects[0]["id"]
    revised = {**objects[0], "modified": "2024-05-01T00:00:00.000Z"}
    assert group.add_objects(_envelope([revised])).success_count == 1
    versions = contributor.object_versions(oid)
    assert versions["versions"] == [objects[0]["modified"], revised["modified"]]
    latest = contributor.get_object(oid)
    assert [o["modified"] for o in latest["objects"]] == [revised["modified"]]
    every = contributor.get_object(oid, version="all")
    assert len(every["objects"]) == 2

    with pytest.raises(HTTPError) as refused:
        contributor.delete_object(oid)
    assert refused.value.response.status_code == 403
    group.delete_object(oid)
    with pytest.raises(HTTPError) as gone:
        contributor.get_object(oid)
    assert gone.value.response.status_code == 404


def test_a_large_bundle_completes_in_the_background(live_server: str, coalition: Coalition) -> None:
    members = _collections(live_server, coalition, "Host")["Members"]
    objects = [indicator(f"10.2.{i // 200}.{i % 200}") for i in range(1500)]
    objects.append({"type": "indicator", "spec_version": "2.1", "id": stix_id("indicator")})
    status = members.add_objects(_envelope(objects), poll_interval=0.05, timeout=120)
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count) == (1501, 1500, 1)
    assert status.failures[0]["id"] == objects[-1]["id"]

    sponsor = _collections(live_server, coalition, "Sponsor B")["Members"]
    seen = sum(len(p.get("objects", [])) for p in as_pages(sponsor.get_objects, per_request=1000))
    assert seen == 1500
