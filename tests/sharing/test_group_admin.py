"""Removing an organisation from a sharing group: who may, and what it stops seeing.

`DELETE /api/v1/groups/{name}/members/{org}` is a host administrator's act,
as adding is. Once removed, the organisation reads the group's intel through
no read path, and an object of the group answers it exactly like a missing one;
the remaining members are unaffected, and adding the organisation back
restores what it sees.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.db.engine import read_transaction
from shieldwall.members.model import Role
from shieldwall.sharing import repository
from shieldwall.sharing.tlp import DistKind, Distribution
from tests.factories import GROUP, GROUP_MEMBERS, Coalition, indicator
from tests.sharing import ingest_as

VALUE = "45.148.10.77"
ABSENT_ID = "indicator--00000000-0000-4000-8000-000000000000"


def _group_intel(engine: Engine) -> dict[str, Any]:
    """An indicator of Sponsor A shared into the group (TLP:AMBER) and nowhere else."""
    shared = indicator(VALUE)
    with read_transaction(engine) as conn:
        group = repository.group_by_name(conn, GROUP)
    assert group is not None
    report = ingest_as(
        engine, "Sponsor A", Distribution(DistKind.GROUP, group["id"], GROUP), [shared]
    )
    assert report.created == 1
    return shared


def _without(response: httpx.Response, text: str) -> tuple[int, bytes]:
    return response.status_code, response.content.replace(text.encode(), b"<id>")


def _seen_by(client: TestClient, headers: dict[str, str], stix_id: str) -> dict[str, bool]:
    """Whether the object reaches the caller, through each read path."""
    listing = client.get("/api/v1/objects", params={"limit": 500}, headers=headers)
    one = client.get(f"/api/v1/objects/{stix_id}", headers=headers)
    search = client.get("/api/v1/observables", params={"value": VALUE}, headers=headers)
    match = client.post("/api/v1/match", json={"observables": [VALUE]}, headers=headers)
    export = client.get(
        "/api/v1/export",
        params={"format": "stix21", "include_warninglisted": "true"},
        headers=headers,
    )
    for response in (listing, search, match, export):
        assert response.status_code == 200, response.text
    if one.status_code == 404:
        absent = client.get(f"/api/v1/objects/{ABSENT_ID}", headers=headers)
        # Hidden reads exactly as absent: same status, same body but for the id asked.
        assert _without(one, stix_id) == _without(absent, ABSENT_ID)
    else:
        assert one.status_code == 200, one.text
    return {
        "list": stix_id in [o["id"] for o in listing.json()["objects"]],
        "get": one.status_code == 200,
        "observables": stix_id in [o["id"] for o in search.json()["objects"]],
        "match": stix_id in [i["id"] for hit in match.json()["hits"] for i in hit["indicators"]],
        "export": stix_id in export.text or VALUE in export.text,
    }


EVERYWHERE = dict.fromkeys(["list", "get", "observables", "match", "export"], True)
NOWHERE = dict.fromkeys(EVERYWHERE, False)


def _remove(client: TestClient, org: str, auth: dict[str, str]) -> httpx.Response:
    return client.delete(f"/api/v1/groups/{GROUP}/members/{org}", headers=auth)


def _members(client: TestClient, auth: dict[str, str]) -> list[str]:
    [group] = [g for g in client.get("/api/v1/groups", headers=auth).json() if g["name"] == GROUP]
    return list(group["members"])


def test_a_removed_organisation_no_longer_sees_the_groups_intel(
    client: TestClient, engine: Engine, coalition: Coalition
) -> None:
    shared = _group_intel(engine)
    admin = coalition.auth("Host", Role.ORG_ADMIN)
    contributor = coalition.auth("Contributor", Role.ANALYST)
    assert _seen_by(client, contributor, shared["id"]) == EVERYWHERE

    removed = _remove(client, "Contributor", admin)
    assert (removed.status_code, removed.content) == (204, b"")
    assert _members(client, admin) == sorted(set(GROUP_MEMBERS) - {"Contributor"})
    assert _seen_by(client, contributor, shared["id"]) == NOWHERE
    assert GROUP not in [
        g["name"] for g in client.get("/api/v1/groups", headers=contributor).json()
    ]
    # The remaining members still see it.
    for org in ("Host", "Sponsor A"):
        assert _seen_by(client, coalition.auth(org), shared["id"]) == EVERYWHERE, org

    # Added back, it sees the group's intel again.
    added = client.post(
        f"/api/v1/groups/{GROUP}/members", json={"org": "Contributor"}, headers=admin
    )
    assert added.status_code == 200, added.text
    assert _seen_by(client, contributor, shared["id"]) == EVERYWHERE


def test_the_owner_removed_from_the_group_keeps_its_own_object(
    client: TestClient, engine: Engine, coalition: Coalition
) -> None:
    shared = _group_intel(engine)
    admin = coalition.auth("Host", Role.ORG_ADMIN)
    assert _remove(client, "Sponsor A", admin).status_code == 204
    assert _seen_by(client, coalition.auth("Sponsor A"), shared["id"]) == EVERYWHERE
    assert _seen_by(client, coalition.auth("Contributor"), shared["id"]) == EVERYWHERE


@pytest.mark.parametrize(
    ("org", "role"),
    [
        ("Sponsor A", Role.ORG_ADMIN),
        ("Contributor", Role.ORG_ADMIN),
        ("Host", Role.ANALYST),
        ("Host", Role.READER),
    ],
)
def test_only_a_host_admin_removes_members(
    client: TestClient, engine: Engine, coalition: Coalition, org: str, role: Role
) -> None:
    refused = _remove(client, "Contributor", coalition.auth(org, role))
    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    # The same answer as adding gets.
    adding = client.post(
        f"/api/v1/groups/{GROUP}/members",
        json={"org": "Sponsor B"},
        headers=coalition.auth(org, role),
    )
    assert adding.status_code == 403
    assert _members(client, coalition.auth("Host", Role.ORG_ADMIN)) == sorted(GROUP_MEMBERS)


def test_removing_what_is_not_there_is_404(client: TestClient, coalition: Coalition) -> None:
    admin = coalition.auth("Host", Role.ORG_ADMIN)
    for path, where in [
        (f"/api/v1/groups/{GROUP}/members/Sponsor B", "org"),
        (f"/api/v1/groups/{GROUP}/members/Nobody", "org"),
        ("/api/v1/groups/no-such-group/members/Contributor", "group"),
    ]:
        response = client.delete(path, headers=admin)
        assert (response.status_code, response.json()["where"]) == (404, where), path
    assert _members(client, admin) == sorted(GROUP_MEMBERS)
    assert _remove(client, "Contributor", admin).status_code == 204
    assert _remove(client, "Contributor", admin).status_code == 404
