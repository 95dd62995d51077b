"""The compiled batch look-ups (`match/_lookup.c`) answer exactly what the Python loops answer.

Two indexes hold the same indicators, one routed to C and one kept to the
Python loops; every kind is looked up in both, raw and normalised, with
values built to reach the edges of the C fast paths: case, surrounding
white space, trailing dots, non-ASCII text, NUL and control characters,
odd-length and spaced hex, URLs with user info, brackets, empty queries and
fragments, over-long values, CIDR text where an address is expected.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.match import index as index_module
from shieldwall.match.index import COMPILED, MatchIndex, View
from shieldwall.members.model import Role, Tier
from shieldwall.sharing.policy import Marking, Principal
from shieldwall.sharing.tlp import TLP, DistKind

pytestmark = pytest.mark.skipif(
    not COMPILED and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="SKIPPING: shieldwall.match._lookup is not built (no C compiler at install time)",
)

MARKINGS = [Marking(owner, TLP.AMBER, DistKind.ORG) for owner in (1, 2, 3)]

_IPV4 = ["10.0.0.1", "10.0.0.2", "192.168.1.77", "203.0.113.9", "0.0.0.0", "255.255.255.255"]
_IPV4_CIDRS = ["10.0.0.0/8", "10.0.0.0/24", "192.168.0.0/16", "192.168.1.64/26", "0.0.0.0/0"]
_IPV6 = ["2001:db8::1", "2001:db8::ff", "::1", "fe80::1"]
_IPV6_CIDRS = ["2001:db8::/32", "2001:db8::/64", "::/0", "fe80::/10"]
_DOMAINS = ["example.com", "evil.example.com", "a.b.c.test", "xn--bcher-kva.example", "co.uk"]
_URLS = [
    "http://evil.example.com/",
    "https://evil.example.com/path?q=1",
    "http://10.0.0.1/x",
    "ftp://files.example.org/a/b",
]
_HASHES = {
    "md5": "d41d8cd98f00b204e9800998ecf8427e",
    "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
}
_EMAILS = ["bad@example.com", "x.y@evil.example.com"]
_FILENAMES = ["evil.exe", "Invoice.PDF.exe"]

HELD = (
    [("ipv4", value) for value in _IPV4]
    + [("cidr", value) for value in _IPV4_CIDRS + _IPV6_CIDRS]
    + [("ipv6", value) for value in _IPV6]
    + [("domain", value) for value in _DOMAINS]
    + [("url", value) for value in _URLS]
    + list(_HASHES.items())
    + [("email", value) for value in _EMAILS]
    + [("filename", value) for value in _FILENAMES]
)

_SEEDS = (
    _IPV4
    + _IPV4_CIDRS
    + _IPV6
    + _IPV6_CIDRS
    + _DOMAINS
    + _URLS
    + list(_HASHES.values())
    + _EMAILS
    + _FILENAMES
    + [
        "Evil.Example.COM.",
        "b\u00fccher.example",
        "sub.EXAMPLE.com",
        "HTTP://Evil.Example.com",
        "http://evil.example.com?",
        "http://evil.example.com/#frag",
        "http://user@evil.example.com/",
        "http://[2001:db8::1]/",
        "http://evil.example.com/a b",
        "http://evil.example.com/\u00e9",
        "http://evil.example.com/" + "a" * 2100,
        "://nohost",
        "http:///path",
        "D41D8CD98F00B204E9800998ECF8427E",
        "d41d 8cd98f00b204e9800998ecf8427e",
        "d41d8cd98f00b204e9800998ecf8427",
        "zz1d8cd98f00b204e9800998ecf8427e",
        "BAD@Example.com",
        "2001:DB8::1",
        "::ffff:10.0.0.1",
        "010.0.0.1",
        "10.0.0.1/32",
        "10.0.0.0/24",
        "1.2.3.4\x00",
        "",
        ".",
        "...",
        "a..b.example.com",
    ]
)

_EDGES = st.sampled_from(["", " ", "\t", "\n", "\x1c", "\u00a0", ".", "..", "/", "\x00", "#", "?"])

values = st.one_of(
    st.sampled_from(_SEEDS),
    st.builds(
        lambda before, seed, after: before + seed + after, _EDGES, st.sampled_from(_SEEDS), _EDGES
    ),
    st.builds(lambda seed: seed.upper(), st.sampled_from(_SEEDS)),
    st.builds(
        lambda label, seed: f"{label}.{seed}",
        st.from_regex(r"[A-Za-z0-9-]{1,8}", fullmatch=True),
        st.sampled_from(_DOMAINS),
    ),
    st.text(max_size=24),
)

KINDS = (
    "ipv4",
    "ipv6",
    "cidr",
    "domain",
    "url",
    "email",
    "filename",
    "md5",
    "sha1",
    "sha256",
    "sha512",
)


def _indexes() -> tuple[MatchIndex, MatchIndex]:
    compiled, python = MatchIndex(), MatchIndex(compiled=False)
    for pk, found in enumerate(HELD, start=1):
        for index in (compiled, python):
            index.add(pk, MARKINGS[pk % len(MARKINGS)], [found])
    return compiled, python


COMPILED_INDEX, PYTHON_INDEX = _indexes()


def test_ci_builds_the_compiled_look_ups() -> None:
    # The package builds `_lookup` optionally; CI must not lose it silently.
    assert COMPILED, "shieldwall.match._lookup did not build"
    assert index_module._compiled is not None


@settings(max_examples=400, deadline=None)
@given(st.lists(values, max_size=12), st.sampled_from(KINDS), st.booleans())
def test_compiled_and_python_look_ups_agree(raws: list[str], kind: str, normalised: bool) -> None:
    expected = PYTHON_INDEX.lookup_many(kind, raws, normalised=normalised)
    assert COMPILED_INDEX.lookup_many(kind, raws, normalised=normalised) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_every_seed_agrees_in_one_batch(kind: str) -> None:
    raws = [*_SEEDS, *(seed.upper() for seed in _SEEDS), *(f" {seed} " for seed in _SEEDS)]
    for normalised in (False, True):
        expected = PYTHON_INDEX.lookup_many(kind, raws, normalised=normalised)
        assert COMPILED_INDEX.lookup_many(kind, raws, normalised=normalised) == expected


def test_the_compiled_path_finds_what_it_should() -> None:
    # Not only agreement: the fast paths hit (a broken C loop handing every value
    # to Python would agree too, so the hits are counted here).
    found = COMPILED_INDEX.lookup_many("ipv4", ["10.0.0.1", "192.168.1.70", "8.8.8.8"])
    assert [(at, kind, value) for at, kind, value, _ in found] == [
        (0, "ipv4", "10.0.0.1"),
        (0, "cidr", "10.0.0.0/24"),
        (0, "cidr", "10.0.0.0/8"),
        (0, "cidr", "0.0.0.0/0"),
        (1, "cidr", "192.168.1.64/26"),
        (1, "cidr", "192.168.0.0/16"),
        (1, "cidr", "0.0.0.0/0"),
        (2, "cidr", "0.0.0.0/0"),
    ]
    domains = COMPILED_INDEX.lookup_many("domain", ["WWW.Evil.Example.com."])
    assert [value for _, _, value, _ in domains] == ["evil.example.com", "example.com"]
    urls = COMPILED_INDEX.lookup_many("url", ["HTTPS://EVIL.example.com/path?q=1#top"])
    assert [value for _, _, value, _ in urls] == ["https://evil.example.com/path?q=1"]
    hashes = COMPILED_INDEX.lookup_many("md5", [_HASHES["md5"].upper()])
    assert [value for _, _, value, _ in hashes] == [_HASHES["md5"]]


def test_the_compiled_loops_handle_common_values_without_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Plain values never reach the Python route: it is replaced by one that fails.
    index = MatchIndex()
    for pk, found in enumerate(HELD, start=1):
        index.add(pk, MARKINGS[0], [found])

    def refuse(*_: object) -> None:
        raise AssertionError("a plain value went to the Python route")

    monkeypatch.setattr(index_module, "_one_value", lambda _batch: refuse)
    index._use_compiled()
    plain = {
        "ipv4": ["10.0.0.1", "8.8.8.8"],
        "ipv6": ["2001:db8::1", "2001:db8:1::5"],
        "domain": ["Evil.Example.com", "nothing.test"],
        "url": ["http://evil.example.com/", "https://other.example/x?y"],
        "email": ["BAD@example.com"],
        "md5": [_HASHES["md5"], "0" * 32],
    }
    for kind, raws in plain.items():
        assert index.lookup_many(kind, raws), kind


def _views(removed: list[int], org: int) -> tuple[View, View]:
    compiled, python = _indexes()
    for pk in removed:
        assert compiled.remove(pk) == python.remove(pk)
    principal = Principal(org, f"Org {org}", Tier.SPONSORING, Role.ANALYST, frozenset())
    return (
        View(compiled, principal, anonymous_public=False),
        View(python, principal, anonymous_public=False),
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(1, len(HELD)), max_size=8),
    st.integers(1, 4),
    st.lists(st.sampled_from(_SEEDS), max_size=12),
    st.sampled_from(KINDS),
)
def test_compiled_and_python_views_filter_alike(
    removed: list[int], org: int, raws: list[str], kind: str
) -> None:
    compiled, python = _views(removed, org)
    assert compiled.lookup_many(kind, raws) == python.lookup_many(kind, raws)


def test_a_view_sees_its_own_live_slots_only() -> None:
    # Indicator pk is owned by org pk % 3 + 1 (ORG distribution): org 2 holds
    # 10.0.0.1 (pk 1), 203.0.113.9 (pk 4), 10.0.0.0/8 (pk 7) and 192.168.1.64/26 (pk 10).
    asked = ["10.0.0.1", "10.0.0.2", "192.168.1.77", "203.0.113.9"]
    live, _ = _views([], org=2)
    assert [(at, kind, value) for at, kind, value, _ in live.lookup_many("ipv4", asked)] == [
        (0, "ipv4", "10.0.0.1"),
        (0, "cidr", "10.0.0.0/8"),
        (1, "cidr", "10.0.0.0/8"),
        (2, "cidr", "192.168.1.64/26"),
        (3, "ipv4", "203.0.113.9"),
    ]
    retired, _ = _views([1, 10], org=2)
    assert [(at, kind, value) for at, kind, value, _ in retired.lookup_many("ipv4", asked)] == [
        (0, "cidr", "10.0.0.0/8"),
        (1, "cidr", "10.0.0.0/8"),
        (3, "ipv4", "203.0.113.9"),
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**32 - 1) | st.integers(0, 40), st.integers(0, 2**31 - 1)))
)
def test_the_ipv4_table_holds_what_a_dict_would(puts: list[tuple[int, int]]) -> None:
    table, reference = index_module._compiled.U32Table(), {}
    for key, slot in puts:
        table.put(key, slot)
        index_module._put(reference, key, slot)
    assert len(table) == len(reference)
    for key in {key for key, _ in puts} | {0, 2**32 - 1, 12345}:
        assert table.get(key) == reference.get(key)


def test_the_ipv4_table_answers_none_for_keys_it_cannot_hold() -> None:
    table = index_module._compiled.U32Table()
    table.put(7, 1)
    assert table.get(7) == 1
    assert table.get(2**32 + 7) is None
    assert table.get(-7) is None
    with pytest.raises(OverflowError):
        table.put(2**32, 1)
    with pytest.raises(OverflowError):
        table.put(1, -1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["", "a", "evil.example.com", "x" * 9, "x" * 16, "\u00e9t\u00e9", "\U0001f600"]
            )
            | st.text(max_size=20),
            st.integers(0, 2**31 - 1),
        )
    )
)
def test_the_text_table_holds_what_a_dict_would(puts: list[tuple[str, int]]) -> None:
    table, reference = index_module._compiled.StrTable(), {}
    for key, slot in puts:
        table.put(key, slot)
        index_module._put(reference, key, slot)
    assert len(table) == len(reference)
    for key in {key for key, _ in puts} | {"", "absent", "x" * 8}:
        assert table.get(key) == reference.get(key)


def test_text_of_another_width_is_another_key() -> None:
    # "AABB" and "\u4141\u4242" hold the same bytes in CPython's storage (1-byte
    # and 2-byte kinds): only equal text may match.
    for compiled in (True, False):
        index = MatchIndex(compiled=compiled)
        index.add(1, MARKINGS[0], [("filename", "\u4141\u4242")])
        assert index.lookup_many("filename", ["AABB"]) == []
        assert index.lookup_many("filename", ["\u4141\u4242"]) == [
            (0, "filename", "\u4141\u4242", 0)
        ]


class _Finalizer:
    """Cyclic garbage whose finalizer runs `action` when a collection finds it."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.me = self

    def __del__(self) -> None:
        self.action()


