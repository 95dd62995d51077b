"""No leak in any coalition: a hypothesis property over random stores.

Hypothesis draws organisations (a tier each, and the role of the one key each
reads with), sharing groups with random members, and a sequence of imports
(owner, distribution, default TLP, objects that reuse ids and observable
values, some re-marked in later versions). Then, for every organisation and
for an anonymous caller, what the REST API serves must be exactly what
`can_read` allows over the stored rows, a version only while its object's
latest version is readable too: the listing (every page, and its length),
each object, its versions, and the objects found by each value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from shieldwall.app import create_app
from shieldwall.config import Settings
from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.intel.ingest import Mode
from shieldwall.intel.tables import observables, stix_objects
from shieldwall.members import repository as members_repository
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from shieldwall.members.tables import organisations
from shieldwall.sharing import repository as sharing_repository
from shieldwall.sharing import service as sharing
from shieldwall.sharing.policy import Marking, Principal, can_read
from shieldwall.sharing.tlp import TLP, DistKind, Distribution
from tests.factories import indicator
from tests.sharing import empty_store, ingest_as, tlp_refs

ID_POOL = [f"indicator--{n:08d}-0000-4000-8000-000000000000" for n in range(4)]
VALUE_POOL = [f"203.0.113.{n}" for n in range(1, 5)]
ABSENT = "indicator--ffffffff-ffff-4fff-bfff-ffffffffffff"  # never drawn
TIERS = (Tier.HOST, Tier.SPONSORING, Tier.CONTRIBUTING, Tier.APPLICANT, Tier.SUSPENDED)

# ----------------------------------------------------------------------------- what is drawn


@dataclass(frozen=True)
class DrawnObject:
    id_slot: int
    day: int  # the version: `modified` is this day of January 2024
    tlp: TLP | None  # None: the import's default TLP applies
    values: frozenset[str]


@dataclass(frozen=True)
class DrawnImport:
    owner: int
    dist: str  # org, members, public, or group:<index>
    default_tlp: TLP
    objects: tuple[DrawnObject, ...]


@dataclass(frozen=True)
class Coalition:
    tiers: tuple[Tier, ...]
    roles: tuple[Role, ...]
    groups: tuple[frozenset[int], ...]
    imports: tuple[DrawnImport, ...]
    public_read: bool
    page: int


# The read policy singles out TLP:RED and sync keys: draw them about half the time.
levels = st.just(TLP.RED) | st.sampled_from(TLP)
roles = st.just(Role.SYNC) | st.sampled_from(Role)

drawn_objects = st.builds(
    DrawnObject,
    id_slot=st.integers(0, len(ID_POOL) - 1),
    day=st.integers(1, 3),
    tlp=st.none() | levels,
    values=st.frozensets(st.sampled_from(VALUE_POOL), min_size=1, max_size=2),
)


@st.composite
def coalitions(draw: st.DrawFn) -> Coalition:
    size = draw(st.integers(2, 4))
    tiers = draw(
        st.lists(st.sampled_from(TIERS), min_size=size, max_size=size).filter(
            lambda drawn: drawn.count(Tier.HOST) <= 1  # a node has one host
        )
    )
    orgs = st.integers(0, size - 1)
    groups = draw(st.lists(st.frozensets(orgs), max_size=2))
    dists = ["org", "members", "public"] + [f"group:{n}" for n in range(len(groups))]
    imports = st.builds(
        DrawnImport,
        owner=orgs,
        dist=st.sampled_from(dists),
        default_tlp=levels,
        objects=st.lists(drawn_objects, min_size=1, max_size=3).map(tuple),
    )
    return Coalition(
        tiers=tuple(tiers),
        roles=tuple(draw(st.lists(roles, min_size=size, max_size=size))),
        groups=tuple(groups),
        imports=tuple(draw(st.lists(imports, min_size=1, max_size=5))),
        public_read=draw(st.booleans()),
        page=draw(st.integers(2, 5)),
    )


# ----------------------------------------------------------------------------- the store


def org_name(index: int) -> str:
    return f"Org {index}"


def _content(obj: DrawnObject) -> dict[str, Any]:
    comparisons = " OR ".join(f"ipv4-addr:value = '{value}'" for value in sorted(obj.values))
    extra: dict[str, Any] = {"object_marking_refs": tlp_refs(obj.tlp)} if obj.tlp else {}
    return indicator(
        object_id=ID_POOL[obj.id_slot],
        modified=f"2024-01-{obj.day:02d}T00:00:00.000Z",
        pattern=f"[{comparisons}]",
        **extra,
    )


def _distribution(engine: Engine, dist: str) -> Distribution:
    if not dist.startswith("group:"):
        return Distribution(DistKind[dist.upper()])
    with read_transaction(engine) as conn:
        group = sharing_repository.group_by_name(conn, dist.removeprefix("group:"))
    assert group is not None
    return Distribution(DistKind.GROUP, group["id"], group["name"])


def build_store(engine: Engine, coalition: Coalition) -> list[str]:
    """Stores the drawn coalition; returns one key per organisation, in order."""
    empty_store(engine)
    keys: list[str] = []
    with write_transaction(engine) as conn:
        for index, tier in enumerate(coalition.tiers):
            # A suspended organisation was a member when it shared its intel.
            initial = Tier.SPONSORING if tier is Tier.SUSPENDED else tier
            members.create_org(conn, org_name(index), initial, None)
        for number, group in enumerate(coalition.groups):
            sharing.create_group(conn, str(number), [org_name(index) for index in sorted(group)])
        for index, role in enumerate(coalition.roles):
            keys.append(members.create_key(conn, org_name(index), role).secret)
    for drawn in coalition.imports:
        # Lenient: a drawn version that clashes with a stored one is simply rejected.
        ingest_as(
            engine,
            org_name(drawn.owner),
            _distribution(engine, drawn.dist),
            [_content(obj) for obj in drawn.objects],
            mode=Mode.LENIENT,
            default_tlp=drawn.default_tlp,
        )
    with write_transaction(engine) as conn:
        for index, tier in enumerate(coalition.tiers):
            if tier is Tier.SUSPENDED:
                org = members_repository.org_by_name(conn, org_name(index))
                assert org is not None
                members_repository.set_tier(conn, org["id"], tier.value, None)
    return keys


@dataclass(frozen=True)
class StoredRow:
    """One stored version, as the policy and a reader see it."""

    owner: str
    stix_id: str
    modified: str
    latest: bool
    values: frozenset[str]
    marking: Marking

    @property
    def seen_as(self) -> tuple[str, str, str]:
        return (self.owner, self.stix_id, self.modified)


def stored_rows(engine: Engine) -> list[StoredRow]:
    """Every stored version, read straight from the tables (the ground truth)."""
    query = select(
        stix_objects.c.pk,
        organisations.c.name,
        stix_objects.c.stix_id,
        stix_objects.c.is_latest,
        stix_objects.c.data,
        stix_objects.c.owner_org_id,
        stix_objects.c.tlp,
        stix_objects.c.dist,
        stix_objects.c.group_id,
    ).join(organisations, organisations.c.id == stix_objects.c.owner_org_id)
    with read_transaction(engine) as conn:
        values: dict[int, set[str]] = {}
        for pk, value in conn.execute(select(observables.c.object_pk, observables.c.value)):
            values.setdefault(pk, set()).add(value)
        return [
            StoredRow(
                owner=name,
                stix_id=stix_id,
                modified=orjson.loads(data)["modified"],
                latest=bool(latest),
                values=frozenset(values.get(pk, ())),
                marking=Marking(owner_id, TLP(tlp), DistKind(dist), group_id),
            )
            for pk, name, stix_id, latest, data, owner_id, tlp, dist, group_id in conn.execute(
                query
            )
        ]


def readable(rows: list[StoredRow], may_read: Callable[[Marking], bool]) -> list[StoredRow]:
    """The versions a caller may read: its own marking and its object's latest admit the caller.

    A newer version with a narrower marking withdraws the whole object from those
    it no longer reaches (docs/access-policy.md), so an older version readable on
    its own marking is still hidden.
    """
    latest = {(row.owner, row.stix_id): row.marking for row in rows if row.latest}
    return [
        row for row in rows if may_read(row.marking) and may_read(latest[(row.owner, row.stix_id)])
    ]


# ----------------------------------------------------------------------------- the reads


def _listing(client: TestClient, headers: dict[str, str], page: int) -> list[tuple[str, ...]]:
    seen: list[tuple[str, ...]] = []
    params: dict[str, Any] = {"limit": page}
    while True:
        response = client.get("/api/v1/objects", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [_seen_as(item) for item in body["objects"]]
        if not body["more"]:
            return seen
        params["cursor"] = body["next"]


def _seen_as(item: dict[str, Any]) -> tuple[str, str, str]:
    return (item["owner"], item["id"], item["object"]["modified"])


def check_reader(
    client: TestClient, headers: dict[str, str], allowed: list[StoredRow], page: int
) -> None:
    """What one caller reads, through every endpoint, is exactly `allowed`."""
    latest = [row.seen_as for row in allowed if row.latest]
    listed = _listing(client, headers, page)
    assert len(listed) == len(latest)  # the count a caller can derive
    assert Counter(listed) == Counter(latest)

    absent = client.get(f"/api/v1/objects/{ABSENT}", headers=headers)
    for stix_id in ID_POOL:
        versions = [row for row in allowed if row.stix_id == stix_id]
        one = client.get(f"/api/v1/objects/{stix_id}", headers=headers)
        history = client.get(f"/api/v1/objects/{stix_id}/versions", headers=headers)
        if not versions:
            assert one.status_code == history.status_code == 404
            assert one.content.replace(stix_id.encode(), ABSENT.encode()) == absent.content
            continue
        assert one.status_code == history.status_code == 200
        assert _seen_as(one.json()) in {row.seen_as for row in versions}
        assert one.json()["object"]["modified"] == max(row.modified for row in versions)
        served = [_seen_as(item) for item in history.json()["versions"]]
        assert Counter(served) == Counter(row.seen_as for row in versions)

    for value in VALUE_POOL:
        found = client.get("/api/v1/observables", params={"value": value}, headers=headers)
        assert found.status_code == 200, found.text
        holders = [row.seen_as for row in allowed if row.latest and value in row.values]
        assert Counter(_seen_as(item) for item in found.json()["objects"]) == Counter(holders)


def check_refused(client: TestClient) -> None:
    for path in ("/api/v1/objects", f"/api/v1/objects/{ID_POOL[0]}", "/api/v1/observables"):
        response = client.get(path, params={"value": VALUE_POOL[0]})
        assert response.status_code == 401, path
    assert client.get(f"/api/v1/objects/{ID_POOL[0]}/versions").status_code == 401


@settings(
    max_examples=25,
    deadline=None,
    # The store is emptied at the start of every example, not by the fixture.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(coalition=coalitions())
def test_no_caller_reads_more_or_less_than_the_policy_allows(
    engine: Engine, coalition: Coalition
) -> None:
    keys = build_store(engine, coalition)
    rows = stored_rows(engine)
    node = Settings(database_url="sqlite:///unused", public_read=coalition.public_read)
    with TestClient(create_app(node, engine), raise_server_exceptions=False) as client:
        for key in keys:
            with read_transaction(engine) as conn:
                principal = members.authenticate(conn, key)
            allowed = readable(rows, partial(can_read, principal))
            check_reader(client, {"Authorization": f"Bearer {key}"}, allowed, coalition.page)
        if coalition.public_read:
            anonymous = Principal.anonymous()
            allowed = readable(rows, partial(can_read, anonymous, anonymous_public=True))
            check_reader(client, {}, allowed, coalition.page)
        else:
            check_refused(client)
