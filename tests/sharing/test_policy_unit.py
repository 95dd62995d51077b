"""Actions of the access policy: who may read, write, report, manage and administer.

`ROLE_ACTIONS` is the grid for an organisation that takes part in sharing
(host, sponsoring, contributing); the rules under it say how the other tiers
narrow it. Each cell is checked against `may` and `require`, and writing intel
once more through `POST /api/v1/bundles`, where `require` guards it.
"""

from __future__ import annotations

from itertools import product

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.db.engine import write_transaction
from shieldwall.errors import Forbidden
from shieldwall.members import bootstrap
from shieldwall.members import repository as members_repository
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from shieldwall.sharing.policy import Action, Principal, may, require
from tests.factories import bundle, indicator

COLUMNS = {
    "read": Action.READ_INTEL,
    "write": Action.WRITE_INTEL,
    "sight": Action.REPORT_SIGHTING,
    "manage": Action.MANAGE_OWN_ORG,
    "admin": Action.ADMINISTER_NODE,
}

# Y: may; -: may not; H: may only as the host organisation (the node's operator).
ROLE_ACTIONS = """
                read   write   sight   manage   admin
    org-admin     Y      Y       Y        Y        H
    analyst       Y      Y       Y        -        -
    reader        Y      -       -        -        -
    sensor        Y      -       Y        -        -
    sync          Y      Y       -        -        -
"""


def _grid(text: str) -> dict[tuple[Role, Action], str]:
    header, *lines = text.strip().splitlines()
    assert tuple(header.split()) == tuple(COLUMNS)
    grid: dict[tuple[Role, Action], str] = {}
    for line in lines:
        role, *cells = line.split()
        for column, cell in zip(COLUMNS, cells, strict=True):
            grid[Role(role), COLUMNS[column]] = cell
    assert {role for role, _ in grid} == set(Role)
    return grid


GRID = _grid(ROLE_ACTIONS)
#: Intel flows in only from organisations that take part in sharing.
WRITING = {Action.WRITE_INTEL, Action.REPORT_SIGHTING}


def expected(tier: Tier, role: Role, action: Action) -> bool:
    cell = GRID[role, action]
    if tier is Tier.WITHDRAWN:
        return False  # a withdrawn organisation may do nothing at all
    if cell == "H":
        return tier is Tier.HOST
    if action in WRITING and tier in (Tier.APPLICANT, Tier.SUSPENDED):
        return False  # applicants and suspended members read, they do not contribute
    return cell == "Y"


def principal(tier: Tier, role: Role) -> Principal:
    return Principal(org_id=7, org_name="Acme", tier=tier, role=role)


CASES = list(product(Tier, Role, Action))


@pytest.mark.parametrize(("tier", "role", "action"), CASES)
def test_may_follows_the_grid(tier: Tier, role: Role, action: Action) -> None:
    assert may(principal(tier, role), action) is expected(tier, role, action)


@pytest.mark.parametrize(("tier", "role", "action"), CASES)
def test_require_refuses_exactly_what_may_refuses(tier: Tier, role: Role, action: Action) -> None:
    if expected(tier, role, action):
        require(principal(tier, role), action)
        return
    with pytest.raises(Forbidden) as refused:
        require(principal(tier, role), action)
    assert refused.value.status_code == 403
    # The message names who was refused, with which key, and what for.
    assert "Acme" in refused.value.detail
    assert str(role) in refused.value.detail
    assert str(action) in refused.value.detail


@pytest.mark.parametrize("action", list(Action))
def test_an_anonymous_caller_may_do_nothing(action: Action) -> None:
    assert may(Principal.anonymous(), action) is False
    with pytest.raises(Forbidden, match="an anonymous caller may not"):
        require(Principal.anonymous(), action)


@pytest.mark.parametrize("tier", list(Tier))
def test_groups_count_only_for_tiers_that_take_part_in_sharing(tier: Tier) -> None:
    member = Principal(
        org_id=7, org_name="Acme", tier=tier, role=Role.READER, group_ids=frozenset({1, 2})
    )
    takes_part = tier in (Tier.HOST, Tier.SPONSORING, Tier.CONTRIBUTING)
    assert member.effective_groups == (frozenset({1, 2}) if takes_part else frozenset())


# --------------------------------------------------------------------------- through the API

WRITER_TIERS = (Tier.HOST, Tier.SPONSORING, Tier.CONTRIBUTING, Tier.APPLICANT, Tier.SUSPENDED)


def test_posting_a_bundle_needs_the_write_intel_action(client: TestClient, engine: Engine) -> None:
    keys: dict[tuple[Tier, Role], str] = {}
    with write_transaction(engine) as conn:
        keys[Tier.HOST, Role.ORG_ADMIN] = bootstrap.init_node(conn, "host", None).secret
        for tier in WRITER_TIERS[1:]:
            # Suspension happens to members: the organisation is created as one.
            initial = Tier.SPONSORING if tier is Tier.SUSPENDED else tier
            members.create_org(conn, tier.value, initial, None)
        for tier, role in product(WRITER_TIERS, Role):
            if (tier, role) not in keys:
                keys[tier, role] = members.create_key(conn, tier.value, role).secret
        suspended = members_repository.org_by_name(conn, Tier.SUSPENDED.value)
        assert suspended is not None
        members_repository.set_tier(conn, suspended["id"], Tier.SUSPENDED.value, None)
    wrong: list[str] = []
    for (tier, role), key in keys.items():
        response = client.post(
            "/api/v1/bundles",
            json=bundle(indicator()),
            headers={"Authorization": f"Bearer {key}"},
        )
        allowed = expected(tier, role, Action.WRITE_INTEL)
        if response.status_code != (200 if allowed else 403):
            wrong.append(f"{tier} {role}: {response.status_code} {response.text}")
        if not allowed and response.json()["error"] != "forbidden":
            wrong.append(f"{tier} {role}: refused as {response.json()['error']}")
    assert wrong == []
