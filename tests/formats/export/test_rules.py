"""The shortcuts of the rule writers give what their reference definitions give.

Rules exports must stay byte for byte what they were: each fast path in
`rules` (plain-text checks, the URL regex, revisions by hour, the sid bitmap)
is checked here against the slow, obvious definition it replaces.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

import pytest

from shieldwall.formats.export import rules, snort
from shieldwall.formats.export.common import epoch_seconds

_UNSAFE = re.compile(r'[^ -~]|["\x3b\\|:]')
_MSG_SPECIAL = re.compile(r'[^ -~]|["\x3b\\]')


def _reference_url_parts(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    return parts.hostname, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


#: URLs at the edges of what a rule writer must handle: odd schemes, hosts,
#: spaces, non-ASCII, quotes, empty parts.
AWKWARD_URLS = [
    "http://example.org",
    "http://example.org/",
    "https://a-b_c.example.org/x/y.php?id=1",
    "http://example.org?q",
    "http://example.org/?",
    "http://example.org/p?",
    "http://example.org/p?a?b=c",
    "http://example.org/p#frag",
    "http://example.org/p?q#frag",
    "http://Example.ORG/p",
    "http://example.org:8080/p",
    "http://user:pw@example.org/p",
    "http://[2001:db8::1]/p",
    "http://[2001:db8::1]:80/p",
    "HTTP://example.org/p",
    "hxxp+s.x://example.org/p",
    "http://exa mple.org/p",
    "http://example.org/a b",
    "http://example.org/a\tb",
    " http://example.org/p",
    "http://example.org/p\n",
    "http://bücher.example/p",
    "http://example.org/ü",
    "http:///p",
    "http://",
    "example.org/p",
    "//example.org/p",
    "1http://example.org/p",
    'http://example.org/"quoted";x|y:z\\',
    "http://.../p",
    "http://example.org/p%20q",
]


@pytest.mark.parametrize("url", AWKWARD_URLS)
def test_url_parts_are_those_of_urlsplit(url: str) -> None:
    assert rules.url_parts(url) == _reference_url_parts(url)


def test_plain_checks_agree_with_the_character_classes() -> None:
    samples = [chr(code) for code in range(0x250)] + ["", "a.b", 'a"b', "a;b", "x:y", "ü"]
    samples += [f"ab{char}cd" for char in map(chr, range(0x250))]
    for text in samples:
        assert rules.is_plain(text) is (_UNSAFE.search(text) is None), repr(text)
        assert rules.is_plain_message(text) is (_MSG_SPECIAL.search(text) is None), repr(text)
        assert (rules.content(text) == text) is rules.is_plain(text), repr(text)


@pytest.mark.parametrize(
    "version_key",
    [
        "2024-02-18T02:26:50.000000000Z",
        "2024-02-18T23:59:60.000000000Z",
        "2024-02-18T00:00:00.000000000Z",
        "1970-01-01T00:00:00.000000000Z",
        "1969-12-31T23:59:59.000000000Z",
        "2024-02-18T24:00:00.000000000Z",
        "2024-02-18T02:26:61.000000000Z",
        "2024-02-18T02-26-50.000000000Z",
        "2024-02-18T02:26:50Z",
        "2024-02-18T02:26:50",
    ],
)
def test_parts_give_the_revision_and_closing_of_the_version_key(version_key: str) -> None:
    context = rules.RuleContext()
    for owner, tlp in (("Org A", 2), ("Org B", 4), ("Org A", 2)):
        prefix, shown, tail = context.parts("indicator--x", "v;1", owner, tlp, version_key)
        revision = max(1, epoch_seconds(version_key))
        day = version_key[:10].replace("-", "_")
        slug = "amber" if tlp == 2 else "red"
        label = "TLP:AMBER" if tlp == 2 else "TLP:RED"
        assert prefix == f"SHIELDWALL {label} {owner} "
        assert shown == "v\\;1"
        assert tail == (
            f"rev:{revision}; metadata:shieldwall_id indicator--x, tlp {slug}, updated_at {day};)"
        )


def test_parts_shorten_and_escape_the_shown_value() -> None:
    context = rules.RuleContext()
    key = "2024-02-18T02:26:50.000000000Z"
    long_value = "a" * 119 + '"' + "b" * 10
    assert context.parts("i", long_value, "o", 2, key)[1] == "a" * 119 + '\\"...'
    assert context.parts("i", "tab\there", "o", 2, key)[1] == "tab?here"
    assert context.parts("i", "a|b:c", "o", 2, key)[1] == "a|b:c"


def _reference_slot(key: str) -> int:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % rules.SID_RANGE


def test_sids_are_the_blake2b_slot_and_collisions_take_the_next_free_one() -> None:
    base = 5_000
    first = base + rules.RESERVED
    sids = rules.SidAllocator(base)
    try:
        keys = [f"indicator--{n}|ipv4|10.0.0.{n}|ip" for n in range(50)]
        assert [sids.sid(key) for key in keys] == [first + _reference_slot(k) for k in keys]
        # The same key again collides with itself, then with that sid too.
        slot = _reference_slot(keys[0])
        assert sids.sid(keys[0]) == first + (slot + 1) % rules.SID_RANGE
        assert sids.sid(keys[0]) == first + (slot + 2) % rules.SID_RANGE
    finally:
        sids.close()


def _reference_dns_wire(name: str) -> str:
    labels = name.split(".")
    return (
        "".join(f"|{len(label.encode()):02X}|{rules.content(label)}" for label in labels) + "|00|"
    )


@pytest.mark.parametrize(
    "name",
    [
        "example.org",
        "a.b.c",
        "",
        "x",
        "a..b",
        "l" * 63 + ".org",
        "l" * 64 + ".org",
        "bücher.de",
        "a:b.c",
    ],
)
def test_dns_wire_is_each_label_length_prefixed(name: str) -> None:
    assert snort.dns_wire(name) == _reference_dns_wire(name)


def test_variant_sids_are_the_sids_of_each_whole_key_in_order() -> None:
    variants = (b"|dns", b"|tls", b"|http")
    one_by_one, batched = rules.SidAllocator(7), rules.SidAllocator(7)
    try:
        for key in ("indicator--a|domain|example.org", "indicator--b|domain|example.net"):
            expected = [one_by_one.sid(key + variant.decode()) for variant in variants]
            assert batched.variant_sids(key, variants) == expected
        # Taken slots are seen by both ways: the same keys again move up by one.
        key = "indicator--a|domain|example.org"
        expected = [one_by_one.sid(key + variant.decode()) for variant in variants]
        assert batched.variant_sids(key, variants) == expected
        assert expected[0] == 7 + rules.RESERVED + _reference_slot(key + "|dns") + 1
    finally:
        one_by_one.close()
        batched.close()
