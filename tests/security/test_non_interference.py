"""Principle 2 as non-interference: hidden changes leave an observer's every read unchanged.

`Sponsor B` shares one indicator (TLP:GREEN, public) that `Outsider` may see;
the host shares another indicator of the same value and a sighting of the
first, so that correlations, match hits and sighting lists have something
visible to show. Each scenario then changes the store in a way `Outsider` may not see (a newer
or older version it may not read, another organisation's object with the same
id or value, a sighting, an unrelated object) and every read endpoint
(REST objects and observables, correlations, sightings, match, every export
format, TAXII) must answer `Outsider` exactly as
before. A difference is a read path that reveals an object its caller may not
see exists (DESIGN.md, principle 2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Coalition, indicator, stix_id
from tests.security.helpers import ENDPOINTS, OWNER, VALUE, store, target

BASELINE_MODIFIED = "2024-02-01T00:00:00.000Z"

Change = Callable[[TestClient, Coalition, str], None]


def sighting_of(object_id: str, last_seen: str = "2024-05-02T00:00:00Z") -> dict[str, Any]:
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": stix_id("sighting"),
        "created": "2024-05-01T00:00:00.000Z",
        "modified": "2024-05-01T00:00:00.000Z",
        "sighting_of_ref": object_id,
        "first_seen": "2024-05-01T00:00:00Z",
        "last_seen": last_seen,
        "count": 3,
    }


def newer_version_red(client: TestClient, coalition: Coalition, object_id: str) -> None:
    """The owner re-marks its object TLP:RED in a newer version (RED never goes public)."""
    newer = target(object_id, "2024-03-01T00:00:00.000Z")
    store(client, coalition, OWNER, [newer], tlp="red", distribution="public")


def newer_version_own_org(client: TestClient, coalition: Coalition, object_id: str) -> None:
    """The owner keeps a newer version of its object to itself."""
    newer = target(object_id, "2024-03-01T00:00:00.000Z")
    store(client, coalition, OWNER, [newer], tlp="green", distribution="org")


def older_version_own_org(client: TestClient, coalition: Coalition, object_id: str) -> None:
    """The owner stores an older version of its object, kept to itself."""
    older = target(object_id, "2024-01-01T00:00:00.000Z")
    store(client, coalition, OWNER, [older], tlp="green", distribution="org")


def other_org_same_id(client: TestClient, coalition: Coalition, object_id: str) -> None:
    """Another organisation holds a newer object of the same id, kept to itself."""
    theirs = target(object_id, "2024-03-01T00:00:00.000Z")
    store(client, coalition, "Sponsor A", [theirs], tlp="amber", distribution="org")


def other_org_same_value(client: TestClient, coalition: Coalition, object_id: str) -> None:
    """A group the observer is not in shares another indicator of the same value."""
    store(
        client, coalition, "Contributor", [indicator(VALUE)], tlp="amber", distribution="group:ics"
    )


def other_org_containing_network(client: TestClient, coalition: Coalition, object_id: str) -> None:
    """A group the observer is not in shares the network the value lies in."""
    network = indicator("198.18.7.0/24")
    store(client, coalition, "Contributor", [network], tlp="amber", distribution="group:ics")


def hidden_sighting(client: TestClient, coalition: Coalition, object_id: str) -> None:
    """Another organisation reports, to itself, that it saw the indicator."""
    sighting = sighting_of(object_id, "2024-06-02T00:00:00Z")
    store(client, coalition, "Sponsor A", [sighting], tlp="amber", distribution="org")


def unrelated_hidden_objects(client: TestClient, coalition: Coalition, object_id: str) -> None:
    """The committee shares TLP:RED intel the observer (contributing) may not read."""
    objects = [indicator(f"198.18.9.{n}") for n in range(1, 4)]
    store(client, coalition, "Host", objects, tlp="red", distribution="members")


#: Changes the observer may not see: its reads must not change at all.
SCENARIOS: dict[str, Change] = {
    "older-version-own-org": older_version_own_org,
    "other-org-same-id": other_org_same_id,
    "other-org-same-value": other_org_same_value,
    "other-org-containing-network": other_org_containing_network,
    "hidden-sighting": hidden_sighting,
    "unrelated-hidden": unrelated_hidden_objects,
}


#: Newer versions with a narrower marking: the owner withdraws the object from
#: those it no longer reaches (the object's marking is its latest version's,
#: see `intel.repository.visible`). The observer then sees no trace of it.
REVOCATIONS: dict[str, Change] = {
    "newer-version-red": newer_version_red,
    "newer-version-own-org": newer_version_own_org,
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("revocation", list(REVOCATIONS))
def test_a_withdrawn_object_is_indistinguishable_from_one_never_stored(
    client: TestClient, coalition: Coalition, revocation: str, endpoint: str
) -> None:
    object_id = stix_id("indicator")
    # What the observer sees that does not depend on the object: another
    # member's indicator of the same value and a sighting naming the id.
    store(client, coalition, "Host", [indicator(VALUE)], tlp="green", distribution="public")
    store(client, coalition, "Host", [sighting_of(object_id)], tlp="green", distribution="public")
    read = ENDPOINTS[endpoint]
    never_stored = read(client, coalition, object_id)
    visible = target(object_id, BASELINE_MODIFIED)
    store(client, coalition, OWNER, [visible], tlp="green", distribution="public")
    assert read(client, coalition, object_id) != never_stored or endpoint.startswith(
        ("taxii:collections", "rest:sightings", "rest:correlations?object")
    ), f"{endpoint} did not show the object while it was visible"
    REVOCATIONS[revocation](client, coalition, object_id)
    after = read(client, coalition, object_id)
    assert after == never_stored, (
        f"{endpoint} shows a trace of an object withdrawn from Outsider ({revocation})"
    )


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_hidden_change_leaves_the_observers_reads_unchanged(
    client: TestClient, coalition: Coalition, scenario: str, endpoint: str
) -> None:
    object_id = stix_id("indicator")
    visible = target(object_id, BASELINE_MODIFIED)
    store(client, coalition, OWNER, [visible], tlp="green", distribution="public")
    # Something the observer may see that correlates with it, and a sighting of it.
    store(client, coalition, "Host", [indicator(VALUE)], tlp="green", distribution="public")
    store(client, coalition, "Host", [sighting_of(object_id)], tlp="green", distribution="public")
    read = ENDPOINTS[endpoint]
    before = read(client, coalition, object_id)
    assert before.status in (200, 404), before
    SCENARIOS[scenario](client, coalition, object_id)
    after = read(client, coalition, object_id)
    assert after == before, (
        f"{endpoint} answers Outsider differently after a change it may not see ({scenario})"
    )
