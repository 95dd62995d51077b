"""Match semantics of the index, table-driven: CIDR edges, IPv6, parent domains, IDNs, URLs."""

from __future__ import annotations

import random

import pytest

from shieldwall.intel.observables import normalise
from shieldwall.match.index import MatchIndex, View, canonical_url
from shieldwall.members.model import Role, Tier
from shieldwall.sharing.policy import Marking, Principal
from shieldwall.sharing.tlp import TLP, DistKind

SHA256 = "a" * 63 + "b"
INDICATORS = [
    ("ipv4", "198.51.100.7"),
    ("ipv4", "10.1.2.3"),
    ("cidr", "203.0.113.0/24"),
    ("cidr", "10.0.0.0/8"),
    ("ipv6", "2001:db8::1"),
    ("cidr", "2001:db8:abcd::/48"),
    ("domain", "example.com"),
    ("domain", "bücher.example"),
    ("url", "http://evil.example.net/path?q=1"),
    ("email", "bad@evil.example"),
    ("sha256", SHA256),
    ("filename", "Invoice.PDF.exe"),
]

CASES = [
    # (type or None for untyped, value, matched indicator values)
    ("ipv4", "198.51.100.7", {"198.51.100.7"}),
    ("ipv4", " 198.51.100.7 ", {"198.51.100.7"}),
    ("ipv4", "198.51.100.8", set()),
    ("ipv4", "203.0.113.0", {"203.0.113.0/24"}),
    ("ipv4", "203.0.113.255", {"203.0.113.0/24"}),
    ("ipv4", "203.0.112.255", set()),
    ("ipv4", "203.0.114.0", set()),
    ("ipv4", "10.255.255.255", {"10.0.0.0/8"}),
    ("ipv4", "10.1.2.3", {"10.1.2.3", "10.0.0.0/8"}),
    ("ipv4", "11.0.0.0", set()),
    ("ipv4", "not an address", set()),
    ("cidr", "203.0.113.128/25", {"203.0.113.0/24"}),
    ("cidr", "203.0.0.0/16", set()),  # wider than the indicator: not contained
    ("ipv6", "2001:DB8:0:0:0:0:0:1", {"2001:db8::1"}),
    ("ipv6", "2001:db8::2", set()),
    ("ipv6", "2001:db8:abcd:ffff::1", {"2001:db8:abcd::/48"}),
    ("ipv6", "2001:db8:abce::1", set()),
    (None, "2001:db8:abcd::99", {"2001:db8:abcd::/48"}),
    ("domain", "example.com", {"example.com"}),
    ("domain", "Sub.EXAMPLE.com.", {"example.com"}),
    ("domain", "a.b.c.example.com", {"example.com"}),
    ("domain", "notexample.com", set()),
    ("domain", "example.com.evil", set()),
    ("domain", "com", set()),
    ("domain", "BÜCHER.example", {"xn--bcher-kva.example"}),
    (None, "www.bücher.example", {"xn--bcher-kva.example"}),
    ("domain", "www.xn--bcher-kva.example", {"xn--bcher-kva.example"}),
    ("url", "HTTP://Evil.Example.NET/path?q=1", {"http://evil.example.net/path?q=1"}),
    ("url", "http://evil.example.net/path?q=1#fragment", {"http://evil.example.net/path?q=1"}),
    ("url", "http://evil.example.net/Path?q=1", set()),  # paths are case-sensitive
    ("url", "http://evil.example.net/path?q=2", set()),
    (None, "http://evil.example.net/path?q=1", {"http://evil.example.net/path?q=1"}),
    ("email", "BAD@Evil.Example", {"bad@evil.example"}),
    ("email", "good@evil.example", set()),
    ("sha256", SHA256.upper(), {SHA256}),
    (None, SHA256, {SHA256}),
    ("md5", SHA256[:32], set()),
    ("sha256", "z" * 64, set()),
    ("filename", "Invoice.PDF.exe", {"Invoice.PDF.exe"}),
    ("filename", "invoice.pdf.exe", set()),
]

OWNER = Marking(1, TLP.AMBER, DistKind.ORG)


@pytest.fixture(scope="module")
def index() -> MatchIndex:
    built = MatchIndex()
    for pk, (kind, raw) in enumerate(INDICATORS, start=1):
        found = normalise(kind, raw)
        assert found is not None, raw
        built.add(pk, OWNER, [found])
    return built


@pytest.mark.parametrize(("kind", "value", "expected"), CASES)
def test_match_semantics(
    index: MatchIndex, kind: str | None, value: str, expected: set[str]
) -> None:
    hits = index.lookup(kind, value) if kind else index.lookup_untyped(value)[1]
    assert {hit.value for hit in hits} == expected


def test_a_removed_indicator_no_longer_matches() -> None:
    built = MatchIndex()
    built.add(5, OWNER, [("ipv4", "192.0.2.1")])
    built.add(9, OWNER, [("ipv4", "192.0.2.1")])
    view = View(built, Principal(1, "A", Tier.SPONSORING, Role.READER), anonymous_public=False)
    assert [view.visible(hit.slots) for hit in built.lookup("ipv4", "192.0.2.1")] == [[0, 1]]
    assert built.remove(5)
    assert not built.remove(5)
    assert not built.remove(6)
    assert [view.visible(hit.slots) for hit in built.lookup("ipv4", "192.0.2.1")] == [[1]]
    assert built.live == 1


