"""No organisation ever sees intel of a tier it does not (yet, or any more) have.

The foundation's property (tests/sharing/test_policy_property.py) draws a
coalition whose tiers stand still. Here hypothesis interleaves, at random,
ingests (owner, distribution, TLP, reused ids and values, later versions)
with tier changes made through the real governance procedure over REST:
applications sponsored by the host (accession to contributing or
sponsoring), suspensions proposed by the host, withdrawals, and the passing
of time that closes the decisions by silence at their deadline.

A model follows what the procedure must do to each tier. After every step,
each organisation's tier on the node is the model's, and what it reads
through every intel endpoint (the listing with its pages and count, each
object, its versions, the objects found by each value) is exactly what
`can_read` allows for its CURRENT tier; a withdrawn organisation reads
nothing at all (401). One microsecond before a deadline nothing has changed
yet; at the deadline the change is there for every read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from shieldwall.app import create_app
from shieldwall.config import Settings
from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.governance.clock import ManualClock
from shieldwall.governance.settings import GovernanceSettings
from shieldwall.intel.ingest import Mode
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from shieldwall.sharing import repository as sharing_repository
from shieldwall.sharing import service as sharing
from shieldwall.sharing.policy import can_read
from shieldwall.sharing.tlp import TLP, DistKind, Distribution
from tests.factories import indicator
from tests.governance.conftest import PERIOD, START
from tests.sharing import empty_store, ingest_as, tlp_refs
from tests.sharing.test_policy_property import (
    ID_POOL,
    VALUE_POOL,
    check_reader,
    readable,
    stored_rows,
)

HOST = "Host"
ORGS = ("Org 1", "Org 2", "Org 3")
GROUP = "g"
INITIAL_TIERS = (Tier.APPLICANT, Tier.CONTRIBUTING, Tier.SPONSORING)
#: What each tier may apply for (governance's rule, restated for the model).
APPLICABLE = {
    Tier.APPLICANT: (Tier.CONTRIBUTING, Tier.SPONSORING),
    Tier.CONTRIBUTING: (Tier.SPONSORING,),
}


# ----------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Ingest:
    owner: int  # 0 is the host
    dist: str  # org, members, public, group
    tlp: TLP
    id_slot: int
    day: int
    value_slot: int


@dataclass(frozen=True)
class Apply:
    org: int
    tier: Tier


@dataclass(frozen=True)
class Suspend:
    org: int


@dataclass(frozen=True)
class Withdraw:
    org: int


@dataclass(frozen=True)
class Deadline:
    """The clock runs to the deadline of the decisions opened so far."""


Step = Ingest | Apply | Suspend | Withdraw | Deadline

members_only = st.integers(1, len(ORGS))
ingests = st.builds(
    Ingest,
    owner=st.integers(0, len(ORGS)),
    dist=st.sampled_from(["org", "members", "public", "group"]),
    tlp=st.just(TLP.RED) | st.sampled_from(TLP),
    id_slot=st.integers(0, len(ID_POOL) - 1),
    day=st.integers(1, 3),
    value_slot=st.integers(0, len(VALUE_POOL) - 1),
)
applications = st.builds(
    Apply, org=members_only, tier=st.sampled_from([Tier.CONTRIBUTING, Tier.SPONSORING])
)
deadlines = st.just(Deadline())
# Ingests, applications and deadlines drawn twice as often: accessions need an
# application and a deadline after it, and every tier needs intel to (not) see.
steps = st.one_of(
    ingests,
    ingests,
    applications,
    applications,
    st.builds(Suspend, org=members_only),
    st.builds(Withdraw, org=members_only),
    deadlines,
    deadlines,
)


@dataclass(frozen=True)
class Story:
    tiers: tuple[Tier, ...]  # of ORGS
    group: frozenset[int]  # indexes into (HOST, *ORGS)
    steps: tuple[Step, ...]


stories = st.builds(
    Story,
    tiers=st.lists(st.sampled_from(INITIAL_TIERS), min_size=len(ORGS), max_size=len(ORGS)).map(
        tuple
    ),
    group=st.frozensets(st.integers(0, len(ORGS))),
    steps=st.lists(steps, min_size=4, max_size=10).map(tuple),
)


# ----------------------------------------------------------------------------- the model


@dataclass
class Model:
    """Each organisation's tier as the procedure must leave it, and the open decisions."""

    tiers: dict[str, Tier]
    #: Open decisions in the order they were opened: (subject, tier it gets when adopted).
    open: list[tuple[str, Tier]] = field(default_factory=list)

    def may_apply(self, org: str, tier: Tier) -> bool:
        pending = any(subject == org and tier is not Tier.SUSPENDED for subject, tier in self.open)
        return tier in APPLICABLE.get(self.tiers[org], ()) and not pending

    def may_suspend(self, org: str) -> bool:
        pending = (org, Tier.SUSPENDED) in self.open
        return self.tiers[org] in (Tier.SPONSORING, Tier.CONTRIBUTING) and not pending

    def withdraw(self, org: str) -> None:
        self.tiers[org] = Tier.WITHDRAWN
        self.open = [(subject, tier) for subject, tier in self.open if subject != org]

    def close_all(self) -> None:
        """Silence consents: every open decision is adopted, in the order it was opened."""
        for subject, tier in self.open:
            event(f"tier change: {self.tiers[subject]} -> {tier}")
            self.tiers[subject] = tier
        self.open = []


# ----------------------------------------------------------------------------- the node