def _collect_after(allocations: int, action: Callable[[], None]) -> None:
    """Arranges for `action` to run in a collection `allocations` allocations from now."""
    gc.disable()
    _Finalizer(action)
    gc.enable()
    gc.set_threshold(gc.get_count()[0] + allocations)


@pytest.mark.parametrize("allocations", range(8))
def test_the_view_filter_survives_the_index_growing_during_a_collection(
    allocations: int,
) -> None:
    # In a server another thread indexes new indicators while a view filters;
    # a collection during the filter's allocations may hand it the GIL. Batches
    # now pause the collector while they run (so the collection arranged here
    # runs just after): this checks the answer and the index stay whole either
    # way; test_compiled_lookup_review.py reaches collections inside a batch.
    index = MatchIndex()
    for pk in (1, 2):
        index.add(pk, MARKINGS[0], [("domain", "example.com")])
    view = View(
        index,
        Principal(1, "Org 1", Tier.SPONSORING, Role.ANALYST, frozenset()),
        anonymous_public=False,
    )
    found = index.lookup_many("domain", ["example.com"] * 4)

    def index_more() -> None:
        index.add(3 + len(index.pks), MARKINGS[1], [("domain", "example.com")])
        view._readable.extend(b"\x00" * 4096)

    try:
        _collect_after(allocations, index_more)
        seen = view._filter(found)
    finally:
        gc.set_threshold(700)
        gc.collect()
    assert len(index.pks) == len(index.marking_of)
    assert seen == [(at, "domain", "example.com", [0, 1]) for at in range(4)]


