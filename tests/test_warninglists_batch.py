"""The batch look-ups (`listed_many`, `unlisted`) answer as `is_listed` does, value by value.

`is_listed` is the reference (tests/test_warninglists_index.py checks it
against a plain scan of every list); here random batches of every kind are
put to both, on a small index whose lists exercise every rule and on the real
default index, with values drawn from its own entries (listed) and mutated
ones (mostly not).
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shieldwall.warninglists import MISP_TYPES, WarninglistIndex, default_index

KINDS = sorted(MISP_TYPES)

LISTS: list[dict[str, Any]] = [
    {"name": "resolvers", "type": "cidr", "list": ["8.8.8.0/24", "9.9.9.9/32", "2001:4860::/32"]},
    {"name": "edge", "type": "cidr", "list": ["0.0.0.0/8", "255.255.255.255/32", "ffff::/16"]},
    {
        "name": "top",
        "type": "hostname",
        "list": ["example.com", ".co.uk.", "a.b.c"],
        "matching_attributes": ["domain", "hostname", "url"],
    },
    # An IPv6 literal as a host: only urlsplit reads one out of a URL.
    {"name": "everything", "type": "hostname", "list": ["anywhere.test", "fe80::1"]},
    {
        "name": "exact",
        "type": "string",
        "list": ["Evil.example", "1.2.3.4", "d41d8cd98f00b204e9800998ecf8427e", "::1"],
    },
    {
        "name": "mail",
        "type": "hostname",
        "list": ["mail.test"],
        "matching_attributes": ["email-src"],
    },
    {
        "name": "disposable",
        "type": "substring",
        "list": ["0815.ru", "trash", "10.20", "ab:cd", "é.fr"],
        "matching_attributes": ["domain|ip", "email-src"],
    },
    {
        "name": "analysis",
        "type": "substring",
        "list": ["any.run", "7.7"],
        "matching_attributes": ["url", "domain"],
    },
    {
        "name": "contacts",
        "type": "regex",
        "list": ["/^(abuse|noc)@/i"],
        "matching_attributes": ["email-src"],
    },
    {
        "name": "hashes",
        "type": "string",
        "list": ["DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"],
        "matching_attributes": ["sha1"],
    },
]

SMALL = WarninglistIndex(LISTS)
#: With many domains, every other kind's exact entries get a set of their own
#: (in SMALL, few kinds do): both ways of finding them are tested.
_FILLER = [f"filler{number}.test" for number in range(200)]
PADDED = WarninglistIndex(
    [
        *LISTS,
        {"name": "filler", "type": "string", "list": _FILLER, "matching_attributes": ["domain"]},
    ]
)
INDEXES = (SMALL, PADDED)

# Pieces that the small index's entries are made of, so that random values
# hit every rule (and its edges: parents, ports, users, prefixes, case).
_PIECES = [
    "example", "com", "co", "uk", "a", "b", "c", "any", "run", "evil", "trash", "0815", "ru",
    "mail", "test", "anywhere", "x", "1", "2", "3", "4", "7", "8", "9", "10", "20", "255",
    "0", "ab", "cd", "é", "fr", "EXAMPLE", "Evil", "abuse", "noc",
    "d41d8cd98f00b204e9800998ecf8427e",
]  # fmt: skip
_GLUE = [".", ".", ".", "", ":", "::", "/", "@", "-", "//", "?", "#", "[", "]", "\n", "\t", "İ"]


@st.composite
def _value(draw: st.DrawFn) -> str:
    """A value of pieces and glue (addresses, hosts, URLs, e-mails) or of any text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=12))
    pieces = draw(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=5))
    glue = draw(st.lists(st.sampled_from(_GLUE), min_size=len(pieces), max_size=len(pieces)))
    body = "".join(piece + sep for piece, sep in zip(pieces, glue, strict=True))[:-1]
    prefix = draw(st.sampled_from(["", "", "http://", "https://u:p@", "ftp://", "HTTP://"]))
    return prefix + body


