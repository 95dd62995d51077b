"""Ingest of the real STIX 2.1 data beside the project: ATT&CK for ICS and the OASIS examples.

Exact counts: a change to validation that starts rejecting (or silently
dropping) real-world objects shows up here as a number that moved.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import Coalition
from tests.intel.store import Rows, post_bundle, report_counts, rows

pytestmark = pytest.mark.shared_data

ATTACK_ICS = "stix21/mitre-ics-attack-18.1.json"
ATTACK_ICS_OBJECTS = 1826
OASIS = "stix21/oasis-examples"
#: The seven OASIS bundles and their object counts (259 in all).
OASIS_BUNDLES = {
    "indicator-for-c2-ip-address.json": 1,
    "indicator-to-campaign-relationship.json": 3,
    "indicators-for-C2-with-COA.json": 8,
    "infrastructure.json": 10,
    "malicious-email-indicator-with-attachment.json": 6,
    "threat-reports/apt1.json": 76,
    "threat-reports/poisonivy.json": 155,
}
#: A bare campaign whose second marking ref (…d5ec) names no marking definition.
DANGLING_MARKING = "interop-objectmarking-test.json"
#: Two bundles carry the very same identity version: stored once per owner.
SHARED_IDENTITY_VERSIONS = 1


def test_attack_ics_imports_exactly_and_reimport_changes_nothing(
    client: TestClient, coalition: Coalition, engine: Engine, shared_data: Path
) -> None:
    body = (shared_data / ATTACK_ICS).read_bytes()
    auth = coalition.auth("Sponsor A")

    first = post_bundle(client, auth, body, tlp="clear", distribution="public")
    assert first.status_code == 200, first.text
    assert first.json()["objects"] == ATTACK_ICS_OBJECTS
    assert report_counts(first.json()) == (ATTACK_ICS_OBJECTS, 0, 0, 0)
    assert first.json()["committed"] is True
    after_first = rows(engine)
    assert after_first.objects == ATTACK_ICS_OBJECTS

    again = post_bundle(client, auth, body, tlp="clear", distribution="public")
    assert again.status_code == 200, again.text
    assert report_counts(again.json()) == (0, 0, ATTACK_ICS_OBJECTS, 0)
    assert rows(engine) == after_first


def test_attack_ics_objects_are_readable_by_type(
    client: TestClient, coalition: Coalition, shared_data: Path
) -> None:
    body = (shared_data / ATTACK_ICS).read_bytes()
    post_bundle(client, coalition.auth("Sponsor A"), body, tlp="green", distribution="members")

    page = client.get(
        "/api/v1/objects",
        params={"type": "x-mitre-tactic", "limit": 1000},
        headers=coalition.auth("Sponsor B"),
    )
    assert page.status_code == 200
    tactics = page.json()["objects"]
    # ATT&CK for ICS has twelve tactics, from Initial Access to Impact.
    assert len(tactics) == 12
    assert {t["owner"] for t in tactics} == {"Sponsor A"}
    assert {t["tlp"] for t in tactics} == {"green"}


def test_oasis_examples_import_exactly(
    client: TestClient, coalition: Coalition, engine: Engine, shared_data: Path
) -> None:
    auth = coalition.auth("Sponsor B")
    objects = created = unchanged = 0
    for name, expected in OASIS_BUNDLES.items():
        body = (shared_data / OASIS / name).read_bytes()
        response = post_bundle(client, auth, body, tlp="green", distribution="members")
        assert response.status_code == 200, f"{name}: {response.text}"
        report = response.json()
        assert report["objects"] == expected, name
        assert report["rejected"] == 0, f"{name}: {report['rejections']}"
        assert report["new_versions"] == 0, name
        objects += report["objects"]
        created += report["created"]
        unchanged += report["unchanged"]

    assert objects == sum(OASIS_BUNDLES.values()) == 259
    assert unchanged == SHARED_IDENTITY_VERSIONS
    assert created == 259 - SHARED_IDENTITY_VERSIONS
    assert rows(engine).objects == created


def test_oasis_dangling_marking_is_rejected_in_lenient_mode(
    client: TestClient, coalition: Coalition, engine: Engine, shared_data: Path
) -> None:
    body = (shared_data / OASIS / DANGLING_MARKING).read_bytes()
    response = post_bundle(
        client,
        coalition.auth("Sponsor B"),
        body,
        tlp="green",
        distribution="members",
        mode="lenient",
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report_counts(report) == (0, 0, 0, 1)
    [rejection] = report["rejections"]
    assert rejection["index"] == 0
    assert rejection["id"] == "campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"
    assert rejection["field"] == "object_marking_refs"
    assert "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ec" in rejection["reason"]
    assert rows(engine) == Rows(0, 0)


def test_oasis_dangling_marking_refuses_the_whole_import_in_strict_mode(
    client: TestClient, coalition: Coalition, engine: Engine, shared_data: Path
) -> None:
    body = (shared_data / OASIS / DANGLING_MARKING).read_bytes()
    response = post_bundle(
        client, coalition.auth("Sponsor B"), body, tlp="green", distribution="members"
    )
    assert response.status_code == 422
    error = response.json()
    assert error["error"] == "validation_failed"
    assert error["where"] == "objects[0].object_marking_refs"
    assert rows(engine) == Rows(0, 0)


#: Values in the OASIS indicators' patterns, and the observable type they normalise to.
OASIS_VALUES = [
    ("10.0.0.0", "ipv4"),  # indicator-for-c2-ip-address
    ("ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c", "sha256"),
    ("223.166.0.0/15", "cidr"),  # apt1: an address block written as ipv4-addr:value
    ("hugesoft.org", "domain"),  # apt1
    ("www.webserver.dynssl.com", "domain"),  # poisonivy: first of an OR-chain
    ("98.126.148.114", "ipv4"),  # poisonivy: last of an eleven-term OR-chain
    ("CBricksDoc", "filename"),  # poisonivy: file:name
    # apt1 writes `file:hashes.md5`; SCO hash keys are matched case-insensitively,
    # so patterns must be too or these hashes can never be found.
    ("001dd76872d80801692ff942308c64e6", "md5"),
]


def test_oasis_indicator_values_are_found_by_value(
    client: TestClient, coalition: Coalition, shared_data: Path
) -> None:
    auth = coalition.auth("Sponsor B")
    for name in OASIS_BUNDLES:
        body = (shared_data / OASIS / name).read_bytes()
        post_bundle(client, auth, body, tlp="green", distribution="members")

    missing: list[str] = []
    for value, kind in OASIS_VALUES:
        found = client.get(
            "/api/v1/observables",
            params={"value": value, "type": kind},
            headers=coalition.auth("Sponsor A"),
        )
        assert found.status_code == 200, found.text
        objects = found.json()["objects"]
        if not objects:
            missing.append(f"{kind} {value}")
            continue
        assert {o["type"] for o in objects} == {"indicator"}, value
        assert all(value.lower() in o["object"]["pattern"].lower() for o in objects), value
    assert missing == [], "not extracted from the OASIS indicators"


def test_oasis_c2_ip_is_found_without_a_type(
    client: TestClient, coalition: Coalition, shared_data: Path
) -> None:
    body = (shared_data / OASIS / "indicator-for-c2-ip-address.json").read_bytes()
    post_bundle(client, coalition.auth("Sponsor B"), body, tlp="green", distribution="members")
    found = client.get(
        "/api/v1/observables", params={"value": "10.0.0.0"}, headers=coalition.auth("Sponsor A")
    )
    assert found.status_code == 200
    assert found.json()["type"] == "ipv4"
    [hit] = found.json()["objects"]
    assert hit["id"] == "indicator--33fe3b22-0201-47cf-85d0-97c02164528d"
    assert hit["owner"] == "Sponsor B"
    # A contributing participant is not on the committee: `members` does not reach it.
    hidden = client.get(
        "/api/v1/observables", params={"value": "10.0.0.0"}, headers=coalition.auth("Contributor")
    )
    assert hidden.json()["objects"] == []
