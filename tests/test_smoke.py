"""End-to-end smoke: a bundle goes in as one organisation and is read as others."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Coalition, bundle, indicator


def test_member_intel_visible_to_committee_not_to_contributor(
    client: TestClient, coalition: Coalition
) -> None:
    body = bundle(indicator("203.0.113.9"))
    response = client.post(
        "/api/v1/bundles?tlp=green&distribution=members",
        json=body,
        headers=coalition.auth("Sponsor A"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1

    seen = client.get("/api/v1/observables?value=203.0.113.9", headers=coalition.auth("Sponsor B"))
    assert [o["owner"] for o in seen.json()["objects"]] == ["Sponsor A"]

    hidden = client.get(
        "/api/v1/observables?value=203.0.113.9", headers=coalition.auth("Contributor")
    )
    assert hidden.json()["objects"] == []
