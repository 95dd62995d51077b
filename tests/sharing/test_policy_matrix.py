"""The access-policy matrix: tier x role x TLP x distribution x group membership x ownership.

`BELOW_RED`, `RED` and `expected()` write the policy stated in the docstring of
`shieldwall.sharing.policy` out by hand, independently of its code. Each of the
2,000 rows of `ROWS` is checked against the predicate (`can_read`), the SQL
filter (`read_filter`, on the real store) and every read endpoint of the REST
API. Withdrawn organisations have no row: their keys are refused when they
authenticate (tested at the end, with anonymous callers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select

from shieldwall.app import create_app
from shieldwall.config import Settings
from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.intel.tables import stix_objects
from shieldwall.members import bootstrap
from shieldwall.members import repository as members_repository
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from shieldwall.sharing import repository as sharing_repository
from shieldwall.sharing import service as sharing
from shieldwall.sharing.policy import Marking, Principal, can_read, read_filter
from shieldwall.sharing.tlp import TLP, DistKind, Distribution
from tests.factories import indicator
from tests.sharing import ingest_as, tlp_refs

# --------------------------------------------------------------------------- the table

# A reader that does not own the object, at TLP:CLEAR, GREEN, AMBER or
# AMBER+STRICT. Columns are the object's distribution: `group` when the reader
# belongs to the object's sharing group, `other-group` when it does not.
BELOW_RED = """
                  org   group   other-group   members   public
    host           -      Y          -           Y         Y
    sponsoring     -      Y          -           Y         Y
    contributing   -      Y          -           -         Y
    applicant      -      -          -           -         Y
    suspended      -      -          -           -         -
"""

# The same reader at TLP:RED: only the organisations the distribution names
# (the group, the steering committee); `public` names nobody.
RED = """
                  org   group   other-group   members   public
    host           -      Y          -           Y         -
    sponsoring     -      Y          -           Y         -
    contributing   -      Y          -           -         -
    applicant      -      -          -           -         -
    suspended      -      -          -           -         -
