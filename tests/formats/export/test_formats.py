"""Every format checked by the tools of the field: stix2-validator, PyMISP, idstools."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path

import idstools.rule
import pytest
import suricata_check
from fastapi.testclient import TestClient
from pymisp import MISPEvent
from stix2validator import ValidationOptions, validate_string
from suricata_check.utils.rule import parse as suricata_parse

from shieldwall.formats.export import zeek
from shieldwall.members.model import Role
from tests.factories import Coalition
from tests.formats.export.conftest import Stored

ORG = "Sponsor A"


def _get(client: TestClient, coalition: Coalition, **params: str) -> bytes:
    response = client.get("/api/v1/export", params=params, headers=coalition.auth(ORG, Role.SENSOR))
    assert response.status_code == 200, response.text
    return response.content


def test_stix21_bundle_passes_the_oasis_validator(
    client: TestClient, coalition: Coalition, stored: Stored
) -> None:
    body = _get(client, coalition, format="stix21")
    results = validate_string(body.decode(), ValidationOptions(version="2.1"))
    assert results.is_valid, [str(e) for o in results.object_results for e in o.errors]
    ids = {obj["id"] for obj in json.loads(body)["objects"]}
    assert ids >= {sid for sid, owner in stored.posted_by.items() if owner == ORG}


def test_misp_events_load_in_pymisp(
    client: TestClient, coalition: Coalition, stored: Stored
) -> None:
    document = json.loads(_get(client, coalition, format="misp"))
    values: set[str] = set()
    for item in document["response"]:
        event = MISPEvent()
        event.load(item)
        values.update(str(attribute.value) for attribute in event.attributes)
    mine = [v for sid, vs in stored.values.items() if stored.posted_by[sid] == ORG for v in vs]
    assert set(mine) <= values


def test_misp_feed_zip_holds_manifest_hashes_and_events(
    client: TestClient, coalition: Coalition, stored: Stored
) -> None:
    archive = zipfile.ZipFile(io.BytesIO(_get(client, coalition, format="misp-feed")))
    names = {Path(name).name for name in archive.namelist()}
    manifest = json.loads(archive.read("misp-feed/manifest.json"))
    assert names == {"manifest.json", "hashes.csv", *(f"{uuid}.json" for uuid in manifest)}
    hashes = archive.read("misp-feed/hashes.csv").decode().splitlines()
    for event_uuid in manifest:
        event = MISPEvent()
        event.load(json.loads(archive.read(f"misp-feed/{event_uuid}.json")))
        assert str(event.uuid) == event_uuid
        assert any(line.endswith("," + event_uuid) for line in hashes)


def _rules(body: bytes) -> list[str]:
    return [line for line in body.decode().splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("fmt", ["suricata", "snort"])
def test_rules_parse_with_idstools_and_sids_are_unique_and_stable(
    client: TestClient, coalition: Coalition, stored: Stored, fmt: str
) -> None:
    first = _rules(_get(client, coalition, format=fmt, include_warninglisted="true"))
    parsed = [idstools.rule.parse(line) for line in first]
    assert all(rule is not None for rule in parsed), first
    if fmt == "suricata":  # the rule kinds suricata-check judges (on SQLite only, below)
        assert any("dns.query" in r for r in first)
        assert any("filemd5:" in r for r in first)
    sids = [rule.sid for rule in parsed]
    assert len(set(sids)) == len(sids)
    assert all(sid >= 1_000_000_000 for sid in sids)
    owners = set(stored.posted_by.values())
    named = [rule.msg for rule in parsed if rule.sid > 1_000_000_015]
    assert named
    assert all("TLP:" in msg and any(o in msg for o in owners) for msg in named)
    again = _rules(_get(client, coalition, format=fmt, include_warninglisted="true"))
    assert again == first
    based = [
        idstools.rule.parse(line).sid
        for line in _rules(_get(client, coalition, format=fmt, sid_base="5000000"))
    ]
    assert based
    assert all(5_000_000 < sid < 5_000_000 + 2**28 + 16 for sid in based)


# The rules are text built from the stored values; the backend only decides which
# rows are read, which every export policy test checks on both. suricata-check
# takes about a second per rule, so it judges the rules once, on SQLite; the
# PostgreSQL export is still parsed rule by rule by idstools, with the same rule
# kinds (test above).
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_suricata_rules_pass_suricata_check_without_errors(
    client: TestClient, coalition: Coalition, stored: Stored, tmp_path: Path
) -> None:
    body = _get(client, coalition, format="suricata", include_warninglisted="true")
    path = tmp_path / "shieldwall.rules"
    path.write_bytes(body)
    rules = _rules(path.read_bytes())
    assert any("dns.query" in r for r in rules)
    assert any("filemd5:" in r for r in rules)
    for line in rules:
        report = suricata_check.analyze_rule(suricata_parse(line))
        errors = [i for i in report.issues if (i.severity or 0) >= logging.ERROR]
        assert not errors, (line, [(i.code, i.message) for i in errors])


def test_zeek_intel_file_follows_the_intel_framework_columns(
    client: TestClient, coalition: Coalition, stored: Stored
) -> None:
    lines = (
        _get(client, coalition, format="zeek", include_warninglisted="true").decode().splitlines()
    )
    assert lines[0] == "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url"
    rows = [line.split("\t") for line in lines[1:]]
    assert rows
    assert all(len(row) == 5 for row in rows)
    assert {row[1] for row in rows} <= set(zeek.INTEL_TYPES.values())
    assert {"Intel::ADDR", "Intel::DOMAIN", "Intel::URL", "Intel::FILE_HASH"} <= {
        r[1] for r in rows
    }
    urls = [row[0] for row in rows if row[1] == "Intel::URL"]
    assert urls
    assert not any("://" in url for url in urls)


def test_csv_has_its_header_and_one_row_per_value(
    client: TestClient, coalition: Coalition, stored: Stored
) -> None:
    lines = _get(client, coalition, format="csv").decode().splitlines()
    assert lines[0].startswith("value,type,object_id,object_type,owner,tlp,confidence,created")
    assert any(line.startswith("203.0.113.1,ipv4,indicator--") and ",80," in line for line in lines)


def test_txt_needs_exactly_one_type_over_the_api(client: TestClient, coalition: Coalition) -> None:
    response = client.get(
        "/api/v1/export", params={"format": "txt"}, headers=coalition.auth(ORG, Role.SENSOR)
    )
    assert response.status_code == 400
    assert response.json()["where"] == "type"