_ADDRESS = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.builds(lambda a, n: f"{a}/{n}", st.ip_addresses(v=4), st.integers(0, 33)),
    st.builds(lambda a, n: f"{a}/{n}", st.ip_addresses(v=6), st.integers(0, 129)),
    st.sampled_from(["8.8.8.8", "8.8.8.255", "8.8.9.0", "9.9.9.9", "0.0.0.0", "255.255.255.255"]),
    st.sampled_from(["2001:4860::1", "::1", "ffff::", "1.2.3.4", "01.2.3.4", "8.8.8.8/x"]),
)


def _agrees(index: WarninglistIndex, kind: str, values: list[str]) -> None:
    try:
        expected = {value for value in values if index.is_listed(kind, value)}
    except ValueError:
        # urlsplit's refusal (an unbalanced bracket): the batch fails alike.
        with pytest.raises(ValueError, match="IPv6"):
            index.listed_many(kind, values)
        return
    assert index.listed_many(kind, values) == expected, kind


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(INDEXES),
    st.sampled_from([*KINDS, "unknown-kind"]),
    st.lists(st.one_of(_value(), _ADDRESS), max_size=40),
)
def test_listed_many_is_is_listed_on_every_rule(
    index: WarninglistIndex, kind: str, values: list[str]
) -> None:
    _agrees(index, kind, values)


def test_both_ways_of_finding_exact_entries_are_used() -> None:
    """Without this, a change of `_small_exact_sets` could leave a way untested."""
    assert SMALL._exact_sets["sha1"] is None
    assert PADDED._exact_sets["sha1"] is not None
    assert PADDED._exact_sets["domain"] is None


@settings(max_examples=150)
@given(
    st.lists(
        st.tuples(st.sampled_from(KINDS), st.one_of(_value(), _ADDRESS), st.integers()),
        max_size=40,
    )
)
def test_unlisted_keeps_the_rows_is_listed_keeps_in_order(rows: list[tuple[str, str, int]]) -> None:
    # The same value under two kinds is the case where the kind must be read.
    rows = rows + [(kind, value, 0) for kind in ("domain", "ipv4") for _, value, _ in rows[:3]]
    try:
        expected = [row for row in rows if not SMALL.is_listed(row[0], row[1])]
    except ValueError:
        with pytest.raises(ValueError, match="IPv6"):
            SMALL.unlisted(rows, 0, 1)
        return
    assert SMALL.unlisted(rows, 0, 1) == expected


def test_table_of_edges() -> None:
    cases = {
        "ipv4": ["8.8.8.8", "8.8.8.0", "8.8.7.255", "8.8.9.0", "9.9.9.9", "9.9.9.10", "0.0.0.0",
                 "255.255.255.255", "1.2.3.4", "110.20.3.4", "77.1.1.1", "8.8.8.8/16", "::1"],
        "ipv6": ["2001:4860::1", "2001:4861::", "::1", "ffff:1::", "1.2.3.4", "ab:cd::1"],
        "cidr": ["8.8.0.0/16", "8.8.8.128/25", "9.9.9.8/31", "2001::/8", "x/8"],
        "domain": ["www.example.com", "example.com.", "bbc.co.uk", "a.b.c", "x.a.b.c", "b.c",
                   "evil.example", "EVIL.EXAMPLE", "app.any.run", "trash-mail.net",
                   "sub.anywhere.test", "", "..", "é.fr", "İ.com"],
        "url": ["https://user@www.EXAMPLE.com:8443/path?q=1", "http://example.org/example.com",
                "http://[2001:db8::1]/example.com", "http://x/any.run", "ftp://a.b.c/",
                "http://a@b@example.com", "http://host\n.example.com/", "http://anywhere.test",
                "http://[::1]:80/any.run", "http://[fe80::1]:8080/"],
        "email": ["Abuse@corp.test", "someone@sub.mail.test", "someone@corp.test", "a@0815.ru",
                  "x@anywhere.test"],
        "sha1": ["da39a3ee5e6b4b0d3255bfef95601890afd80709",
                 "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"],
        "md5": ["d41d8cd98f00b204e9800998ecf8427e", "anywhere.test"],
    }  # fmt: skip
    for kind, values in cases.items():
        for index in INDEXES:
            _agrees(index, kind, values)
            # Alone too: one odd value sends a whole batch down a slower path.
            for value in values:
                _agrees(index, kind, [value])
    assert SMALL.listed_many("unknown-kind", ["example.com"]) == set()
    assert SMALL.listed_many("domain", []) == set()


