"""The compiled rule loop (`formats/export/_rules.c`) writes what the Python writers write.

Suricata and Snort exports must stay byte for byte what they were: each
format's Python writer is the reference, and the compiled loop is held to it
on rows that reach the edges of what it handles itself (special and
non-ASCII characters, long values, URLs that the plain-URL expression does or
does not take, odd version keys, repeated keys whose sids collide, rows of
other shapes and kinds). It must also handle the usual rows itself: a loop
that handed every row back to Python would pass the byte comparisons.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.formats.export import rules, snort, suricata
from tests.formats.export.test_rules import AWKWARD_URLS

pytestmark = pytest.mark.skipif(
    not rules.COMPILED and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="SKIPPING: formats.export._rules is not built (no C compiler at install time)",
)

FORMATS = [suricata, snort]
BASE = 1_000_000
KEY = "2024-02-18T02:26:50.000000000Z"
KINDS = ("ipv4", "ipv6", "cidr", "domain", "url")

URLS = [*AWKWARD_URLS, "http://example.org/" + "long/" * 40]
VALUES = [
    "203.0.113.7",
    "2001:db8::1",
    "198.51.100.0/24",
    "evil.example.org",
    "a..b",
    "",
    "x",
    "l" * 63 + ".org",
    "l" * 64 + ".org",
    "l" * 300 + ".a..b.",
    "a:b.example",
    'q"uote.example',
    "semi;colon.example",
    "back\\slash.example",
    "pi|pe.example",
    "tab\there.example",
    "del\x7f.example",
    "bücher.de",
    "d" * 119 + ";" + "e" * 5,
    "f" * 200,
    "f" * 120,
    "f" * 121,
]
VERSION_KEYS = [
    KEY,
    "2024-02-18T23:59:60.000000000Z",
    "1970-01-01T00:00:00.000000000Z",
    "1969-12-31T23:59:59.000000000Z",
    "2024-02-18T24:00:00.000000000Z",
    "2024-02-18T02:26:61.000000000Z",
    "2024-02-18T02-26-50.000000000Z",
    "2024-02-31T02:26:50Z",
    "2024-02-18T02:26:50",
    "0001-01-01T00:00:00Z",
    "2024-02-18x02:26:50Z",
    "2024-02-18T 2:26:50Z",
    "2024-02-18T02:26:+5Z",
]
OWNERS = ["Export Bench Host", "Org B", 'Org "Q"; x', "Organisation é"]


def _row(kind: str, value: str, n: int, **changes: Any) -> tuple[Any, ...]:
    fields: dict[str, Any] = {
        "kind": kind,
        "value": value,
        "stix_id": f"indicator--{n:08d}-8624-5719-8fc0-8755439f8d60",
        "owner_org_id": "Export Bench Host",  # a name: written without `owner_names`
        "tlp": 2,
        "version_key": KEY,
    }
    fields.update(changes)
    return tuple(fields[name] for name in suricata.FIELDS)


def _edge_rows() -> list[Sequence[Any]]:
    rows: list[Sequence[Any]] = []
    n = 0
    for kind in KINDS:
        for value in VALUES + URLS:
            n += 1
            rows.append(_row(kind, value, n))
    for n, version_key in enumerate(VERSION_KEYS):
        rows.append(_row("domain", f"v{n}.example", 1000 + n, version_key=version_key))
    for n, owner in enumerate(OWNERS * 2):
        rows.append(_row("ipv4", f"192.0.2.{n}", 2000 + n, owner_org_id=owner, tlp=n % 5))
    rows.append(_row("ipv4", "192.0.2.200", 3000, stix_id="indicator--é"))
    for kind in ("md5", "sha1", "sha256", "email", "filename", "sha512"):
        rows.append(_row(kind, "0" * 32, 4000))
    # The same keys again: their sids collide with the first ones and move up.
    rows.extend(rows[:40])
    rows.append(list(_row("ipv4", "192.0.2.201", 5000)))  # a list: not the driver's tuple
    return rows


def _written(module: ModuleType, chunks: list[list[Sequence[Any]]], *, compiled: bool) -> bytes:
    return b"".join(module.write(chunks, BASE, compiled=compiled))


@pytest.mark.parametrize("module", FORMATS, ids=lambda module: module.__name__.rsplit(".")[-1])
def test_edge_rows_give_the_bytes_of_the_python_writer(module: ModuleType) -> None:
    rows = _edge_rows()
    chunks = [rows[:7], rows[7:200], [], rows[200:]]
    compiled = _written(module, chunks, compiled=True)
    assert compiled == _written(module, chunks, compiled=False)
    assert compiled.count(b"\n") > len(rows)


@pytest.mark.parametrize("module", FORMATS, ids=lambda module: module.__name__.rsplit(".")[-1])
def test_rows_with_owner_ids_give_the_bytes_of_rows_with_owner_names(module: ModuleType) -> None:
    names = dict(enumerate(OWNERS, start=1))
    ids = {owner: n for n, owner in names.items()}
    named = [*_plain_rows(60), *_edge_rows()[:80]]
    owner_at = suricata.FIELDS.index("owner_org_id")
    numbered = [(*row[:owner_at], ids[row[owner_at]], *row[owner_at + 1 :]) for row in named]
    expected = _written(module, [named], compiled=False)
    for compiled in (True, False):
        found = b"".join(module.write([numbered], BASE, names, compiled=compiled))
        assert found == expected


def _counting(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patches the format's Python writer to record how many rows each call had."""
    calls: list[int] = []
    reference: Callable[..., bytes] = module._python_rules

    def counted(chunk: Sequence[Sequence[Any]], *state: Any) -> bytes:
        calls.append(len(chunk))
        return reference(chunk, *state)

    monkeypatch.setattr(module, "_python_rules", counted)
    return calls


