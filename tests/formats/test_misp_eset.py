"""Every ESET MISP event imports leniently and every attribute is accounted for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.factories import Coalition
from tests.formats.helpers import import_bytes, stored

pytestmark = pytest.mark.shared_data


def _events(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "misp" / "eset").rglob("*.json"))
    assert len(files) == 39
    return files


def _attributes(document: Any) -> dict[str, str]:
    """Attribute uuid -> value, counted straight from the JSON (top level and in objects)."""
    event = document["response"][0]["Event"] if "response" in document else document["Event"]
    found = {a["uuid"]: a["value"] for a in event.get("Attribute", [])}
    for misp_object in event.get("Object", []):
        found.update({a["uuid"]: a["value"] for a in misp_object.get("Attribute", [])})
    return found


def test_every_eset_event_imports_and_accounts_for_every_attribute(
    engine: Engine, coalition: Coalition, shared_data: Path
) -> None:
    total = refused = 0
    for path in _events(shared_data):
        document = json.loads(path.read_bytes())
        attributes = _attributes(document)
        report = import_bytes(engine, path.read_bytes(), name=path.name)
        assert report.committed, path
        assert report.objects == (
            report.created + report.new_versions + report.unchanged + len(report.rejected)
        )
        objects = {obj_id.split("--", 1)[1]: obj for obj_id, obj in stored(engine).items()}
        for uuid, value in attributes.items():
            rejected = [r for r in report.rejected if uuid in r.reason]
            if uuid in objects:
                assert not rejected, (path, uuid)
                assert objects[uuid]["x_misp_value"] == value
            else:
                assert len(rejected) == 1, (
                    f"{path.name}: attribute {uuid} neither imported nor refused"
                )
                assert rejected[0].field is not None
                assert rejected[0].field.startswith("Event[")
                refused += 1
        total += len(attributes)
    assert total == 2373 + 1028
    # The URLs without a scheme (badiis, machete) are the only values STIX cannot hold.
    assert refused == 8
