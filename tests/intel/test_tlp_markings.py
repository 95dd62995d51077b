"""TLP of stored objects, from their marking references or the ingest default.

A wrong TLP here is a leak (too low) or lost intel (too high) everywhere the
access policy reads it, so every route to a level is pinned.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Coalition, bundle, indicator, stix_id
from tests.intel.store import post_bundle, report_counts

TLP2 = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
#: The TLP 1.0 marking definitions of the STIX 2.1 specification, and their TLP 2.0 level.
TLP1 = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",  # white
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
}
TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"


def _stored_tlp(
    client: TestClient, coalition: Coalition, *objects: dict[str, Any], default: str = "amber"
) -> str:
    """Imports the objects as Sponsor A and returns the TLP the first one was stored with."""
    response = post_bundle(
        client, coalition.auth("Sponsor A"), bundle(*objects), tlp=default, distribution="org"
    )
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == 0, response.json()["rejections"]
    read = client.get(f"/api/v1/objects/{objects[0]['id']}", headers=coalition.auth("Sponsor A"))
    assert read.status_code == 200, read.text
    return str(read.json()["tlp"])


def _marked(*refs: str) -> dict[str, Any]:
    return indicator(object_marking_refs=list(refs))


def _tlp_definition(level: str, **extra: Any) -> dict[str, Any]:
    """A TLP marking definition of the producer's own (not a standard id)."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid4()}",
        "created": "2024-01-01T00:00:00.000Z",
        "definition_type": "tlp",
        "definition": {"tlp": level},
        **extra,
    }


def _stored_tlps(
    client: TestClient, coalition: Coalition, objects: list[dict[str, Any]], default: str
) -> dict[str, str]:
    """Imports the objects as Sponsor A and returns each object's stored TLP by id."""
    response = post_bundle(
        client, coalition.auth("Sponsor A"), bundle(*objects), tlp=default, distribution="org"
    )
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == 0, response.json()["rejections"]
    wanted = {obj["id"] for obj in objects}
    page = client.get(
        "/api/v1/objects", params={"limit": 1000}, headers=coalition.auth("Sponsor A")
    )
    return {o["id"]: o["tlp"] for o in page.json()["objects"] if o["id"] in wanted}


# Each table runs under two opposite defaults, so the marking, not the default, decided.
@pytest.mark.parametrize("default", ["clear", "red"])
def test_tlp2_marking_ids(client: TestClient, coalition: Coalition, default: str) -> None:
    marked = {level: _marked(marking_id) for level, marking_id in TLP2.items()}
    stored = _stored_tlps(client, coalition, list(marked.values()), default)
    assert {level: stored[obj["id"]] for level, obj in marked.items()} == {
        level: level for level in TLP2
    }


@pytest.mark.parametrize("default", ["clear", "red"])
def test_tlp1_marking_ids_are_mapped(
    client: TestClient, coalition: Coalition, default: str
) -> None:
    marked = {marking_id: _marked(marking_id) for marking_id in TLP1}
    stored = _stored_tlps(client, coalition, list(marked.values()), default)
    assert {mid: stored[obj["id"]] for mid, obj in marked.items()} == TLP1


MOST_RESTRICTIVE = [
    ((TLP2["green"], TLP2["red"]), "red"),
    ((TLP2["amber+strict"], TLP2["clear"]), "amber+strict"),
    ((TLP1_WHITE, TLP2["amber"], TLP2["green"]), "amber"),
    ((TLP2["amber"], TLP2["amber+strict"]), "amber+strict"),
    ((TLP1_WHITE, TLP2["clear"]), "clear"),
]


def test_most_restrictive_of_several_markings_wins(
    client: TestClient, coalition: Coalition
) -> None:
    marked = [(_marked(*refs), level) for refs, level in MOST_RESTRICTIVE]
    stored = _stored_tlps(client, coalition, [obj for obj, _ in marked], default="green")
    assert [stored[obj["id"]] for obj, _ in marked] == [level for _, level in MOST_RESTRICTIVE]


def test_default_tlp_applies_without_markings(client: TestClient, coalition: Coalition) -> None:
    assert _stored_tlp(client, coalition, indicator(), default="amber+strict") == "amber+strict"