@pytest.mark.parametrize("allocations", range(6))
def test_ipv6_hits_survive_their_table_changing_during_a_collection(allocations: int) -> None:
    index = MatchIndex()
    for pk in range(1, 301):  # slot 300 is an int object of its own, freed when replaced
        index.add(pk, MARKINGS[0], [("ipv4", f"10.1.{pk // 256}.{pk % 256}")])
    index.add(301, MARKINGS[0], [("ipv6", "2001:db8::1")])

    def share() -> None:  # a second indicator on the value turns its slot into a list
        index.add(2 + len(index.pks), MARKINGS[0], [("ipv6", "2001:db8::1")])

    try:
        _collect_after(allocations, share)
        found = index.lookup_many("ipv6", ["2001:db8::1", "2001:db8::1"])
    finally:
        gc.set_threshold(700)
        gc.collect()
    assert [hit[:3] for hit in found] == [(0, "ipv6", "2001:db8::1"), (1, "ipv6", "2001:db8::1")]
    for hit in found:
        assert hit[3] in (300, [300, 301])


def _long_batch(kind: str) -> list[str]:
    """More values than the C probe queue holds, with deep names and long URLs to fill its arena."""
    deep = ".".join(f"l{level}" for level in range(40)) + ".evil.example.com"
    long_url = "http://evil.example.com/" + "p" * 4000
    raws = []
    for round_ in range(60):
        raws += [
            _SEEDS[round_ % len(_SEEDS)],
            deep if round_ % 3 else deep.upper(),
            long_url + str(round_ % 2),
            "b\u00fccher.example" if round_ % 2 else "http://evil.example.com/\u00e9",
            _HASHES["md5"],
            _HASHES["sha1"].upper(),
            "https://evil.example.com/path?q=1",
        ]
    return raws


