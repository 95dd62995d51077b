"""Scans of generated logs: exactly the planted hits, as each organisation may see them."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from sqlalchemy import Engine

from shieldwall.db.engine import read_transaction
from shieldwall.intel.service import Reader
from shieldwall.match.extract import blocks, read_block
from shieldwall.match.scan import ScanResult, local_matcher, scan
from shieldwall.match.service import IndexHolder, MatchOptions
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from shieldwall.sharing.tlp import DistKind, Distribution
from shieldwall.warninglists import default_index
from tests.factories import Coalition, indicator
from tests.match.logs import mixed_log, random_public_addresses
from tests.sharing import ingest_as


def ipsum_addresses(shared_data: Path) -> list[str]:
    text = (shared_data / "blocklists" / "ipsum.txt").read_text()
    return [line.split()[0] for line in text.splitlines() if line and not line.startswith("#")]


def scan_as(engine: Engine, org: str, log: bytes, options: MatchOptions) -> ScanResult:
    with read_transaction(engine) as conn:
        reader = Reader(bootstrap.principal_for(conn, org, Role.SENSOR))
    index = IndexHolder(engine).current()
    matcher, prefilter = local_matcher(engine, index, reader, options)
    return scan([io.BytesIO(log)], matcher, prefilter)


def test_a_scan_finds_exactly_the_planted_ipsum_addresses(
    engine: Engine, coalition: Coalition, shared_data: Path
) -> None:
    blocklist = ipsum_addresses(shared_data)
    ingest_as(
        engine,
        "Sponsor A",
        Distribution(DistKind.MEMBERS),
        [indicator(address) for address in blocklist],
    )
    rng = random.Random(6)
    planted = rng.sample(blocklist, 300)
    benign = random_public_addresses(rng, 3000, set(blocklist))
    log, written = mixed_log(rng, planted, benign, 20_000)

    everything = scan_as(engine, "Sponsor B", log, MatchOptions(include_warninglisted=True))
    assert everything.lines == 20_000
    assert {hit["value"]: hit["count"] for hit in everything.rows()} == dict(written)

    listed = {a for a in written if default_index().is_listed("ipv4", a)}
    by_default = scan_as(engine, "Sponsor B", log, MatchOptions())
    assert {hit["value"] for hit in by_default.rows()} == set(written) - listed

    # Intel shared with the committee is not a contributing participant's to see.
    assert scan_as(engine, "Contributor", log, MatchOptions(include_warninglisted=True)).hits == {}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '{"src_ip":"203.0.113.9","dest_ip":"2001:db8::7"}',
            {("ipv4", "203.0.113.9"), ("ipv6", "2001:db8::7")},
        ),
        ("SRC=203.0.113.9 DST=10.0.0.1", {("ipv4", "203.0.113.9"), ("ipv4", "10.0.0.1")}),
        (
            "conn 203.0.113.9:443 -> [2001:db8::1]:80",
            {("ipv4", "203.0.113.9"), ("ipv6", "2001:db8::1")},
        ),
        (
            'GET "hxxp://Evil.Example.com/a?b=1" from mail bad@evil.example.',
            {
                ("url", "http://Evil.Example.com/a?b=1"),
                ("domain", "evil.example.com"),
                ("email", "bad@evil.example"),
            },
        ),
        ("dns query www.example.org. A", {("domain", "www.example.org")}),
        (
            "see (https://x.example/p?q=1;r=2,s).",
            {("url", "https://x.example/p?q=1;r=2,s"), ("domain", "x.example")},
        ),
        (f"file,{'A' * 64},{'b' * 32}", {("sha256", "a" * 64), ("md5", "b" * 32)}),
        ("1732622400.1\tCabc\t12:34:56\tversion 1.2.3.4.5\tindex.html", {("domain", "index.html")}),
    ],
)
def test_extraction(line: str, expected: set[tuple[str, str]]) -> None:
    (data,) = blocks(io.BytesIO(line.encode()))
    assert set(read_block(data).observables()) == expected
