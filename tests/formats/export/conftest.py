"""A small coalition store for the export tests: one object per sharing marking."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from shieldwall.db.engine import read_transaction
from shieldwall.intel.tables import stix_objects
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from shieldwall.sharing.policy import Marking, can_read
from shieldwall.sharing.tlp import TLP, DistKind
from tests.factories import Coalition, bundle, indicator, stix_id
from tests.intel.store import post_bundle


@dataclass
class Stored:
    """What each organisation posted: stix id -> the values it carries."""

    values: dict[str, list[str]] = field(default_factory=dict)
    posted_by: dict[str, str] = field(default_factory=dict)


#: (owner, tlp, distribution, values by pattern path): every marking the policy distinguishes.
MARKINGS: list[tuple[str, str, str]] = [
    ("Sponsor A", "amber", "members"),
    ("Sponsor A", "red", "org"),
    ("Sponsor B", "green", "public"),
    ("Sponsor B", "red", "members"),
    ("Contributor", "amber", "group:ics"),
    ("Contributor", "amber", "org"),
    ("Host", "clear", "public"),
]

_PATHS = (
    ("ipv4-addr:value", "203.0.113.{n}"),
    ("domain-name:value", "evil-{n}.example-bad.xyz"),
    ("url:value", "http://bad-{n}.example-bad.xyz/x/{n}.php?id={n}"),
    ("file:hashes.MD5", "{n:032x}"),
    ("file:hashes.'SHA-256'", "{n:064x}"),
)


def _indicator_pattern(values: list[tuple[str, str]]) -> str:
    return "[" + " OR ".join(f"{path} = '{value}'" for path, value in values) + "]"


def make_indicator(n: int, **extra: Any) -> tuple[dict[str, Any], list[str]]:
    """An indicator with one value of each kind, all unique to `n`."""
    values = [(path, template.format(n=n)) for path, template in _PATHS]
    obj = indicator(values[0][1], object_id=stix_id("indicator"), confidence=80, **extra)
    obj["pattern"] = _indicator_pattern(values)
    return obj, [value for _, value in values]


def stock(client: TestClient, coalition: Coalition) -> Stored:
    stored = Stored()
    for position, (owner, tlp, distribution) in enumerate(MARKINGS, start=1):
        obj, values = make_indicator(position)
        response = post_bundle(
            client,
            coalition.auth(owner, Role.ANALYST),
            bundle(obj),
            tlp=tlp,
            distribution=distribution,
        )
        assert response.status_code == 200, response.text
        stored.values[obj["id"]] = values
        stored.posted_by[obj["id"]] = owner
    return stored


@pytest.fixture
def stored(client: TestClient, coalition: Coalition) -> Stored:
    return stock(client, coalition)


def visibility(engine: Engine, org: str, stored: Stored) -> dict[str, bool]:
    """Whether the policy's predicate lets `org` read each stored object, by id."""
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, org, Role.READER)
        rows = conn.execute(
            select(
                stix_objects.c.stix_id,
                stix_objects.c.owner_org_id,
                stix_objects.c.tlp,
                stix_objects.c.dist,
                stix_objects.c.group_id,
            ).where(stix_objects.c.stix_id.in_(list(stored.values)))
        ).all()
    return {
        sid: can_read(principal, Marking(owner, TLP(tlp), DistKind(dist), group))
        for sid, owner, tlp, dist, group in rows
    }
