"""No leak through detection: the foundation's no-leak property, extended.

Over the random coalitions of `tests.sharing.test_policy_property` (orgs of
random tiers and key roles, random groups, imports that reuse ids and values),
this adds CIDR indicators and sightings filed by random organisations under
random markings. Then, for every organisation and for an anonymous caller,
what match hits, correlations, counts, sightings and scores reveal must be
exactly what `can_read` allows over the stored rows: never an object, a
count or a sighting the caller may not see.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from shieldwall.app import create_app
from shieldwall.config import Settings
from shieldwall.db.engine import read_transaction
from shieldwall.intel.ingest import Mode
from shieldwall.intel.tables import stix_objects
from shieldwall.members import service as members
from shieldwall.sharing.policy import Marking, Principal, can_read
from shieldwall.sharing.tlp import TLP, DistKind
from tests.factories import indicator
from tests.sharing import ingest_as, tlp_refs
from tests.sharing.test_policy_property import (
    ID_POOL,
    VALUE_POOL,
    Coalition,
    StoredRow,
    _distribution,
    build_store,
    coalitions,
    org_name,
    stored_rows,
)

CIDR = "203.0.113.0/29"
INSIDE_CIDR_ONLY = "203.0.113.6"
ASKED = [*VALUE_POOL, INSIDE_CIDR_ONLY]
SIGHTING_DAYS = ("2026-01-05T00:00:00Z", "2026-02-05T00:00:00Z", "2026-03-05T00:00:00Z")


@dataclass(frozen=True)
class Extra:
    """A CIDR indicator or a sighting, filed by `owner` under a marking."""

    owner: int
    dist: str
    tlp: TLP
    target: int | None  # None: a CIDR indicator; else the ID_POOL slot sighted
    day: int


@st.composite
def detection_stores(draw: st.DrawFn) -> tuple[Coalition, tuple[Extra, ...]]:
    coalition = draw(coalitions())
    size = len(coalition.tiers)
    dists = ["org", "members", "public"] + [f"group:{n}" for n in range(len(coalition.groups))]
    extras = st.builds(
        Extra,
        owner=st.integers(0, size - 1),
        dist=st.sampled_from(dists),
        tlp=st.sampled_from(TLP),
        target=st.none() | st.integers(0, len(ID_POOL) - 1),
        day=st.integers(0, len(SIGHTING_DAYS) - 1),
    )
    return coalition, tuple(draw(st.lists(extras, max_size=5)))


def _extra_object(extra: Extra) -> dict[str, Any]:
    marks = {"object_marking_refs": tlp_refs(extra.tlp)}
    if extra.target is None:
        return indicator(CIDR, **marks)
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "sighting_of_ref": ID_POOL[extra.target],
        "last_seen": SIGHTING_DAYS[extra.day],
        **marks,
    }


@dataclass(frozen=True)
class StoredSighting:
    stix_id: str
    of: str
    last_seen: str
    marking: Marking


def stored_sightings(engine: Engine) -> list[StoredSighting]:
    query = select(
        stix_objects.c.data,
        stix_objects.c.owner_org_id,
        stix_objects.c.tlp,
        stix_objects.c.dist,
        stix_objects.c.group_id,
    ).where(stix_objects.c.type == "sighting")
    with read_transaction(engine) as conn:
        found = []
        for data, owner, tlp, dist, group in conn.execute(query):
            obj = orjson.loads(data)
            marking = Marking(owner, TLP(tlp), DistKind(dist), group)
            found.append(
                StoredSighting(obj["id"], obj["sighting_of_ref"], obj["last_seen"], marking)
            )
        return found


def _holds(row: StoredRow, value: str) -> bool:
    address = ipaddress.ip_address(value)
    return any(address in ipaddress.ip_network(held) for held in row.values)


def check_match(client: TestClient, headers: dict[str, str], indicators: list[StoredRow]) -> None:
    body = {"observables": ASKED, "include_warninglisted": True}
    response = client.post("/api/v1/match", json=body, headers=headers)
    assert response.status_code == 200, response.text
    served = {
        (hit["value"], i["owner"], i["id"])
        for hit in response.json()["hits"]
        for i in hit["indicators"]
    }
    expected = {
        (value, row.owner, row.stix_id)
        for value in ASKED
        for row in indicators
        if _holds(row, value)
    }
    assert served == expected


def check_correlations(
    client: TestClient, headers: dict[str, str], visible: list[StoredRow]
) -> None:
    # An object is there for a caller that may see any version of it (as GET /objects/{id}).
    visible_ids = {row.stix_id for row in visible}
    latest = [row for row in visible if row.latest]
    for value in VALUE_POOL:
        response = client.get("/api/v1/correlations", params={"value": value}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        listed = {
            (r["relation"], o["owner"], o["id"]) for r in body["relations"] for o in r["objects"]
        }
        same = {(row.owner, row.stix_id) for row in latest if value in row.values}
        inside = {(row.owner, row.stix_id) for row in latest if CIDR in row.values}
        expected = {("same", *who) for who in same} | {("in-cidr", *who) for who in inside}
        assert listed == expected
        assert body["seen_elsewhere"] == len({stix_id for _, _, stix_id in listed})
    for stix_id in ID_POOL:
        response = client.get(
            "/api/v1/correlations", params={"object_id": stix_id}, headers=headers
        )
        assert response.status_code == (200 if stix_id in visible_ids else 404)
        if response.status_code == 200:
            for correlation in response.json()["correlations"]:
                for relation in correlation["relations"]:
                    assert {o["id"] for o in relation["objects"]} <= visible_ids


def check_sightings(
    client: TestClient,
    headers: dict[str, str],
    visible: list[StoredRow],
    sightings: list[StoredSighting],
) -> None:
    visible_ids = {row.stix_id for row in visible}
    for stix_id in ID_POOL:
        response = client.get("/api/v1/sightings", params={"object_id": stix_id}, headers=headers)
        if stix_id not in visible_ids:
            assert response.status_code == 404
            continue
        served = {s["id"] for s in response.json()["sightings"]}
        assert served == {s.stix_id for s in sightings if s.of == stix_id}
    # Scores are refreshed by visible sightings only.
    response = client.post(
        "/api/v1/match",
        json={"observables": VALUE_POOL, "include_warninglisted": True},
        headers=headers,
    )
    for hit in response.json()["hits"]:
        for found in hit["indicators"]:
            days = [s.last_seen for s in sightings if s.of == found["id"]]
            expected = max(days).replace("Z", ".000000000Z") if days else None
            assert found["last_sighted"] == expected


def visible_rows(rows: list[StoredRow], principal: Principal, anonymous: bool) -> list[StoredRow]:
    """The versions the policy shows: readable, and so is the latest version of their object.

    (An owner's newer version with a narrower marking withdraws the older ones
    from those it no longer reaches; see `intel.repository.visible`.)
    """
    latest = {(row.owner, row.stix_id): row.marking for row in rows if row.latest}

    def readable(marking: Marking) -> bool:
        return can_read(principal, marking, anonymous_public=anonymous)

    return [
        row
        for row in rows
        if readable(row.marking) and (row.latest or readable(latest[(row.owner, row.stix_id)]))
    ]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=detection_stores())
def test_detection_reveals_nothing_the_policy_hides(
    engine: Engine, drawn: tuple[Coalition, tuple[Extra, ...]]
) -> None:
    coalition, extras = drawn
    keys = build_store(engine, coalition)
    for extra in extras:
        ingest_as(
            engine,
            org_name(extra.owner),
            _distribution(engine, extra.dist),
            [_extra_object(extra)],
            mode=Mode.LENIENT,
        )
    rows = stored_rows(engine)
    sightings = stored_sightings(engine)
    node = Settings(database_url="sqlite:///unused", public_read=coalition.public_read)
    callers: list[tuple[dict[str, str], Principal, bool]] = []
    for key in keys:
        with read_transaction(engine) as conn:
            callers.append(
                ({"Authorization": f"Bearer {key}"}, members.authenticate(conn, key), False)
            )
    if coalition.public_read:
        callers.append(({}, Principal.anonymous(), True))
    with TestClient(create_app(node, engine), raise_server_exceptions=False) as client:
        for headers, principal, anonymous in callers:
            visible = visible_rows(rows, principal, anonymous)
            seen = [
                s for s in sightings if can_read(principal, s.marking, anonymous_public=anonymous)
            ]
            check_match(client, headers, [row for row in visible if row.latest])
            check_correlations(client, headers, visible)
            check_sightings(client, headers, visible, seen)
