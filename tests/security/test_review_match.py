"""Review of the batch look-ups: a hidden indicator answers exactly as a value stored nowhere.

`POST /api/v1/match` now looks values up one batch per kind (`View.lookup_many`)
and a scan prefilters one batch per kind (policy-free). For a caller, every
value it may not see must answer byte for byte as a value that no
organisation stores, whatever its kind, whatever the visible values around it
in the batch, with or without warninglisted hits and a minimum score. The
indicators are dated in the future so that their scores do not decay between
two calls (a score is its base while the indicator is not yet refreshed).
"""

from __future__ import annotations

import io
import ipaddress
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.intel.service import Reader
from shieldwall.match.index import MatchIndex, View
from shieldwall.match.scan import ScanResult, local_matcher, scan
from shieldwall.match.service import IndexHolder, MatchOptions
from shieldwall.members import bootstrap
from shieldwall.members import repository as members_repository
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from shieldwall.sharing.policy import Marking, Principal, can_read
from shieldwall.sharing.tlp import TLP, DistKind
from tests.factories import Coalition, indicator, stix_id
from tests.security.helpers import store

#: Far enough ahead that no score decays during a test.
FUTURE = "2099-01-01T00:00:00.000Z"
OBSERVER = "Outsider"


def dated(value: str, path: str, **extra: Any) -> dict[str, Any]:
    return indicator(value, path, modified=FUTURE, created=FUTURE, confidence=80, **extra)


@dataclass(frozen=True)
class Planted:
    """A stored indicator value, how the observer asks for it, and its marking."""

    value: str
    path: str
    asked: Any  # a bare string or a {type, value} object, as the request carries it
    owner: str
    tlp: str
    distribution: str


#: Values the observer (Outsider: contributing, outside group "ics") sees.
VISIBLE = [
    Planted("198.18.7.21", "ipv4-addr:value", "198.18.7.21", "Sponsor B", "green", "public"),
    Planted("seen.example", "domain-name:value", "www.seen.example", "Host", "amber", "public"),
    Planted("8.8.8.8", "ipv4-addr:value", "8.8.8.8", "Sponsor B", "green", "public"),
]
#: Values hidden from the observer, one per way of being hidden and per kind,
#: each asked in a form that needs the batch route's own normalisation.
HIDDEN = [
    Planted("198.18.9.1", "ipv4-addr:value", " 198.18.9.1 ", "Sponsor B", "red", "public"),
    Planted("198.18.200.0/24", "ipv4-addr:value", "198.18.200.7", "Sponsor B", "red", "public"),
    Planted("2001:db8::77", "ipv6-addr:value", "2001:DB8:0:0::77", "Host", "amber", "group:ics"),
    Planted("red.example", "domain-name:value", "A.b.Red.Example.", "Sponsor B", "red", "public"),
    Planted(
        "members.example", "domain-name:value", "members.example", "Sponsor B", "green", "members"
    ),
    Planted(
        "d41d8cd98f00b204e9800998ecf8427f",
        "file:hashes.MD5",
        {"type": "md5", "value": "D41D8CD98F00B204E9800998ECF8427F"},
        "Sponsor A",
        "green",
        "org",
    ),
    Planted("a" * 64, "file:hashes.'SHA-256'", "A" * 64, "Host", "green", "group:ics"),
    Planted(
        "http://org-only.example/a?b=1",
        "url:value",
        {"type": "url", "value": "HTTP://ORG-ONLY.example/a?b=1#frag"},
        "Sponsor A",
        "clear",
        "org",
    ),
    Planted(
        "x@org-only.example", "email-addr:value", "X@Org-Only.example", "Sponsor A", "green", "org"
    ),
    # Warninglisted values: a hidden one must not surface through the flag.
    Planted("1.1.1.1", "ipv4-addr:value", "1.1.1.1", "Sponsor A", "green", "org"),
    Planted("google.com", "domain-name:value", "mail.google.com", "Host", "red", "group:ics"),
    # A value a visible indicator also holds: only the visible holder shows.
    Planted("198.18.7.21", "ipv4-addr:value", "198.18.7.21", "Sponsor A", "amber", "org"),
]
#: Values stored nowhere, in the same shape (kind, form) as HIDDEN, position for position.
ABSENT: list[Any] = [
    " 198.18.9.2 ",
    "198.18.201.7",
    "2001:DB8:0:0::78",
    "A.b.Blue.Example.",
    "nonmembers.example",
    {"type": "md5", "value": "D41D8CD98F00B204E9800998ECF84270"},
    "B" * 64,
    {"type": "url", "value": "HTTP://NOWHERE.example/a?b=1#frag"},
    "Y@Nowhere.example",
    "9.9.9.9",
    "mail.yahoo.com",
    "198.18.7.21",
]


