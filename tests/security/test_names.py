"""Names one organisation keeps to itself must not be discoverable by colliding with them.

Feeds are managed per organisation (another organisation's feed answers 404),
and users per organisation (`GET /users` lists only the caller's). Creating a
feed or a user under a name another organisation already uses must therefore
answer as for a fresh name; a 409 tells the caller that the other
organisation's feed or user exists.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from shieldwall.members.model import Role
from tests.factories import Coalition

FEEDS = "/api/v1/feeds"


def _feed(name: str, org: str) -> dict[str, Any]:
    # Disabled: the scheduler must not try to reach the (unreachable) URL.
    return {
        "name": name,
        "kind": "misp",
        "url": "https://feeds.example.invalid/misp/",
        "org": org,
        "enabled": False,
    }


def _admin(coalition: Coalition, org: str) -> dict[str, str]:
    return coalition.auth(org, Role.ORG_ADMIN)


def test_another_organisations_feed_is_hidden_from_reads(
    client: TestClient, coalition: Coalition
) -> None:
    created = client.post(
        FEEDS, json=_feed("b-osint", "Sponsor B"), headers=_admin(coalition, "Sponsor B")
    )
    assert created.status_code == 201, created.text
    headers = _admin(coalition, "Sponsor A")
    hidden = client.get(f"{FEEDS}/b-osint", headers=headers)
    absent = client.get(f"{FEEDS}/no-such-feed", headers=headers)
    assert (
        (hidden.status_code, hidden.json()["error"])
        == (absent.status_code, absent.json()["error"])
        == (404, "not_found")
    )
    assert [feed["name"] for feed in client.get(FEEDS, headers=headers).json()] == []


def test_creating_a_feed_under_a_hidden_feeds_name_answers_as_for_a_fresh_name(
    client: TestClient, coalition: Coalition
) -> None:
    created = client.post(
        FEEDS, json=_feed("osint", "Sponsor B"), headers=_admin(coalition, "Sponsor B")
    )
    assert created.status_code == 201, created.text
    headers = _admin(coalition, "Sponsor A")
    assert client.get(f"{FEEDS}/osint", headers=headers).status_code == 404
    fresh = client.post(FEEDS, json=_feed("fresh", "Sponsor A"), headers=headers)
    colliding = client.post(FEEDS, json=_feed("osint", "Sponsor A"), headers=headers)
    assert colliding.status_code == fresh.status_code == 201, colliding.text


def test_a_taken_username_is_refused_without_naming_its_organisation(
    client: TestClient, coalition: Coalition
) -> None:
    """Usernames are node-wide login names (the console signs in by username alone),
    so a taken one is refused; the refusal says nothing of who holds it.

    A deliberate, recorded decision: the name is an account identifier, not intel.
    """
    body = {"org": "Sponsor B", "username": "j.doe", "role": "analyst"}
    created = client.post("/api/v1/users", json=body, headers=_admin(coalition, "Sponsor B"))
    assert created.status_code == 201, created.text
    headers = _admin(coalition, "Sponsor A")
    listed = client.get("/api/v1/users", headers=headers).json()
    assert "j.doe" not in [user["username"] for user in listed]
    colliding = {"org": "Sponsor A", "username": "j.doe", "role": "analyst"}
    answer = client.post("/api/v1/users", json=colliding, headers=headers)
    assert answer.status_code == 409, answer.text
    assert "Sponsor B" not in answer.text
    assert set(answer.json()) == {"error", "detail", "where"}
