"""STIX 2.0 in: bundles upgraded to 2.1; the invalid ones refused with a precise reason."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from shieldwall.formats.detect import Format, detect
from tests.factories import Coalition
from tests.formats.helpers import import_bytes, stored

BUNDLE_ID = "bundle--a50d4b07-9aa3-4b29-a645-bef11e185904"


def bundle20(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": BUNDLE_ID, "spec_version": "2.0", "objects": list(objects)}


INDICATOR = {
    "type": "indicator",
    "id": "indicator--675e4a57-dc74-40cd-b3e1-dd32f9eb5424",
    "created": "2024-02-06T19:00:00.001Z",
    "modified": "2024-02-06T19:00:00.001Z",
    "labels": ["malicious-activity"],
    "pattern": "[file:hashes.'SHA-256' = "
    "'12d5c8201d462576f38a2c1cf62eb3f9f09c3799b4212325d33509ef1253f4e7']",
    "valid_from": "2024-01-18T17:58:24.001Z",
}
OBSERVED = {
    "type": "observed-data",
    "id": "observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf",
    "created": "2024-02-06T19:00:00.000Z",
    "modified": "2024-02-06T19:00:00.000Z",
    "first_observed": "2024-02-01T00:00:00Z",
    "last_observed": "2024-02-02T00:00:00Z",
    "number_observed": 3,
    "objects": {
        "0": {"type": "ipv4-addr", "value": "198.51.100.3"},
        "1": {"type": "domain-name", "value": "evil.example", "resolves_to_refs": ["0"]},
    },
}


def test_a_20_bundle_is_detected_and_upgraded(engine: Engine, coalition: Coalition) -> None:
    data = json.dumps(bundle20(INDICATOR, OBSERVED)).encode()
    assert detect(data) is Format.STIX20
    report = import_bytes(engine, data)
    assert not report.rejected
    assert report.created == 4
    objects = stored(engine)
    indicator = objects[INDICATOR["id"]]
    assert indicator["spec_version"] == "2.1"
    assert indicator["pattern_type"] == "stix"
    assert indicator["indicator_types"] == ["malicious-activity"]
    assert "labels" not in indicator
    observed = objects[OBSERVED["id"]]
    assert "objects" not in observed
    address, domain = observed["object_refs"]
    # The 2.1 deterministic id of ipv4-addr 198.51.100.3 (UUIDv5 over {"value": ...}).
    namespace = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
    canonical = '{"value":"198.51.100.3"}'
    assert address == f"ipv4-addr--{uuid.uuid5(namespace, canonical)}"
    assert objects[domain]["resolves_to_refs"] == [address]
    assert objects[address]["value"] == "198.51.100.3"


@pytest.mark.parametrize(
    ("broken", "field", "reason"),
    [
        (
            {
                "type": "identity",
                "id": "identity--70cda4f4-1e43-4c3f-8e12-aea9d6344134",
                "created": "2024-01-01T00:00:00Z",
                "modified": "2024-01-01T00:00:00Z",
                "name": "x",
                "identity_class": ["unknown"],
            },
            "identity_class",
            "must be one string of the identity-class vocabulary, not ['unknown']",
        ),
        (
            {
                "type": "campaign",
                "id": "campaign--70cda4f4-1e43-4c3f-8e12-aea9d6344134",
                "created": "2024-01-01T00:00:00Z",
                "modified": "2024-01-01T00:00:00Z",
                "name": "x",
                "first_seen": "2020-08-07T18:02:26.207Z",
                "last_seen": "2020-08-01T00:00:00.000Z",
            },
            "last_seen",
            "2020-08-01T00:00:00.000Z is earlier than first_seen 2020-08-07T18:02:26.207Z",
        ),
    ],
)
def test_invalid_20_objects_are_refused_with_index_and_field(
    engine: Engine, coalition: Coalition, broken: dict[str, Any], field: str, reason: str
) -> None:
    report = import_bytes(engine, bundle20(INDICATOR, broken))
    [rejection] = report.rejected
    assert (rejection.index, rejection.field, rejection.reason) == (1, field, reason)
    assert rejection.stix_id == broken["id"]
    assert INDICATOR["id"] in stored(engine)


@pytest.mark.shared_data
def test_every_unit42_bundle_imports_or_is_refused_precisely(
    engine: Engine, coalition: Coalition, shared_data: Path
) -> None:
    files = sorted((shared_data / "stix20" / "unit42").glob("*.json"))
    assert len(files) == 81
    reasons: set[str] = set()
    for path in files:
        report = import_bytes(engine, path.read_bytes(), name=path.name)
        assert report.committed
        count = len(json.loads(path.read_bytes())["objects"])
        assert report.objects == count, path.name  # no observed-data here: one in, one out
        for rejection in report.rejected:
            assert rejection.field, (path.name, rejection)
            reasons.add(rejection.field)
    stored_objects = stored(engine)
    assert all(obj["spec_version"] == "2.1" for obj in stored_objects.values())
    # The deliberate faults of the set, each named by its field.
    assert {"identity_class", "last_seen"} <= reasons
    assert reasons <= {"identity_class", "last_seen", "modified", "object_marking_refs"}