def plant(client: TestClient, coalition: Coalition, planted: list[Planted]) -> None:
    for item in planted:
        obj = dated(item.value, item.path)
        store(client, coalition, item.owner, [obj], tlp=item.tlp, distribution=item.distribution)


def interleave(visible: list[Any], others: list[Any]) -> list[Any]:
    """Visible and other values alternating, so each batch of a kind mixes both."""
    mixed: list[Any] = []
    for position, other in enumerate(others):
        mixed.append(other)
        mixed.append(visible[position % len(visible)])
    return mixed


def ask(
    client: TestClient, headers: dict[str, str], observables: list[Any], **options: Any
) -> bytes:
    response = client.post(
        "/api/v1/match", json={"observables": observables, **options}, headers=headers
    )
    assert response.status_code == 200, response.text
    content: bytes = response.content
    return content


#: Documentation ranges (198.18.0.0/15, ...) are warninglisted: some tests want those hits too.
EVERY_HIT = {"include_warninglisted": True}

OPTIONS = [
    {},
    {"include_warninglisted": True},
    {"include_warninglisted": True, "min_score": 50},
]


@pytest.mark.parametrize("options", OPTIONS, ids=["default", "warninglisted", "min-score"])
def test_a_batch_answers_hidden_values_byte_for_byte_as_values_stored_nowhere(
    client: TestClient, coalition: Coalition, options: dict[str, Any]
) -> None:
    plant(client, coalition, VISIBLE + HIDDEN)
    visible = [item.asked for item in VISIBLE]
    hidden = [item.asked for item in HIDDEN]
    observer = coalition.auth(OBSERVER)

    with_hidden = ask(client, observer, interleave(visible, hidden), **options)
    with_absent = ask(client, observer, interleave(visible, ABSENT), **options)
    assert with_hidden == with_absent
    # One value at a time, and hidden values alone: still nothing.
    for asked, absent in zip(hidden, ABSENT, strict=True):
        assert ask(client, observer, [asked], **options) == ask(
            client, observer, [absent], **options
        )
    alone = orjson.loads(ask(client, observer, hidden[:-1], **options))
    assert alone == {"checked": len(hidden) - 1, "hits": [], "unrecognised": []}


def test_the_hidden_values_do_match_for_those_who_may_see_them(
    client: TestClient, coalition: Coalition
) -> None:
    """The control of the test above: each hidden value is indexed and matches its owner."""
    plant(client, coalition, VISIBLE + HIDDEN)
    for item in HIDDEN:
        body = client.post(
            "/api/v1/match",
            json={"observables": [item.asked], "include_warninglisted": True},
            headers=coalition.auth(item.owner),
        ).json()
        owners = [hit["owner"] for found in body["hits"] for hit in found["indicators"]]
        assert item.owner in owners, (item, body)


def test_a_shared_value_shows_only_its_visible_holders(
    client: TestClient, coalition: Coalition
) -> None:
    plant(client, coalition, VISIBLE + HIDDEN)
    body = client.post(
        "/api/v1/match",
        json={"observables": ["198.18.7.21"], "include_warninglisted": True},
        headers=coalition.auth(OBSERVER),
    ).json()
    [found] = body["hits"]
    assert [(hit["owner"], hit["tlp"]) for hit in found["indicators"]] == [("Sponsor B", "green")]


def test_a_narrowed_newest_version_withdraws_every_match_at_once(
    client: TestClient, coalition: Coalition
) -> None:
    """v1 public, then v2 RED (or v0 public imported later): the observer no longer matches."""
    object_id = stix_id("indicator")
    observer = coalition.auth(OBSERVER)
    asked = ["198.18.7.21", "198.18.60.0/30", "198.18.60.1"]
    # Documentation ranges are warninglisted: ask for those hits too.
    never = ask(client, observer, asked, **EVERY_HIT)
    v1 = indicator(
        "198.18.60.0/30", object_id=object_id, modified="2099-01-02T00:00:00.000Z", created=FUTURE
    )
    store(client, coalition, "Sponsor B", [v1], tlp="green", distribution="public")
    assert ask(client, observer, asked, **EVERY_HIT) != never  # visible while v1 is the latest
    v2 = {**v1, "modified": "2099-01-03T00:00:00.000Z"}
    store(client, coalition, "Sponsor B", [v2], tlp="red", distribution="public")
    assert ask(client, observer, asked, **EVERY_HIT) == never
    # An older version imported after the narrowing does not bring it back.
    v0 = {**v1, "modified": "2099-01-01T12:00:00.000Z"}
    store(client, coalition, "Sponsor B", [v0], tlp="clear", distribution="public")
    assert ask(client, observer, asked, **EVERY_HIT) == never
    # A fresh index (another process, a restart) loads the same picture.
    app: Any = client.app
    app.state.match_index = IndexHolder(app.state.engine)
    assert ask(client, observer, asked, **EVERY_HIT) == never


