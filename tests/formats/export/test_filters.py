"""Filters shared by every export, and warninglisted values left out of detection formats."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Coalition, bundle, indicator
from tests.intel.store import post_bundle

ORG = "Sponsor A"


def _txt(client: TestClient, coalition: Coalition, **params: str) -> list[str]:
    response = client.get(
        "/api/v1/export", params={"format": "txt", **params}, headers=coalition.auth(ORG)
    )
    assert response.status_code == 200, response.text
    return response.text.split()


def _post(client: TestClient, coalition: Coalition, value: str, tlp: str, **extra: object) -> None:
    response = post_bundle(
        client,
        coalition.auth(ORG),
        bundle(indicator(value, **extra)),
        tlp=tlp,
        distribution="members",
    )
    assert response.status_code == 200, response.text


def test_tlp_confidence_owner_and_warninglist_filters(
    client: TestClient, coalition: Coalition
) -> None:
    _post(client, coalition, "45.137.21.10", "green", confidence=90)
    _post(client, coalition, "45.137.21.11", "red", confidence=90)
    _post(client, coalition, "45.137.21.12", "green", confidence=20)
    _post(client, coalition, "45.137.21.13", "green")  # no confidence
    _post(client, coalition, "8.8.8.8", "green", confidence=90)  # a public resolver
    everything = _txt(client, coalition, type="ipv4", include_warninglisted="true")
    assert sorted(everything) == [
        "45.137.21.10",
        "45.137.21.11",
        "45.137.21.12",
        "45.137.21.13",
        "8.8.8.8",
    ]
    assert "8.8.8.8" not in _txt(client, coalition, type="ipv4")
    assert "45.137.21.11" not in _txt(client, coalition, type="ipv4", tlp="amber")
    assert sorted(_txt(client, coalition, type="ipv4", min_confidence="50")) == [
        "45.137.21.10",
        "45.137.21.11",
    ]
    assert _txt(client, coalition, type="ipv4", owner="Sponsor B") == []
    assert _txt(client, coalition, type="ipv4", added_since="2999-01-01T00:00:00Z") == []


def test_cidr_warninglists_cover_addresses_inside_listed_ranges(
    client: TestClient, coalition: Coalition
) -> None:
    # Listed only as CIDR blocks (RFC 1918, public resolvers' ranges), which
    # pymispwarninglists' exact search does not see.
    _post(client, coalition, "10.20.30.40", "green")
    _post(client, coalition, "8.8.4.4", "green")
    _post(client, coalition, "45.137.21.20", "green")
    assert _txt(client, coalition, type="ipv4") == ["45.137.21.20"]


def test_unknown_format_and_type_are_clear_errors(client: TestClient, coalition: Coalition) -> None:
    bad = client.get("/api/v1/export", params={"format": "pdf"}, headers=coalition.auth(ORG))
    assert bad.status_code == 400
    assert bad.json()["where"] == "format"
    wrong = client.get(
        "/api/v1/export", params={"format": "zeek", "type": "ipv5"}, headers=coalition.auth(ORG)
    )
    assert wrong.status_code == 400
    assert "ipv5" in wrong.json()["detail"]
