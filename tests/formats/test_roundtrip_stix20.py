"""STIX 2.0 round trip: the Unit 42 bundles imported, exported as STIX 2.1, upgraded and valid.

Every bundle of `../shared/data/stix20/unit42/` is imported leniently by one
organisation (some objects are refused on purpose; `test_stix20` checks
the reasons). Everything the import accepted must come back from
`GET /api/v1/export?format=stix21` under the same id, equal to the original
upgraded as docs/formats.md says, and nothing else may come back. The
expected upgrade is written out here, independently of the importer.

Objects recur across bundles: the version the store keeps is the accepted
one with the latest `modified` (the first of equal ones: a second version
with the same `modified` and other content is refused).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from stix2validator import ValidationOptions, validate_string

from shieldwall.members.model import Role
from tests.factories import Coalition
from tests.formats.helpers import ORG, import_bytes

pytestmark = pytest.mark.shared_data

#: STIX 2.0 `labels` -> the 2.1 property that replaced them, per type.
LABELS_BECOME = {
    "indicator": "indicator_types",
    "malware": "malware_types",
    "report": "report_types",
    "threat-actor": "threat_actor_types",
    "tool": "tool_types",
}
#: Properties 2.1 requires that 2.0 did not have, with the value a 2.0 object implies.
REQUIRED_IN_21 = {"indicator": {"pattern_type": "stix"}, "malware": {"is_family": True}}


def upgraded(original: dict[str, Any]) -> dict[str, Any]:
    """A 2.0 object as docs/formats.md says it is stored (and exported) in 2.1."""
    expected = copy.deepcopy(original)
    expected["spec_version"] = "2.1"
    becomes = LABELS_BECOME.get(expected["type"])
    if becomes and "labels" in expected and becomes not in expected:
        expected[becomes] = expected.pop("labels")
    for name, value in REQUIRED_IN_21.get(expected["type"], {}).items():
        expected.setdefault(name, value)
    return expected


def _kept_versions(shared_data: Path, engine: Engine) -> dict[str, dict[str, Any]]:
    """Imports every bundle; returns id -> the version of it the store must keep."""
    files = sorted((shared_data / "stix20" / "unit42").glob("*.json"))
    assert len(files) == 81
    kept: dict[str, dict[str, Any]] = {}
    refused = 0
    for path in files:
        report = import_bytes(engine, path.read_bytes(), name=path.name)
        assert report.committed, path.name
        refused_here = {rejection.index for rejection in report.rejected}
        refused += len(refused_here)
        for index, obj in enumerate(json.loads(path.read_bytes())["objects"]):
            if index in refused_here:
                continue
            current = kept.get(obj["id"])
            if current is None or obj["modified"] > current["modified"]:
                kept[obj["id"]] = obj
    # The deliberate faults are few: most of the set goes through.
    assert 0 < refused < 300
    return kept


# Shapes: what the validator judges, without what only varies by value. Strings
# are kept verbatim but for free text, pattern literals, timestamps (digits)
# and identifiers (uuid part).
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
_IDENTIFIER = re.compile(r"([a-z0-9-]+)--[0-9a-fA-F-]{36}")
_FREE_TEXT = frozenset(
    {"name", "description", "url", "external_id", "source_name", "x_mitre_version"}
)


def _shape(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {name: _shape(item, name) for name, item in sorted(value.items())}
    if isinstance(value, list):
        return sorted({json.dumps(_shape(item, key), sort_keys=True) for item in value})
    if not isinstance(value, str):
        return type(value).__name__
    if key == "pattern":
        return _LITERAL.sub("'?'", value)
    if _TIMESTAMP.fullmatch(value):
        return re.sub(r"\d", "9", value)
    if _IDENTIFIER.fullmatch(value):
        return _IDENTIFIER.sub(r"\1--uuid", value)
    return "text" if key in _FREE_TEXT else value


def one_of_each_shape(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shapes: dict[str, dict[str, Any]] = {}
    for obj in objects:
        shapes.setdefault(json.dumps(_shape(obj), sort_keys=True), obj)
    return list(shapes.values())


def test_unit42_bundles_round_trip_as_valid_stix21(
    engine: Engine, client: TestClient, coalition: Coalition, shared_data: Path
) -> None:
    kept = _kept_versions(shared_data, engine)
    response = client.get(
        "/api/v1/export", params={"format": "stix21"}, headers=coalition.auth(ORG, Role.READER)
    )
    assert response.status_code == 200, response.text
    bundle = response.json()
    exported = {obj["id"]: obj for obj in bundle["objects"]}
    assert len(exported) == len(bundle["objects"]), "an id is exported twice"

    missing = sorted(set(kept) - set(exported))
    extra = sorted(set(exported) - set(kept))
    assert not missing, f"{len(missing)} imported object(s) not exported: {missing[:20]}"
    assert not extra, f"{len(extra)} exported object(s) that were not imported: {extra[:20]}"
    differences = [
        f"{stix_id}: {name}: expected {upgraded(obj).get(name)!r}, "
        f"exported {exported[stix_id].get(name)!r}"
        for stix_id, obj in kept.items()
        for name in sorted(set(upgraded(obj)) | set(exported[stix_id]))
        if upgraded(obj).get(name) != exported[stix_id].get(name)
    ]
    assert not differences, f"{len(differences)} difference(s):\n" + "\n".join(differences[:40])

    # The validator takes about 5 ms an object (25 s for this export), so it
    # judges one object of each shape (about 160), not the 4,800 alike.
    sample = one_of_each_shape(bundle["objects"])
    assert {obj["type"] for obj in sample} == {obj["type"] for obj in bundle["objects"]}
    sampled = {**bundle, "objects": sample}
    results = validate_string(json.dumps(sampled), ValidationOptions(version="2.1"))
    assert results.is_valid, [str(error) for error in results.errors][:20]
    assert bundle["type"] == "bundle"
    assert uuid.UUID(bundle["id"].removeprefix("bundle--"))