def test_a_separator_character_in_an_entry_is_never_the_separator() -> None:
    index = WarninglistIndex(
        [{"name": "odd", "type": "substring", "list": ["a\nb", "c\x00d", "zz"]}]
    )
    for kind in ("domain", "url", "md5"):
        _agrees(index, kind, ["a", "b", "xa\nbx", "c\x00d", "z", "z\nz", "a\nb\nzz", "ca"])


# ---------------------------------------------------------------- the real lists


@cache
def _real_sample() -> dict[str, list[str]]:
    """Values from the default index's own entries and ranges, and mutations of them."""
    index = default_index()
    rng = random.Random(7)
    entries = rng.sample(sorted(index._entries), 3000)
    mutated = [_mutate(rng, entry) for entry in entries]
    addresses = [_address_near(rng, start) for start in rng.sample(index._ranges[4].starts, 1500)]
    addresses += [_address_near(rng, end) for end in rng.sample(index._ranges[4].ends, 1500)]
    addresses += [f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.0.{rng.randint(0, 255)}"]
    six = [_address6_near(rng, start) for start in rng.sample(index._ranges[6].starts, 500)]
    hosts = entries + mutated
    return {
        "domain": hosts,
        "url": [f"http{rng.choice(['', 's'])}://{host}/p?{host}" for host in hosts[::2]],
        "email": [f"{rng.choice(['me', 'abuse', 'x'])}@{host}" for host in hosts[::2]],
        "ipv4": addresses + entries[:500],
        "ipv6": six + entries[:500],
        "cidr": [f"{a}/{rng.randint(8, 32)}" for a in addresses[:1500]],
        "md5": entries[:1000]
        + [e.upper() for e in entries[:200]]
        + [f"{rng.getrandbits(128):032x}" for _ in range(500)],
        "sha1": entries[:1000] + [f"{rng.getrandbits(160):040x}" for _ in range(500)],
        "sha256": entries[:1000] + [f"{rng.getrandbits(256):064x}" for _ in range(500)],
        "sha512": entries[:500],
        "filename": entries[:500],
    }


def _mutate(rng: random.Random, entry: str) -> str:
    return rng.choice(
        [
            lambda: "x." + entry,
            lambda: entry + "x",
            lambda: entry.upper(),
            lambda: entry[1:],
            lambda: "mail-" + entry.replace(".", "-", 1),
        ]
    )()


def _address_near(rng: random.Random, number: int) -> str:
    number = min(max(number + rng.choice([-1, 0, 0, 1]), 0), 2**32 - 1)
    return ".".join(str(number >> shift & 255) for shift in (24, 16, 8, 0))


def _address6_near(rng: random.Random, number: int) -> str:
    import ipaddress

    number = min(max(number + rng.choice([-1, 0, 1]), 0), 2**128 - 1)
    return str(ipaddress.IPv6Address(number))


@pytest.mark.parametrize("kind", KINDS)
def test_listed_many_is_is_listed_on_the_real_lists(kind: str) -> None:
    values = _real_sample()[kind]
    index = default_index()
    expected = {value for value in values if index.is_listed(kind, value)}
    found = index.listed_many(kind, values)
    assert found == expected
    if kind in ("domain", "ipv4", "md5"):
        # The sample holds both answers, or it would prove little.
        assert 0 < len(found) < len(set(values))