def test_another_owner_of_the_same_id_narrowing_does_not_touch_the_first_owners_chain(
    client: TestClient, coalition: Coalition
) -> None:
    object_id = stix_id("indicator")
    v1 = indicator("198.18.61.9", object_id=object_id, modified=FUTURE, created=FUTURE)
    store(client, coalition, "Sponsor B", [v1], tlp="green", distribution="public")
    v2 = {**v1, "modified": "2099-02-01T00:00:00.000Z"}
    store(client, coalition, "Sponsor A", [v2], tlp="red", distribution="org")
    body = client.post(
        "/api/v1/match",
        json={"observables": ["198.18.61.9"], "include_warninglisted": True},
        headers=coalition.auth(OBSERVER),
    ).json()
    [found] = body["hits"]
    assert [hit["owner"] for hit in found["indicators"]] == ["Sponsor B"]
    # Sponsor A sees both chains: its own RED one and Sponsor B's public one.
    mine = client.post(
        "/api/v1/match",
        json={"observables": ["198.18.61.9"], "include_warninglisted": True},
        headers=coalition.auth("Sponsor A"),
    ).json()
    assert sorted(h["owner"] for h in mine["hits"][0]["indicators"]) == ["Sponsor A", "Sponsor B"]


def _set_tier(engine: Engine, org: str, tier: Tier) -> None:
    with write_transaction(engine) as conn:
        members_repository.set_tier(conn, members.org_named(conn, org)["id"], tier.value, None)


