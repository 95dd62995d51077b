"""Organisations, keys, groups and users through REST: who may do what.

The host's org-admin administers the node; a member's org-admin manages only
its own organisation's keys and users; nobody else manages anything. Secrets
are shown once, at creation, and never listed.
"""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from shieldwall.members.model import Role
from tests.factories import Coalition


def _created(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def _forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "forbidden"


def test_host_admin_administers_the_node(client: TestClient, coalition: Coalition) -> None:
    admin = coalition.auth("Host", Role.ORG_ADMIN)

    org = _created(
        client.post(
            "/api/v1/orgs",
            json={"name": "Nordic CERT", "tier": "sponsoring", "country": "fi"},
            headers=admin,
        )
    )
    assert (org["name"], org["tier"], org["country"]) == ("Nordic CERT", "sponsoring", "FI")
    listed = client.get("/api/v1/orgs", headers=admin).json()
    assert "Nordic CERT" in [o["name"] for o in listed]
    assert client.get("/api/v1/orgs/Nordic CERT", headers=admin).json()["tier"] == "sponsoring"

    key = _created(
        client.post("/api/v1/keys", json={"org": "Nordic CERT", "role": "analyst"}, headers=admin)
    )
    assert (key["org"], key["role"]) == ("Nordic CERT", "analyst")
    secret = str(key["key"])
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json() == {"org": "Nordic CERT", "tier": "sponsoring", "role": "analyst"}

    group = _created(
        client.post(
            "/api/v1/groups",
            json={"name": "baltic", "members": ["Nordic CERT", "Sponsor A"]},
            headers=admin,
        )
    )
    assert sorted(group["members"]) == ["Nordic CERT", "Sponsor A"]
    added = client.post("/api/v1/groups/baltic/members", json={"org": "Host"}, headers=admin)
    assert added.status_code == 200
    assert sorted(added.json()["members"]) == ["Host", "Nordic CERT", "Sponsor A"]
    names = [g["name"] for g in client.get("/api/v1/groups", headers=admin).json()]
    assert sorted(names) == ["baltic", "ics"]

    user = _created(
        client.post(
            "/api/v1/users",
            json={"org": "Nordic CERT", "username": "aino", "role": "reader"},
            headers=admin,
        )
    )
    assert (user["username"], user["org"]) == ("aino", "Nordic CERT")
    assert "aino" in [u["username"] for u in client.get("/api/v1/users", headers=admin).json()]


def test_duplicates_and_bad_names_are_refused(client: TestClient, coalition: Coalition) -> None:
    admin = coalition.auth("Host", Role.ORG_ADMIN)
    again = client.post("/api/v1/orgs", json={"name": "Sponsor A"}, headers=admin)
    assert (again.status_code, again.json()["error"], again.json()["where"]) == (
        409,
        "conflict",
        "name",
    )
    second_host = client.post("/api/v1/orgs", json={"name": "New", "tier": "host"}, headers=admin)
    assert second_host.status_code == 409
    bad_name = client.post("/api/v1/orgs", json={"name": "<script>"}, headers=admin)
    assert (bad_name.status_code, bad_name.json()["where"]) == (400, "name")
    bad_country = client.post(
        "/api/v1/orgs", json={"name": "Nowhere", "country": "1Z"}, headers=admin
    )
    assert (bad_country.status_code, bad_country.json()["where"]) == (400, "country")
    group_again = client.post("/api/v1/groups", json={"name": "ics", "members": []}, headers=admin)
    assert group_again.status_code == 409
    unknown_member = client.post(
        "/api/v1/groups", json={"name": "new", "members": ["Nobody"]}, headers=admin
    )
    assert unknown_member.status_code == 404
    key_for_nobody = client.post(
        "/api/v1/keys", json={"org": "Nobody", "role": "analyst"}, headers=admin
    )
    assert key_for_nobody.status_code == 404
    bad_role = client.post("/api/v1/keys", json={"org": "Sponsor A", "role": "god"}, headers=admin)
    assert (bad_role.status_code, bad_role.json()["where"]) == (422, "body.role")


def test_non_host_analyst_administers_nothing(client: TestClient, coalition: Coalition) -> None:
    for org, role in [
        ("Sponsor A", Role.ANALYST),
        ("Sponsor A", Role.ORG_ADMIN),
        ("Host", Role.ANALYST),
    ]:
        auth = coalition.auth(org, role)
        _forbidden(client.post("/api/v1/orgs", json={"name": f"X {org} {role}"}, headers=auth))
        _forbidden(
            client.post(
                "/api/v1/groups", json={"name": f"g-{org}-{role}", "members": []}, headers=auth
            )
        )
        _forbidden(
            client.post("/api/v1/groups/ics/members", json={"org": "Sponsor B"}, headers=auth)
        )
        _forbidden(
            client.post("/api/v1/keys", json={"org": "Sponsor B", "role": "analyst"}, headers=auth)
        )
    analyst = coalition.auth("Sponsor A", Role.ANALYST)
    _forbidden(
        client.post("/api/v1/keys", json={"org": "Sponsor A", "role": "analyst"}, headers=analyst)
    )
    _forbidden(client.get("/api/v1/keys", headers=analyst))
    _forbidden(
        client.post(
            "/api/v1/users",
            json={"org": "Sponsor A", "username": "mallory", "role": "org-admin"},
            headers=analyst,
        )
    )
    names = [o["name"] for o in client.get("/api/v1/orgs", headers=coalition.auth("Host")).json()]
    assert not any(name.startswith("X ") for name in names)


def test_member_admin_manages_only_its_own_organisation(
    client: TestClient, coalition: Coalition
) -> None:
    admin = coalition.auth("Sponsor A", Role.ORG_ADMIN)
    own = _created(
        client.post("/api/v1/keys", json={"org": "Sponsor A", "role": "sensor"}, headers=admin)
    )
    assert (own["org"], own["role"]) == ("Sponsor A", "sensor")
    _forbidden(
        client.post("/api/v1/keys", json={"org": "Sponsor B", "role": "analyst"}, headers=admin)
    )
    _forbidden(
        client.post("/api/v1/keys", json={"org": "Host", "role": "org-admin"}, headers=admin)
    )
    _created(
        client.post(
            "/api/v1/users",
            json={"org": "Sponsor A", "username": "ann", "role": "analyst"},
            headers=admin,
        )
    )
    _forbidden(
        client.post(
            "/api/v1/users",
            json={"org": "Sponsor B", "username": "bob", "role": "analyst"},
            headers=admin,
        )
    )

    keys = client.get("/api/v1/keys", headers=admin).json()
    assert {k["org"] for k in keys} == {"Sponsor A"}
    assert len(keys) == len(Role) + 1
    users = client.get("/api/v1/users", headers=admin).json()
    assert [u["username"] for u in users] == ["ann"]


def test_revoked_key_is_401(client: TestClient, coalition: Coalition) -> None:
    host_admin = coalition.auth("Host", Role.ORG_ADMIN)
    key = _created(
        client.post("/api/v1/keys", json={"org": "Sponsor B", "role": "reader"}, headers=host_admin)
    )
    bearer = {"Authorization": f"Bearer {key['key']}"}
    assert client.get("/api/v1/objects", headers=bearer).status_code == 200

    # Another member's admin is told the key does not exist, not that it is forbidden.
    other = client.delete(
        f"/api/v1/keys/{key['id']}", headers=coalition.auth("Sponsor A", Role.ORG_ADMIN)
    )
    assert other.status_code == 404
    assert client.get("/api/v1/objects", headers=bearer).status_code == 200

    revoked = client.delete(
        f"/api/v1/keys/{key['id']}", headers=coalition.auth("Sponsor B", Role.ORG_ADMIN)
    )
    assert revoked.status_code == 204
    refused = client.get("/api/v1/objects", headers=bearer)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthorized"
    listed = client.get("/api/v1/keys", headers=host_admin).json()
    [row] = [k for k in listed if k["id"] == key["id"]]
    assert row["revoked_at"] is not None
    assert client.delete("/api/v1/keys/999999", headers=host_admin).status_code == 404


def test_key_is_shown_once_and_never_listed(client: TestClient, coalition: Coalition) -> None:
    admin = coalition.auth("Host", Role.ORG_ADMIN)
    created = _created(
        client.post(
            "/api/v1/keys",
            json={"org": "Contributor", "role": "sync", "label": "node B"},
            headers=admin,
        )
    )
    secret = str(created["key"])
    assert secret.startswith("sw_")
    assert len(secret) >= 40

    listing = client.get("/api/v1/keys", headers=admin)
    assert listing.status_code == 200
    every_secret = [secret, *(k for roles in coalition.keys.values() for k in roles.values())]
    for known in every_secret:
        assert known not in listing.text
    for row in listing.json():
        assert set(row) == {"id", "org", "role", "prefix", "label", "created_at", "revoked_at"}
        assert len(row["prefix"]) < 16
    [mine] = [row for row in listing.json() if row["id"] == created["id"]]
    assert (mine["label"], mine["prefix"]) == ("node B", secret[: len(mine["prefix"])])