@pytest.mark.parametrize("kind", ["domain", "url", "md5", "sha1"])
def test_batches_longer_than_the_probe_queue_agree(kind: str) -> None:
    raws = _long_batch(kind)
    expected = PYTHON_INDEX.lookup_many(kind, raws)
    assert expected, "the batch must hold hits for the comparison to mean something"
    assert COMPILED_INDEX.lookup_many(kind, raws) == expected


def test_collections_run_during_python_code_and_after_a_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A batch pauses the collector while it runs C code only: the Python route
    # it calls for odd values, and everything after it, run with collections on.
    index = MatchIndex()
    index.add(1, MARKINGS[0], [("domain", "example.com")])
    states: list[bool] = []

    def record(position: int, raw: str, out: list[object]) -> None:
        states.append(gc.isenabled())

    monkeypatch.setattr(index_module, "_one_value", lambda _batch: record)
    index._use_compiled()
    found = index.lookup_many("domain", ["example.com", "b\u00fccher.example", "example.com"])
    assert [hit[0] for hit in found] == [0, 2]
    assert states == [True]
    assert gc.isenabled()
    gc.disable()
    try:
        index.lookup_many("domain", ["b\u00fccher.example"])
        assert states == [True, False]  # a caller's own gc.disable() is left alone
        assert not gc.isenabled()
    finally:
        gc.enable()