def test_a_suspended_org_matches_only_its_own_and_a_withdrawn_one_nothing(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    plant(client, coalition, VISIBLE + HIDDEN)
    own = dated("198.18.70.1", "ipv4-addr:value")
    store(client, coalition, "Contributor", [own], tlp="red", distribution="org")
    asked = [item.asked for item in VISIBLE + HIDDEN] + ["198.18.70.1"]
    headers = coalition.auth("Contributor")
    before = client.post(
        "/api/v1/match", json={"observables": asked, "include_warninglisted": True}, headers=headers
    ).json()
    assert len(before["hits"]) > 1  # public and group "ics" indicators of others

    _set_tier(engine, "Contributor", Tier.SUSPENDED)
    suspended = client.post(
        "/api/v1/match", json={"observables": asked, "include_warninglisted": True}, headers=headers
    ).json()
    owners = {h["owner"] for found in suspended["hits"] for h in found["indicators"]}
    assert owners == {"Contributor"}
    assert [found["value"] for found in suspended["hits"]] == ["198.18.70.1"]

    _set_tier(engine, "Contributor", Tier.WITHDRAWN)
    refused = client.post(
        "/api/v1/match", json={"observables": asked, "include_warninglisted": True}, headers=headers
    )
    assert refused.status_code == 401
    assert "198.18" not in refused.text


# --------------------------------------------------------------------------- scan


def _scan_as(engine: Engine, org: str, log: bytes) -> ScanResult:
    with read_transaction(engine) as conn:
        reader = Reader(bootstrap.principal_for(conn, org, Role.SENSOR))
    index = IndexHolder(engine).current()
    matcher, prefilter = local_matcher(
        engine, index, reader, MatchOptions(include_warninglisted=True)
    )
    return scan([io.BytesIO(log)], matcher, prefilter)


def _log(values: list[str]) -> bytes:
    lines = [
        f'2026-01-01T00:00:{n % 60:02d}Z src="{value}" dst=198.18.7.21 q=seen.example'
        for n, value in enumerate(values * 3)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_a_scan_reports_the_same_for_hidden_values_as_for_values_stored_nowhere(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    plant(client, coalition, VISIBLE + HIDDEN)
    in_log = [
        "198.18.9.1",
        "198.18.200.7",
        "a.b.red.example",
        "members.example",
        "a" * 64,
        "http://org-only.example/a?b=1",
        "x@org-only.example",
        "1.1.1.1",
    ]
    nowhere = [
        "198.18.9.2",
        "198.18.201.7",
        "a.b.blue.example",
        "nonmembers.example",
        "b" * 64,
        "http://nowhere.example/a?b=1",
        "y@nowhere.example",
        "9.9.9.9",
    ]
    hidden = _scan_as(engine, OBSERVER, _log(in_log))
    absent = _scan_as(engine, OBSERVER, _log(nowhere))
    assert (hidden.lines, hidden.observables) == (absent.lines, absent.observables)
    assert hidden.rows() == absent.rows()
    assert {row["value"] for row in hidden.rows()} == {"198.18.7.21", "seen.example"}
    # Control: the owner of the RED public indicators finds them in the same log.
    owner = _scan_as(engine, "Sponsor B", _log(in_log))
    assert {"198.18.9.1", "198.18.200.7", "a.b.red.example"} <= {r["value"] for r in owner.rows()}


# --------------------------------------------------------------------------- the index itself

_OWNERS = (1, 2, 3)
_MARKINGS = st.builds(
    Marking,
    owner_org_id=st.sampled_from(_OWNERS),
    tlp=st.sampled_from(list(TLP)),
    dist=st.sampled_from(list(DistKind)),
    group_id=st.sampled_from([None, 10, 11]),
)
_ADDRESSES = [f"10.0.{a}.{b}" for a in (0, 1) for b in (1, 2, 130)]
_NETS = ["10.0.0.0/24", "10.0.0.0/25", "10.0.0.128/25", "10.0.0.0/16", "10.0.1.0/24"]
_DOMAINS = ["example.org", "a.example.org", "b.a.example.org", "other.net"]
_HASHES = ["ab" * 32, "cd" * 32, "ef" * 32]
_VALUES = st.one_of(
    st.tuples(st.just("ipv4"), st.sampled_from(_ADDRESSES)),
    st.tuples(st.just("cidr"), st.sampled_from(_NETS)),
    st.tuples(st.just("domain"), st.sampled_from(_DOMAINS)),
    st.tuples(st.just("sha256"), st.sampled_from(_HASHES)),
)
_ASKED = {
    "ipv4": [*_ADDRESSES, "10.0.0.200", "10.9.9.9", " 10.0.0.1", "not an address"],
    "domain": [*_DOMAINS, "c.b.a.example.org", "EXAMPLE.org.", "x.other.net", "org"],
    "sha256": [*_HASHES, "AB" * 32, "00" * 32, "zz"],
}
_PRINCIPALS = st.builds(
    Principal,
    org_id=st.sampled_from(_OWNERS),
    org_name=st.just("caller"),
    tier=st.sampled_from(list(Tier)),
    role=st.sampled_from(list(Role)),
    group_ids=st.frozensets(st.sampled_from([10, 11])),
) | st.just(Principal.anonymous())


def _holds(kind: str, asked: str, stored_kind: str, stored: str) -> bool:
    """The oracle: does an indicator value `stored` match the value `asked` of `kind`?"""
    text = asked.strip().rstrip(".").lower()
    if kind == "ipv4":
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return False
        return address in ipaddress.ip_network(stored) if stored_kind in ("ipv4", "cidr") else False
    if kind == "domain":
        return stored_kind == "domain" and (text == stored or text.endswith("." + stored))
    return stored_kind == kind and text == stored


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stored=st.lists(st.tuples(_MARKINGS, st.lists(_VALUES, min_size=1, max_size=3)), max_size=12),
    dead=st.sets(st.integers(0, 11)),
    principal=_PRINCIPALS,
    anonymous_public=st.booleans(),
)
def test_a_views_batch_look_up_finds_exactly_the_visible_live_holders(
    stored: list[tuple[Marking, list[tuple[str, str]]]],
    dead: set[int],
    principal: Principal,
    anonymous_public: bool,
) -> None:
    index = MatchIndex()
    for number, (marking, found) in enumerate(stored):
        index.add(number + 1, marking, found)
    for number in dead:
        index.remove(number + 1)
    view = View(index, principal, anonymous_public=anonymous_public)
    for kind, asked in _ASKED.items():
        got = {
            (position, index.pks[slot])
            for position, _, _, slots in view.lookup_many(kind, asked)
            for slot in ([slots] if isinstance(slots, int) else slots)
        }
        expected = {
            (position, number + 1)
            for position, value in enumerate(asked)
            for number, (marking, found) in enumerate(stored)
            if number not in dead
            and can_read(principal, marking, anonymous_public=anonymous_public)
            and any(_holds(kind, value, k, v) for k, v in found)
        }
        assert got == expected, (kind, asked)
        # Batch and one-at-a-time answers agree, in order, for every value.
        one_by_one = [
            (position, hit_kind, hit_value)
            for position, value in enumerate(asked)
            for _, hit_kind, hit_value, _ in view.lookup_many(kind, [value])
        ]
        batch = [hit[:3] for hit in view.lookup_many(kind, asked)]
        assert batch == one_by_one