def _plain_rows(count: int) -> list[Sequence[Any]]:
    choices = random.Random(7)
    rows: list[Sequence[Any]] = []
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        value = {
            "ipv4": f"10.{n % 256}.{n // 256 % 256}.1",
            "ipv6": f"2001:db8::{n:x}",
            "cidr": f"10.{n % 256}.0.0/16",
            "domain": f"host{choices.randrange(10**6)}.example.org",
            "url": f"http://host{n}.example.org/p/{n}.php?id={n}&x=a:b",
        }[kind]
        rows.append(_row(kind, value, n, tlp=n % 5, owner_org_id=OWNERS[n % 3]))
    return rows


@pytest.mark.parametrize("module", FORMATS, ids=lambda module: module.__name__.rsplit(".")[-1])
def test_usual_rows_are_written_without_the_python_writer(
    module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _plain_rows(500)
    hashes: list[Sequence[Any]] = [_row("md5", f"{n:032x}", n) for n in range(3)]
    expected = _written(module, [rows + hashes], compiled=False)
    calls = _counting(module, monkeypatch)
    assert _written(module, [rows[:250], hashes, rows[250:]], compiled=True) == expected
    assert calls == []


@pytest.mark.parametrize("module", FORMATS, ids=lambda module: module.__name__.rsplit(".")[-1])
def test_unusual_rows_alone_go_to_the_python_writer_in_order(
    module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _plain_rows(40)
    unusual = [
        _row("domain", "bücher.de", 9001),
        _row("url", "http://example.org:8080/p", 9002),
        _row("ipv4", "192.0.2.1", 9003, version_key="2024-02-18T 2:26:50Z"),
    ]
    rows = plain[:10] + unusual[:1] + plain[10:30] + unusual[1:] + plain[30:]
    expected = _written(module, [rows], compiled=False)
    calls = _counting(module, monkeypatch)
    assert _written(module, [rows], compiled=True) == expected
    assert calls == [1, 1, 1]


_TEXT = st.text(
    alphabet=st.sampled_from([*'abcz09.-_/?#:;|"\\ \t@[]%ü', "\x00", "\u2028"]),
    max_size=140,
)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.tuples(st.sampled_from(KINDS), _TEXT), min_size=1, max_size=30),
    schemes=st.lists(st.sampled_from(["http://", "https://", "", "h+x://"]), min_size=1),
)
def test_random_values_give_the_bytes_of_the_python_writer(
    values: list[tuple[str, str]], schemes: list[str]
) -> None:
    rows: list[Sequence[Any]] = []
    for n, (kind, text) in enumerate(values):
        value = schemes[n % len(schemes)] + text if kind == "url" else text
        rows.append(_row(kind, value, n % 7))  # repeated ids: some keys collide
    for module in FORMATS:
        assert _outcome(module, rows, compiled=True) == _outcome(module, rows, compiled=False)


def _outcome(module: ModuleType, rows: list[Sequence[Any]], *, compiled: bool) -> object:
    """The bytes written, or the error raised (`urlsplit` refuses some URLs, on both paths)."""
    try:
        return _written(module, [rows], compiled=compiled)
    except ValueError as error:
        return repr(error)


def _keys() -> Iterator[bytes]:
    choices = random.Random(11)
    for length in range(0, 400):
        yield bytes(choices.randrange(256) for _ in range(length))


def test_the_compiled_digest_is_blake2b() -> None:
    from shieldwall.formats.export import _rules

    for key in _keys():
        expected = hashlib.blake2b(key, digest_size=8).digest()
        assert _rules.digest_slot(key) == int.from_bytes(expected, "big"), len(key)


def test_ci_has_the_compiled_rule_loop() -> None:
    # The package builds `_rules` optionally; CI must not lose it silently.
    assert rules.COMPILED
