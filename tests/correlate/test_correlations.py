"""Correlations, table-driven: equal values, CIDRs, parent domains, URL hosts, IDNs and case.

Each case stores one object of a member holding `stored` and asks for the
correlations of a second object holding `asked`: the relation must be the
expected one (or none), from both stores.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete

from shieldwall.config import Settings
from shieldwall.correlate.service import recorrelate
from shieldwall.correlate.tables import correlation_keys, sighting_refs
from shieldwall.db.engine import write_transaction
from shieldwall.members.model import Role
from shieldwall.sharing.tlp import DistKind, Distribution
from tests.factories import Coalition, indicator
from tests.sharing import ingest_as

MEMBERS = Distribution(DistKind.MEMBERS)
ORG = Distribution(DistKind.ORG)

IP = "ipv4-addr:value"
IP6 = "ipv6-addr:value"
DOMAIN = "domain-name:value"
URL = "url:value"

CASES = [
    # (stored path, stored value, asked path, asked value, relation seen from the asked side)
    (IP, "45.148.10.7", IP, "45.148.10.7", "same"),
    (IP, "45.148.10.0/24", IP, "45.148.10.255", "in-cidr"),
    (IP, "45.148.10.0/24", IP, "45.148.10.0", "in-cidr"),
    (IP, "45.148.10.0/24", IP, "45.148.11.0", None),
    (IP, "45.148.10.0/24", IP, "45.148.9.255", None),
    (IP, "45.148.10.9", IP, "45.148.10.0/24", "contains"),
    (IP, "45.148.10.9", IP, "45.148.10.0/25", "contains"),
    (IP, "45.148.10.200", IP, "45.148.10.0/25", None),
    (IP, "45.148.0.0/16", IP, "45.148.10.0/24", "in-cidr"),
    (IP6, "2a0e:1c80::/32", IP6, "2a0e:1c80:ffff::1", "in-cidr"),
    (IP6, "2a0e:1c80::/32", IP6, "2a0e:1c81::1", None),
    (IP6, "2a0e:1c80:0:0:0:0:0:5", IP6, "2a0e:1c80::5", "same"),
    (IP6, "2a0e:1c80::5", IP6, "2a0e:1c80::/64", "contains"),
    (DOMAIN, "evil.example", DOMAIN, "a.b.EVIL.example", "parent-domain"),
    (DOMAIN, "a.b.evil.example", DOMAIN, "evil.example", "subdomain"),
    (DOMAIN, "evil.example", DOMAIN, "notevil.example", None),
    (DOMAIN, "evil.example", DOMAIN, "evil.example.com", None),
    (DOMAIN, "bücher.example", DOMAIN, "www.BÜCHER.example", "parent-domain"),
    (DOMAIN, "xn--bcher-kva.example", DOMAIN, "bücher.example", "same"),
    (URL, "http://evil.example/x", DOMAIN, "evil.example", "url-on-domain"),
    (URL, "https://cdn.evil.example/x", DOMAIN, "evil.example", "url-on-domain"),
    (URL, "https://evil.example.com/x", DOMAIN, "evil.example", None),
    (DOMAIN, "evil.example", URL, "HTTP://CDN.Evil.Example/path", "url-host"),
    (URL, "HTTP://Evil.Example/path?q=1", URL, "http://evil.example/path?q=1", "same"),
    (URL, "http://evil.example/Path", URL, "http://evil.example/path", None),
]


def relations(body: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for correlation in body["correlations"]:
        for relation in correlation["relations"]:
            found.setdefault(relation["relation"], set()).update(
                obj["id"] for obj in relation["objects"]
            )
    return found


@pytest.mark.parametrize(("stored_path", "stored", "asked_path", "asked", "relation"), CASES)
def test_correlation_semantics(
    client: TestClient,
    engine: Engine,
    coalition: Coalition,
    stored_path: str,
    stored: str,
    asked_path: str,
    asked: str,
    relation: str | None,
) -> None:
    theirs = indicator(stored, stored_path)
    mine = indicator(asked, asked_path)
    ingest_as(engine, "Sponsor B", MEMBERS, [theirs])
    ingest_as(engine, "Sponsor A", ORG, [mine])
    response = client.get(
        "/api/v1/correlations",
        params={"object_id": mine["id"]},
        headers=coalition.auth("Sponsor A"),
    )
    assert response.status_code == 200, response.text
    expected = {relation: {theirs["id"]}} if relation else {}
    assert relations(response.json()) == expected


def test_by_value_over_correlation_and_recorrelate(
    client: TestClient, engine: Engine, coalition: Coalition, settings: Settings
) -> None:
    auth = coalition.auth("Host", Role.READER)
    many = [indicator("evil.example", DOMAIN) for _ in range(4)]
    ingest_as(engine, "Sponsor A", MEMBERS, many)
    under = indicator("x.evil.example", DOMAIN)
    ingest_as(engine, "Sponsor B", MEMBERS, [under])

    body = client.get("/api/v1/correlations", params={"value": "evil.example"}, headers=auth).json()
    assert {r["relation"]: len(r["objects"]) for r in body["relations"]} == {
        "same": 4,
        "subdomain": 1,
    }
    assert body["seen_elsewhere"] == 5
    before = body

    settings.correlation_max_objects = 3  # SHIELDWALL_CORRELATION_MAX_OBJECTS
    body = client.get("/api/v1/correlations", params={"value": "evil.example"}, headers=auth).json()
    (same,) = [r for r in body["relations"] if r["relation"] == "same"]
    assert same == {"relation": "same", "over_correlating": True, "objects": []}

    settings.correlation_exclusions = "evil.example"  # SHIELDWALL_CORRELATION_EXCLUSIONS
    body = client.get("/api/v1/correlations", params={"value": "evil.example"}, headers=auth).json()
    assert body["excluded"] is True
    assert body["relations"] == []
    settings.correlation_exclusions, settings.correlation_max_objects = "", 100

    # Wiped keys come back whole from a rebuild.
    with write_transaction(engine) as conn:
        conn.execute(delete(correlation_keys))
        conn.execute(delete(sighting_refs))
    gone = client.get("/api/v1/correlations", params={"value": "evil.example"}, headers=auth)
    assert "subdomain" not in {r["relation"] for r in gone.json()["relations"]}
    assert recorrelate(engine) == 5
    again = client.get("/api/v1/correlations", params={"value": "evil.example"}, headers=auth)
    assert again.json() == before


def test_bad_requests_and_invisible_objects(
    client: TestClient, engine: Engine, coalition: Coalition
) -> None:
    private = indicator("45.148.10.7")
    ingest_as(engine, "Sponsor B", ORG, [private])
    auth = coalition.auth("Sponsor A")
    hidden = client.get("/api/v1/correlations", params={"object_id": private["id"]}, headers=auth)
    absent = client.get(
        "/api/v1/correlations",
        params={"object_id": "indicator--00000000-0000-4000-8000-000000000000"},
        headers=auth,
    )
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json()["detail"].replace(private["id"], "X") == absent.json()["detail"].replace(
        "indicator--00000000-0000-4000-8000-000000000000", "X"
    )
    assert client.get("/api/v1/correlations", headers=auth).status_code == 400
    bad = client.get("/api/v1/correlations", params={"value": "???"}, headers=auth)
    assert bad.status_code == 400
    by_value = client.get("/api/v1/correlations", params={"value": "45.148.10.7"}, headers=auth)
    assert by_value.json()["relations"] == []
    assert by_value.json()["seen_elsewhere"] == 0