def test_the_view_applies_the_policy_per_marking() -> None:
    built = MatchIndex()
    built.add(1, Marking(1, TLP.AMBER, DistKind.ORG), [("domain", "a.example")])
    built.add(2, Marking(2, TLP.GREEN, DistKind.MEMBERS), [("domain", "a.example")])
    built.add(3, Marking(2, TLP.RED, DistKind.PUBLIC), [("domain", "a.example")])
    contributor = Principal(3, "C", Tier.CONTRIBUTING, Role.READER)
    sponsor = Principal(4, "S", Tier.SPONSORING, Role.READER)
    owner = Principal(1, "O", Tier.SPONSORING, Role.READER)
    (hit,) = built.lookup("domain", "x.a.example")
    assert View(built, contributor, anonymous_public=False).visible(hit.slots) == []
    assert View(built, sponsor, anonymous_public=False).visible(hit.slots) == [1]
    assert View(built, owner, anonymous_public=False).visible(hit.slots) == [0, 1]
    # A marking first seen after the view was made is judged when first met.
    built.add(4, Marking(5, TLP.GREEN, DistKind.PUBLIC), [("domain", "a.example")])
    view = View(built, contributor, anonymous_public=False)
    (hit,) = built.lookup("domain", "a.example")
    assert view.visible(hit.slots) == [3]


def test_keys_must_arrive_in_order() -> None:
    built = MatchIndex()
    built.add(7, OWNER, [])
    with pytest.raises(ValueError, match="not above"):
        built.add(7, OWNER, [])


def test_a_batch_finds_what_single_look_ups_find(index: MatchIndex) -> None:
    """`lookup_many` is the batch form of `lookup`: same hits, with their positions."""
    by_kind: dict[str, list[tuple[str, set[str]]]] = {}
    for kind, value, expected in CASES:
        if kind is not None:
            by_kind.setdefault(kind, []).append((value, expected))
    for kind, cases in by_kind.items():
        values = [value for value, _ in cases]
        found: dict[int, set[str]] = {}
        for position, _, value, _ in index.lookup_many(kind, values):
            found.setdefault(position, set()).add(value)
        assert found == {n: expected for n, (_, expected) in enumerate(cases) if expected}, kind


def test_a_view_batch_shows_only_visible_slots() -> None:
    built = MatchIndex()
    built.add(1, Marking(1, TLP.AMBER, DistKind.ORG), [("ipv4", "192.0.2.1")])
    built.add(2, Marking(2, TLP.GREEN, DistKind.MEMBERS), [("cidr", "192.0.2.0/24")])
    built.add(3, Marking(1, TLP.AMBER, DistKind.ORG), [("ipv4", "192.0.2.9")])
    outsider = View(built, Principal(3, "C", Tier.SPONSORING, Role.READER), anonymous_public=False)
    found = outsider.lookup_many("ipv4", ["198.51.100.1", "192.0.2.1", "192.0.2.9"])
    assert found == [(1, "cidr", "192.0.2.0/24", 1), (2, "cidr", "192.0.2.0/24", 1)]
    built.add(4, Marking(2, TLP.GREEN, DistKind.MEMBERS), [("ipv4", "192.0.2.9")])
    found = outsider.lookup_many("ipv4", ["192.0.2.9"])
    assert found == [(0, "ipv4", "192.0.2.9", [3]), (0, "cidr", "192.0.2.0/24", 1)]


def test_parents_are_walked_down_to_the_shortest_indexed_name() -> None:
    """Single-label names are not normal domains, but one indexed as such still matches."""
    built = MatchIndex()
    built.add(1, OWNER, [("domain", "a.b.example.com")])
    assert [hit.value for hit in built.lookup("domain", "x.a.b.example.com")] == ["a.b.example.com"]
    assert built.lookup("domain", "b.example.com") == ()
    built.add(2, OWNER, [("domain", "example.com"), ("domain", "localhost")])
    assert [hit.value for hit in built.lookup("domain", "x.a.b.example.com")] == [
        "a.b.example.com",
        "example.com",
    ]
    assert [hit.value for hit in built.lookup("domain", "db.localhost")] == ["localhost"]


URLS = [
    "HTTP://Evil.Example.NET/path?q=1",
    "http://evil.example.net",
    "http://evil.example.net?q",
    "http://evil.example.net/p?",
    "http://evil.example.net/p?a=1#frag?x",
    "http://evil.example.net/p#",
    "https://Evil.example.net:8443/A/B;c=d?E=F&g",
    "hxxp://evil.example.net/x",
    "ftp://user:pass@Example.NET/Pub",
    "http://[2001:DB8::1]:80/x",
    "  http://evil.example.net/padded  ",
    "http://evil.example.net/tab\there",
    "http://evil.example.net/%41%2f",
    "1http://digit.first/scheme",
    "http:/one.slash/",
    "http://",
    "no scheme at all",
    "mailto:someone@example.net",
    "http://bücher.example/ä",
    "a+b.c-d://odd.scheme/x",
    "http://evil.example.net/" + "x" * 2100,
]


@pytest.mark.parametrize("raw", URLS)
def test_canonical_url_is_the_normaliser(raw: str) -> None:
    found = normalise("url", raw)
    assert canonical_url(raw) == (found[1] if found else None)


def test_canonical_url_is_the_normaliser_on_random_urls() -> None:
    rng = random.Random(6)
    alphabet = "aZ09.-_~:/?#@[]%=&;+! \t"
    for _ in range(3000):
        scheme = rng.choice(["http", "HTTPS", "hxxp", "ftp", "x1", "1x", ""])
        rest = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        raw = f"{scheme}://{rest}" if rng.random() < 0.9 else rest
        found = normalise("url", raw)
        assert canonical_url(raw) == (found[1] if found else None), raw