def test_in_bundle_tlp_definition_after_the_object_is_honoured(
    client: TestClient, coalition: Coalition
) -> None:
    definition = _tlp_definition("red")
    marked = _marked(definition["id"])
    # The definition comes after the object that refers to it.
    assert _stored_tlp(client, coalition, marked, definition, default="clear") == "red"


def test_in_bundle_tlp_definition_before_the_object_is_honoured(
    client: TestClient, coalition: Coalition
) -> None:
    definition = _tlp_definition("white")  # TLP 1.0 spelling in a producer's definition
    marked = _marked(definition["id"])
    assert _stored_tlp(client, coalition, marked, definition, default="red") == "clear"


def test_in_bundle_tlp2_extension_definition_is_honoured(
    client: TestClient, coalition: Coalition
) -> None:
    definition = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid4()}",
        "created": "2024-01-01T00:00:00.000Z",
        "name": "TLP:AMBER+STRICT",
        "extensions": {
            "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                "extension_type": "property-extension",
                "tlp_2_0": "amber+strict",
            }
        },
    }
    marked = _marked(definition["id"])
    assert _stored_tlp(client, coalition, marked, definition, default="clear") == "amber+strict"


def test_non_tlp_marking_leaves_the_default(client: TestClient, coalition: Coalition) -> None:
    statement = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid4()}",
        "created": "2024-01-01T00:00:00.000Z",
        "definition_type": "statement",
        "definition": {"statement": "Copyright 2024, Example Corp"},
    }
    marked = _marked(statement["id"], TLP2["green"])
    assert _stored_tlp(client, coalition, marked, statement, default="red") == "green"
    only_statement = _marked(statement["id"])
    assert _stored_tlp(client, coalition, only_statement, default="amber") == "amber"


MITRE_ATTACK_STATEMENT = "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168"


def test_mitre_attack_statement_is_known_without_its_definition(
    client: TestClient, coalition: Coalition
) -> None:
    """Objects copied from ATT&CK carry its statement marking but seldom ship the definition."""
    copied = _marked(MITRE_ATTACK_STATEMENT)
    assert _stored_tlp(client, coalition, copied, default="amber") == "amber"
    with_tlp = _marked(MITRE_ATTACK_STATEMENT, TLP2["green"])
    assert _stored_tlp(client, coalition, with_tlp, default="red") == "green"
    # Any other statement still has to be in the bundle or on the node.
    dangling = _marked(f"marking-definition--{uuid.uuid4()}")
    response = post_bundle(client, coalition.auth("Sponsor A"), bundle(dangling), tlp="amber")
    assert response.status_code == 422
    assert "neither in the bundle nor known to this node" in response.json()["detail"]


def test_unknown_tlp_level_in_a_definition_is_rejected(
    client: TestClient, coalition: Coalition
) -> None:
    definition = _tlp_definition("purple")
    response = post_bundle(
        client,
        coalition.auth("Sponsor A"),
        bundle(indicator(), definition),
        tlp="green",
        mode="lenient",
    )
    assert response.status_code == 200
    report = response.json()
    assert report_counts(report) == (1, 0, 0, 1)
    [rejection] = report["rejections"]
    assert (rejection["index"], rejection["id"]) == (1, definition["id"])


def test_tlp_decides_who_reads(client: TestClient, coalition: Coalition) -> None:
    """Under `public`, CLEAR reaches every member and RED nobody but its owner."""
    red = _marked(TLP2["red"])
    clear = _marked(TLP2["clear"])
    response = post_bundle(
        client, coalition.auth("Sponsor A"), bundle(red, clear), tlp="green", distribution="public"
    )
    assert response.status_code == 200
    seen = client.get("/api/v1/objects", headers=coalition.auth("Contributor")).json()
    assert [o["id"] for o in seen["objects"]] == [clear["id"]]
    hidden = client.get(f"/api/v1/objects/{red['id']}", headers=coalition.auth("Contributor"))
    absent = client.get(
        f"/api/v1/objects/{stix_id('indicator')}", headers=coalition.auth("Contributor")
    )
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json()["error"] == absent.json()["error"]