class Node:
    def __init__(self, client: TestClient, engine: Engine, keys: dict[str, str]) -> None:
        self.client = client
        self.engine = engine
        self.keys = keys

    def auth(self, org: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[org]}"}

    def post(self, org: str, path: str, body: Any = None) -> int:
        response = self.client.post(f"/api/v1{path}", json=body, headers=self.auth(org))
        return response.status_code

    def apply(self, org: str, tier: Tier) -> bool:
        """`org` applies and the host sponsors: the decision opens. False when refused."""
        applied = self.client.post(
            "/api/v1/applications",
            json={"tier": tier.value, "statement": "we ask to join"},
            headers=self.auth(org),
        )
        if applied.status_code != 201:
            return False
        sponsored = self.post(HOST, f"/applications/{applied.json()['id']}/sponsor")
        assert sponsored == 200
        return True

    def tier(self, org: str) -> Tier | None:
        """The tier the node gives the organisation now (None: its keys no longer work)."""
        response = self.client.get("/api/v1/me", headers=self.auth(org))
        if response.status_code == 401:
            return None
        assert response.status_code == 200, response.text
        return Tier(response.json()["tier"])


def _ingest(engine: Engine, step: Ingest, owner: str) -> None:
    if step.dist == "group":
        with read_transaction(engine) as conn:
            group = sharing_repository.group_by_name(conn, GROUP)
        assert group is not None
        distribution = Distribution(DistKind.GROUP, group["id"], group["name"])
    else:
        distribution = Distribution(DistKind[step.dist.upper()])
    obj = indicator(
        VALUE_POOL[step.value_slot],
        object_id=ID_POOL[step.id_slot],
        modified=f"2024-01-{step.day:02d}T00:00:00.000Z",
        object_marking_refs=tlp_refs(step.tlp),
    )
    # Lenient: a drawn version that clashes with a stored one is simply rejected.
    ingest_as(engine, owner, distribution, [obj], mode=Mode.LENIENT)


def _build(engine: Engine, story: Story) -> dict[str, str]:
    empty_store(engine)
    names = (HOST, *ORGS)
    with write_transaction(engine) as conn:
        members.create_org(conn, HOST, Tier.HOST, None)
        for name, tier in zip(ORGS, story.tiers, strict=True):
            members.create_org(conn, name, tier, None)
        sharing.create_group(conn, GROUP, [names[index] for index in sorted(story.group)])
        return {name: members.create_key(conn, name, Role.ORG_ADMIN).secret for name in names}


def check_everyone(node: Node, model: Model) -> None:
    """Each organisation has the model's tier and reads exactly what the policy gives it."""
    rows = stored_rows(node.engine)
    for org in (HOST, *ORGS):
        expected = model.tiers[org]
        if expected is Tier.WITHDRAWN:
            assert node.tier(org) is None
            listing = node.client.get("/api/v1/objects", headers=node.auth(org))
            assert listing.status_code == 401
            continue
        with read_transaction(node.engine) as conn:
            principal = members.authenticate(conn, node.keys[org])
        assert principal.tier is expected, (org, principal.tier, expected)
        # A version is read only while its object's latest version is readable too.
        allowed = readable(rows, partial(can_read, principal))
        check_reader(node.client, node.auth(org), allowed, page=3)


def run_step(node: Node, model: Model, clock: ManualClock, step: Step) -> None:
    if isinstance(step, Ingest):
        owner = (HOST, *ORGS)[step.owner]
        if model.tiers[owner] is not Tier.WITHDRAWN:
            _ingest(node.engine, step, owner)
    elif isinstance(step, Apply):
        org = ORGS[step.org - 1]
        allowed = model.tiers[org] is not Tier.WITHDRAWN and model.may_apply(org, step.tier)
        assert node.apply(org, step.tier) is allowed, (org, step.tier, model)
        if allowed:
            model.open.append((org, step.tier))
    elif isinstance(step, Suspend):
        org = ORGS[step.org - 1]
        body = {"org": org, "reason": "drawn by hypothesis"}
        status = node.post(HOST, "/governance/suspensions", body)
        assert (status == 201) is model.may_suspend(org), (org, status, model)
        if status == 201:
            model.open.append((org, Tier.SUSPENDED))
    elif isinstance(step, Withdraw):
        org = ORGS[step.org - 1]
        status = node.post(org, "/governance/withdrawal")
        if model.tiers[org] is Tier.WITHDRAWN:
            assert status == 401
        else:
            assert status == 200
            model.withdraw(org)
    else:
        _reach_deadline(node, model, clock)


def _reach_deadline(node: Node, model: Model, clock: ManualClock) -> None:
    """Just before the deadline nothing changes; at it, every adopted change is in force."""
    deadline = clock.now() + PERIOD
    event(f"decisions closed at a deadline: {len(model.open)}")
    clock.set(deadline - timedelta(microseconds=1))
    for org in {subject for subject, _ in model.open}:
        assert node.tier(org) is model.tiers[org], org
    clock.set(deadline)
    model.close_all()


@settings(
    max_examples=15,
    deadline=None,
    # The store is emptied at the start of every example, not by the fixture.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(story=stories)
def test_reads_follow_every_tier_change_at_once(
    engine: Engine, clock: ManualClock, gov_settings: GovernanceSettings, story: Story
) -> None:
    clock.set(START)
    keys = _build(engine, story)
    model = Model(tiers={HOST: Tier.HOST, **dict(zip(ORGS, story.tiers, strict=True))})
    node_settings = Settings(database_url="sqlite:///unused")
    app: Any = create_app(node_settings, engine)
    app.state.clock = clock
    app.state.governance_settings = gov_settings
    with TestClient(app, raise_server_exceptions=False) as client:
        node = Node(client, engine, keys)
        check_everyone(node, model)
        for step in story.steps:
            run_step(node, model, clock, step)
            check_everyone(node, model)