"""

READER_TIERS = (Tier.HOST, Tier.SPONSORING, Tier.CONTRIBUTING, Tier.APPLICANT, Tier.SUSPENDED)
COLUMNS = ("org", "group", "other-group", "members", "public")


def _grid(text: str) -> dict[tuple[Tier, str], bool]:
    header, *lines = text.strip().splitlines()
    assert tuple(header.split()) == COLUMNS
    grid: dict[tuple[Tier, str], bool] = {}
    for line in lines:
        tier, *cells = line.split()
        for column, cell in zip(COLUMNS, cells, strict=True):
            grid[Tier(tier), column] = cell == "Y"
    assert {tier for tier, _ in grid} == set(READER_TIERS)
    return grid


BELOW_RED_GRID = _grid(BELOW_RED)
RED_GRID = _grid(RED)


@dataclass(frozen=True, slots=True)
class Row:
    tier: Tier
    role: Role
    tlp: TLP
    dist: DistKind
    in_group: bool  # the reader belongs to the object's sharing group (for group: only)
    owner: bool  # the reader's organisation owns the object

    @property
    def column(self) -> str:
        if self.dist is DistKind.GROUP:
            return "group" if self.in_group else "other-group"
        return self.dist.name.lower()

    def __str__(self) -> str:
        whose = "own" if self.owner else "other's"
        return f"{self.tier} {self.role} reading {whose} {self.tlp.label} {self.column}"


def expected(row: Row) -> bool:
    if row.owner:
        return True  # the owner always sees its own objects, even while suspended
    if row.tlp is TLP.RED:
        # RED is never federated further: a sync key (another node) never gets it.
        return row.role is not Role.SYNC and RED_GRID[row.tier, row.column]
    return BELOW_RED_GRID[row.tier, row.column]


BOOLS = (True, False)
ROWS = [Row(*values) for values in product(READER_TIERS, Role, TLP, DistKind, BOOLS, BOOLS)]
PRINCIPALS = list(product(READER_TIERS, Role))


def rows_of(tier: Tier, role: Role) -> list[Row]:
    return [row for row in ROWS if (row.tier, row.role) == (tier, role)]


def _mismatches(rows: list[Row], actual: dict[Row, bool]) -> list[str]:
    return [
        f"{row}: expected {'visible' if expected(row) else 'hidden'}"
        for row in rows
        if actual[row] != expected(row)
    ]


# --------------------------------------------------------------------------- the predicate

READER_ORG, OTHER_ORG = 1, 2
ITS_GROUP, OTHER_GROUP = 10, 20


def test_the_table_covers_every_combination() -> None:
    assert len(set(ROWS)) == 5 * 5 * 5 * 4 * 2 * 2
    # Sanity of the hand-written grids against the docstring's headline rules.
    assert not any(BELOW_RED_GRID[tier, "org"] or RED_GRID[tier, "public"] for tier in READER_TIERS)
    assert all(RED_GRID[key] <= BELOW_RED_GRID[key] for key in BELOW_RED_GRID)


def test_predicate_matches_the_table() -> None:
    def predicate(row: Row) -> bool:
        principal = Principal(
            org_id=READER_ORG,
            org_name="reader",
            tier=row.tier,
            role=row.role,
            group_ids=frozenset({ITS_GROUP}),
        )
        group = (ITS_GROUP if row.in_group else OTHER_GROUP) if row.dist is DistKind.GROUP else None
        owner = READER_ORG if row.owner else OTHER_ORG
        return can_read(principal, Marking(owner, row.tlp, row.dist, group))

    assert _mismatches(ROWS, {row: predicate(row) for row in ROWS}) == []


@pytest.mark.parametrize("anonymous_public", [True, False])
def test_predicate_for_anonymous_callers(anonymous_public: bool) -> None:
    for tlp, dist in product(TLP, DistKind):
        marking = Marking(OTHER_ORG, tlp, dist, ITS_GROUP if dist is DistKind.GROUP else None)
        allowed = anonymous_public and tlp is TLP.CLEAR and dist is DistKind.PUBLIC
        assert (
            can_read(Principal.anonymous(), marking, anonymous_public=anonymous_public) is allowed
        )


# --------------------------------------------------------------------------- the store

PEER = "Peer"  # a sponsoring member: the "other" owner of every table row
READERS = {tier: tier.value.title() for tier in READER_TIERS}  # one organisation per tier
NEAR, FAR = "near", "far"  # every organisation belongs to NEAR; only PEER to FAR
OWNERS = (*READERS.values(), PEER)
SHARED_VALUE = "198.51.100.1"  # in every object: one search lists all a caller may see
V1, V2 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"
PAGE = 40  # small enough that every listing takes several pages
ABSENT_ID = "indicator--ffffffff-ffff-4fff-bfff-ffffffffffff"  # never placed


@dataclass(frozen=True, slots=True)
class Placed:
    """One stored object (two versions, same marking): its owner, TLP and distribution."""

    owner: str
    tlp: TLP
    column: str
    stix_id: str
    value: str

    def __str__(self) -> str:
        return f"{self.owner}'s {self.tlp.label} {self.column}"


@dataclass
class World:
    """Organisations of every tier, with one key per role, and an object per combination."""

    keys: dict[tuple[Tier, Role], str]
    placed: dict[tuple[str, TLP, str], Placed]

    def auth(self, tier: Tier, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tier, role]}"}

    def object_of(self, row: Row) -> Placed:
        owner = READERS[row.tier] if row.owner else PEER
        return self.placed[owner, row.tlp, row.column]

    def row_for(self, tier: Tier, role: Role, obj: Placed) -> Row:
        """The table row of `obj` seen by (tier, role); every object has one."""
        dist = DistKind.GROUP if "group" in obj.column else DistKind[obj.column.upper()]
        return Row(tier, role, obj.tlp, dist, obj.column == "group", obj.owner == READERS[tier])

    def visible_ids(self, tier: Tier, role: Role) -> set[str]:
        return {
            obj.stix_id for obj in self.placed.values() if expected(self.row_for(tier, role, obj))
        }

    def labels(self, ids: set[str]) -> list[str]:
        by_id = {obj.stix_id: str(obj) for obj in self.placed.values()}
        return sorted(by_id.get(stix_id, stix_id) for stix_id in ids)


def _placements() -> Iterator[Placed]:
    for (o, owner), (c, column), tlp in product(enumerate(OWNERS), enumerate(COLUMNS), TLP):
        # The UUID spells owner, column and level: a failing id is easy to place.
        stix_id = f"indicator--{o:08d}-0000-4000-8{c:03d}-{int(tlp):012d}"
        yield Placed(owner, tlp, column, stix_id, f"10.{o}.{c}.{int(tlp)}")


def _versions(obj: Placed) -> list[dict[str, Any]]:
    return [
        indicator(
            obj.value,
            object_id=obj.stix_id,
            modified=modified,
            name=f"{obj.owner} {obj.tlp.slug} dist-{obj.column}",
            pattern=f"[ipv4-addr:value = '{obj.value}' OR ipv4-addr:value = '{SHARED_VALUE}']",
            object_marking_refs=tlp_refs(obj.tlp),
        )
        for modified in (V1, V2)
    ]


def _create_members(engine: Engine) -> dict[tuple[Tier, Role], str]:
    keys: dict[tuple[Tier, Role], str] = {}
    with write_transaction(engine) as conn:
        keys[Tier.HOST, Role.ORG_ADMIN] = bootstrap.init_node(conn, READERS[Tier.HOST], "EE").secret
        for tier in READER_TIERS[1:]:
            # Suspension happens to a member: it is suspended once its intel is stored.
            members.create_org(conn, READERS[tier], _tier_at_creation(tier), None)
        members.create_org(conn, PEER, Tier.SPONSORING, None)
        sharing.create_group(conn, NEAR, list(OWNERS))
        sharing.create_group(conn, FAR, [PEER])
        for tier, role in PRINCIPALS:
            if (tier, role) not in keys:
                keys[tier, role] = members.create_key(conn, READERS[tier], role).secret
    return keys


def _tier_at_creation(tier: Tier) -> Tier:
    return Tier.SPONSORING if tier is Tier.SUSPENDED else tier


def _distributions(engine: Engine) -> dict[str, Distribution]:
    with read_transaction(engine) as conn:
        groups = {name: sharing_repository.group_by_name(conn, name) for name in (NEAR, FAR)}
    near, far = groups[NEAR], groups[FAR]
    assert near is not None
    assert far is not None
    return {
        "org": Distribution(DistKind.ORG),
        "group": Distribution(DistKind.GROUP, near["id"], NEAR),
        "other-group": Distribution(DistKind.GROUP, far["id"], FAR),
        "members": Distribution(DistKind.MEMBERS),
        "public": Distribution(DistKind.PUBLIC),
    }


def set_tier(engine: Engine, org: str, tier: Tier) -> None:
    with write_transaction(engine) as conn:
        row = members_repository.org_by_name(conn, org)
        assert row is not None
        members_repository.set_tier(conn, row["id"], tier.value, None)


def build_world(engine: Engine) -> World:
    keys = _create_members(engine)
    placed = {(obj.owner, obj.tlp, obj.column): obj for obj in _placements()}
    distributions = _distributions(engine)
    # One import per (owner, distribution): each carries every TLP, two versions each.
    for owner, column in product(OWNERS, COLUMNS):
        objects = [placed[owner, tlp, column] for tlp in TLP]
        report = ingest_as(
            engine, owner, distributions[column], [v for obj in objects for v in _versions(obj)]
        )
        assert (report.created, report.new_versions) == (len(TLP), len(TLP))
    set_tier(engine, READERS[Tier.SUSPENDED], Tier.SUSPENDED)
    return World(keys, placed)


@pytest.fixture
def world(engine: Engine) -> World:
    return build_world(engine)


def test_sql_filter_matches_the_table_and_the_predicate(engine: Engine, world: World) -> None:
    wrong: list[str] = []
    for tier, role in PRINCIPALS:
        with read_transaction(engine) as conn:
            principal = members.authenticate(conn, world.keys[tier, role])
            policy = read_filter(
                principal,
                owner_org_id=stix_objects.c.owner_org_id,
                tlp=stix_objects.c.tlp,
                dist=stix_objects.c.dist,
                group_id=stix_objects.c.group_id,
            )
            columns = (stix_objects.c.stix_id, stix_objects.c.owner_org_id, stix_objects.c.tlp)
            stored = conn.execute(select(*columns, stix_objects.c.dist, stix_objects.c.group_id))
            markings = {
                sid: Marking(owner, TLP(t), DistKind(d), g) for sid, owner, t, d, g in stored
            }
            visible = set(conn.execute(select(stix_objects.c.stix_id).where(policy)).scalars())
        assert (principal.tier, principal.role) == (tier, role)
        rows = rows_of(tier, role)
        wrong += _mismatches(rows, {row: world.object_of(row).stix_id in visible for row in rows})
        # Beyond the table's rows: both forms agree on every stored object.
        wrong += [
            f"{tier} {role}: can_read and read_filter disagree on {sid}"
            for sid, marking in markings.items()
            if can_read(principal, marking) is not (sid in visible)
        ]
    assert wrong == []


# --------------------------------------------------------------------------- the REST API


def list_all(
    client: TestClient, headers: dict[str, str], page: int = PAGE, **filters: Any
) -> list[dict[str, Any]]:
    """Every object of a listing, following the cursor through all pages."""
    listed: list[dict[str, Any]] = []
    params: dict[str, Any] = {**filters, "limit": page}
    while True:
        response = client.get("/api/v1/objects", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        listed += page["objects"]
        if not page["more"]:
            return listed
        params["cursor"] = page["next"]


def _compare(world: World, who: str, got: list[str], want: set[str]) -> list[str]:
    problems: list[str] = []
    if len(got) != len(set(got)):
        problems.append(f"{who}: some objects are listed more than once")
    leaked, missing = set(got) - want, want - set(got)
    if leaked:
        problems.append(f"{who}: sees what it must not: {world.labels(leaked)}")
    if missing:
        problems.append(f"{who}: misses: {world.labels(missing)}")
    return problems


def test_listing_shows_exactly_the_table(client: TestClient, world: World) -> None:
    problems: list[str] = []
    for tier, role in PRINCIPALS:
        listed = list_all(client, world.auth(tier, role))
        got = [item["id"] for item in listed]
        problems += _compare(world, f"{tier} {role}", got, world.visible_ids(tier, role))
        # The listing shows objects at their latest version only.
        assert {item["object"]["modified"] for item in listed} <= {V2}
    assert problems == []


#: Listing filters and which placed objects each keeps (before the policy).
FILTERS: list[tuple[dict[str, Any], Any]] = [
    ({"type": "indicator"}, lambda obj: True),
    ({"type": ["malware", "indicator"]}, lambda obj: True),
    ({"type": "malware"}, lambda obj: False),
    ({"tlp": "amber"}, lambda obj: obj.tlp <= TLP.AMBER),
    ({"tlp": "red"}, lambda obj: True),
    ({"owner": PEER}, lambda obj: obj.owner == PEER),
    ({"owner": READERS[Tier.APPLICANT]}, lambda obj: obj.owner == READERS[Tier.APPLICANT]),
    ({"added_since": "2000-01-01T00:00:00Z"}, lambda obj: True),
    ({"added_since": "2999-01-01T00:00:00Z"}, lambda obj: False),
    ({"text": "dist-members"}, lambda obj: obj.column == "members"),
    ({"text": "dist-group"}, lambda obj: obj.column == "group"),
    (
        {"type": "indicator", "tlp": "green", "owner": PEER, "text": "dist-"},
        lambda obj: obj.tlp <= TLP.GREEN and obj.owner == PEER,
    ),
]


def test_filtered_listings_never_widen_the_table(client: TestClient, world: World) -> None:
    problems: list[str] = []
    for (tier, role), (filters, keeps) in product(PRINCIPALS, FILTERS):
        listed = list_all(client, world.auth(tier, role), page=len(world.placed), **filters)
        got = [item["id"] for item in listed]
        kept = {obj.stix_id for obj in world.placed.values() if keeps(obj)}
        want = world.visible_ids(tier, role) & kept
        problems += _compare(world, f"{tier} {role} {filters}", got, want)
    assert problems == []


def _without_id(response: Response, stix_id: str) -> tuple[int, bytes]:
    return response.status_code, response.content.replace(stix_id.encode(), b"<id>")


def test_get_and_versions_follow_the_table_and_hide_like_absent(
    client: TestClient, world: World
) -> None:
    """Each row through GET /objects/{id} and /versions; a hidden object reads as absent."""
    wrong: list[str] = []
    for tier, role in PRINCIPALS:
        headers = world.auth(tier, role)
        absent = {
            path: _without_id(client.get(path.format(ABSENT_ID), headers=headers), ABSENT_ID)
            for path in ("/api/v1/objects/{}", "/api/v1/objects/{}/versions")
        }
        assert {status for status, _ in absent.values()} == {404}
        answers: dict[str, bool] = {}
        for row in rows_of(tier, role):
            obj = world.object_of(row)
            if obj.stix_id not in answers:
                answers[obj.stix_id] = _read_one(client, headers, obj, absent)
            if answers[obj.stix_id] is not expected(row):
                wrong.append(f"{row}: expected {'visible' if expected(row) else 'hidden'}")
    assert wrong == []


def _read_one(
    client: TestClient, headers: dict[str, str], obj: Placed, absent: dict[str, tuple[int, bytes]]
) -> bool:
    """Whether `obj` is readable, checking each answer is whole or exactly like absent."""
    one = client.get(f"/api/v1/objects/{obj.stix_id}", headers=headers)
    versions = client.get(f"/api/v1/objects/{obj.stix_id}/versions", headers=headers)
    if one.status_code == 404:
        assert _without_id(one, obj.stix_id) == absent["/api/v1/objects/{}"]
        assert _without_id(versions, obj.stix_id) == absent["/api/v1/objects/{}/versions"]
        return False
    assert one.status_code == versions.status_code == 200, (one.text, versions.text)
    assert (one.json()["id"], one.json()["owner"]) == (obj.stix_id, obj.owner)
    assert one.json()["object"]["modified"] == V2
    listed = [(v["owner"], v["object"]["modified"]) for v in versions.json()["versions"]]
    assert listed == [(obj.owner, V1), (obj.owner, V2)]
    return True


def test_observable_search_follows_the_table(client: TestClient, world: World) -> None:
    """Every object holds SHARED_VALUE, so one search per caller answers every row."""
    wrong: list[str] = []
    for tier, role in PRINCIPALS:
        headers = world.auth(tier, role)
        found = client.get("/api/v1/observables", params={"value": SHARED_VALUE}, headers=headers)
        assert found.status_code == 200, found.text
        got = [item["id"] for item in found.json()["objects"]]
        wrong += _compare(world, f"{tier} {role}", got, world.visible_ids(tier, role))
        rows = rows_of(tier, role)
        wrong += _mismatches(rows, {row: world.object_of(row).stix_id in got for row in rows})
    assert wrong == []


# --------------------------------------------------------------------------- no key at all

READ_PATHS = (
    "/api/v1/objects",
    "/api/v1/objects/{id}",
    "/api/v1/objects/{id}/versions",
    f"/api/v1/observables?value={SHARED_VALUE}",
)


def _app_client(engine: Engine, *, public_read: bool) -> TestClient:
    settings = Settings(
        database_url="sqlite:///unused-the-engine-is-given", public_read=public_read
    )
    return TestClient(create_app(settings, engine), raise_server_exceptions=False)


def test_anonymous_reads_only_clear_public_when_the_node_allows(
    engine: Engine, world: World
) -> None:
    want = {o.stix_id for o in world.placed.values() if o.tlp is TLP.CLEAR and o.column == "public"}
    assert len(want) == len(OWNERS)
    with _app_client(engine, public_read=True) as anonymous:
        listed = [item["id"] for item in list_all(anonymous, {})]
        found = anonymous.get("/api/v1/observables", params={"value": SHARED_VALUE}).json()
        problems = _compare(world, "anonymous listing", listed, want)
        problems += _compare(world, "anonymous search", [o["id"] for o in found["objects"]], want)
        for obj in (o for o in world.placed.values() if o.owner == PEER):
            one = anonymous.get(f"/api/v1/objects/{obj.stix_id}")
            versions = anonymous.get(f"/api/v1/objects/{obj.stix_id}/versions")
            status = 200 if obj.stix_id in want else 404
            if (one.status_code, versions.status_code) != (status, status):
                problems.append(f"anonymous GET of {obj}: {one.status_code}/{versions.status_code}")
    assert problems == []


def test_anonymous_reads_are_refused_when_the_node_does_not_allow(
    engine: Engine, world: World
) -> None:
    clear_public = world.placed[PEER, TLP.CLEAR, "public"]
    with _app_client(engine, public_read=False) as anonymous:
        for path in READ_PATHS:
            response = anonymous.get(path.format(id=clear_public.stix_id))
            assert response.status_code == 401, path
            assert response.json()["error"] == "unauthorized"


def test_keys_of_a_withdrawn_organisation_are_refused(
    client: TestClient, engine: Engine, world: World
) -> None:
    own = world.placed[READERS[Tier.CONTRIBUTING], TLP.CLEAR, "public"]
    for role in Role:
        headers = world.auth(Tier.CONTRIBUTING, role)
        assert client.get(f"/api/v1/objects/{own.stix_id}", headers=headers).status_code == 200
    set_tier(engine, READERS[Tier.CONTRIBUTING], Tier.WITHDRAWN)
    for role, path in product(Role, READ_PATHS):
        response = client.get(
            path.format(id=own.stix_id), headers=world.auth(Tier.CONTRIBUTING, role)
        )
        assert response.status_code == 401, (role, path)
        assert own.stix_id not in response.text
