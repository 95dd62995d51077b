"""The compiled block reader (`match/_extract.c`) reads exactly what the Python reader reads.

Each block is read by both, and everything a scan uses is compared: the line
count, every value of every kind with its number of occurrences, and every
URL with its own. The blocks: the bench's generated logs, the tests' mixed
logs over real blocklist addresses, the real STIX and MISP files of the shared
data (full of URLs, domains, hashes and e-mail addresses), and random bytes
built from pieces that reach the edges of the hand-written matchers:
delimiters, non-ASCII bytes, over-long labels and tokens, near-miss addresses
(1.2.3.256, 01.2.3.4, 1.2.3.4.5, seven or nine IPv6 groups), ports, `hxxp`,
trailing punctuation.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bench.match import _log as bench_log
from shieldwall.match import extract
from shieldwall.match.extract import COMPILED, Block, blocks, read_block, read_block_python
from tests.match.logs import mixed_log, random_public_addresses

pytestmark = pytest.mark.skipif(
    not COMPILED and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="SKIPPING: shieldwall.match._extract is not built (no C compiler at install time)",
)


def compiled_read(data: bytes) -> Block:
    """`read_block`, after checking that the compiled reader read the block itself."""
    assert extract._compiled is not None
    budget = extract._MAX_COLLISIONS_PER_BYTE * len(data) + extract._COLLISION_SLACK
    assert extract._compiled.read_block(data, budget) is not None, "left to the Python reader"
    return read_block(data)


def assert_same(data: bytes) -> dict[str, dict[str, int]]:
    """Compares the two readers on `data`; kind -> value -> occurrences."""
    compiled, python = compiled_read(data), read_block_python(data)
    assert compiled.lines == python.lines
    assert compiled.urls == python.urls
    for block in (compiled, python):
        assert block.values.keys() == block.counts.keys()
        for kind, values in block.values.items():
            assert len(set(values)) == len(values) == len(block.counts[kind]) > 0, kind
    counted = python.counted()
    assert compiled.counted() == counted
    return counted


def assert_same_blocks(log: bytes, size: int = 1 << 18) -> None:
    for data in blocks(io.BytesIO(log), size):
        assert_same(data)


def test_ci_builds_the_compiled_reader() -> None:
    # The package builds `_extract` optionally; CI must not lose it silently.
    assert COMPILED, "shieldwall.match._extract did not build"


def test_the_bench_logs_read_the_same() -> None:
    rng = random.Random(5)
    kept = [("ipv4", f"198.51.{rng.randint(0, 255)}.{rng.randint(1, 254)}") for _ in range(50)]
    log = bench_log(kept, 5, 30_000)
    assert_same_blocks(log)
    # Not only agreement: the values are there (a reader that found nothing would agree).
    counted = assert_same(log)
    assert read_block(log).lines == 30_000
    # Two addresses a line, but one in the web lines (every fifth), whose URL has a name.
    assert sum(counted["ipv4"].values()) == 30_000 * 2 - 30_000 // 5
    assert len(counted["url"]) == len(read_block(log).urls) > 5000
    assert sum(counted["domain"].values()) == 30_000 // 5


@pytest.mark.shared_data
def test_the_mixed_logs_of_real_addresses_read_the_same(shared_data: Path) -> None:
    text = (shared_data / "blocklists" / "ipsum.txt").read_text()
    listed = [line.split()[0] for line in text.splitlines() if line and line[0] != "#"]
    rng = random.Random(7)
    benign = random_public_addresses(rng, 2000, set(listed))
    log, written = mixed_log(rng, listed[:200], benign, 20_000)
    assert_same_blocks(log)
    counts = assert_same(log)["ipv4"]
    assert {address: counts[address] for address in written} == dict(written)


@pytest.mark.shared_data
def test_the_shared_data_files_read_the_same(shared_data: Path) -> None:
    files = sorted(path for path in shared_data.rglob("*") if path.is_file())
    assert len(files) > 10
    seen: set[str] = set()
    for path in files:
        data = path.read_bytes()
        assert_same_blocks(data)
        seen.update(assert_same(data + b"\n"))
    assert {"ipv4", "domain", "url", "md5", "sha1", "sha256", "email"} <= seen


_PIECES = [
    # delimiters and white space
    *(bytes([c]) for c in b"\"',;<>()[]{}|=`\\ \t\n\r\x0b\x0c"),
    b"\x1c", b"\x00", b"\x7f",
    # non-ASCII: UTF-8, invalid UTF-8, Unicode digits
    b"\xc3\xa9", b"\xff", b"\x80", "\u0661.\u0662.\u0663.\u0664".encode(), "\u00fc".encode(),
    # addresses and near misses
    b"1.2.3.4", b"10.0.0.1", b"255.255.255.255", b"1.2.3.256", b"01.2.3.4", b"1.2.3.4.5",
    b"1.2.3", b"1234.2.3.4", b"1.2.3.4:80", b"1.2.3.4:123456", b"1.2.3.4:", b"1.2.3.4.",
    b"1.2.3.4:80.", b"1.2.3.4..",
    b"2001:db8::1", b"::", b"::1", b":::", b"1:2:3:4:5:6:7:8", b"1:2:3:4:5:6:7",
    b"1:2:3:4:5:6:7:8:9",
    b"12345:2:3:4:5:6:7:8", b"fe80::1%eth0", b"::ffff:1.2.3.4", b"1.2::3", b"[2001:db8::1]:443",
    b"a:b", b"12:00:01", b":80",
    # names
    b"example.com", b"Evil.Example.COM", b"www.example.org.", b"a.b:8080", b"a.b:123456",
    b"_dmarc.example.com", b"-a.example.com", b"a-.example.com", b"a_.example.com", b"a.b_c",
    b"x." + b"a" * 63 + b".com", b"x." + b"a" * 64 + b".com", b"a." + b"b" * 63, b"a." + b"b" * 64,
    b"a.1com", b"a.co-", b"a..com", b".com", b"index.html", b"HTTP/1.1", b"a.b.",
    # hashes
    b"d41d8cd98f00b204e9800998ecf8427e", b"D41D8CD98F00B204E9800998ECF8427E", b"0" * 31,
    b"0" * 33, b"f" * 40, b"A" * 64, b"9" * 128, b"g" * 32,
    # e-mail addresses
    b"bad@evil.example", b"x.y+z%w@a-b.c_d.", b"a@b", b"@a.b", b"a@.b", b"a@b..c", b"a@b@c.d",
    b"a@b.c..",
    # URLs
    b"://", b"http://", b"https://", b"HTTP://", b"hxxp://", b"HXXPS://", b"ftp://", b"xhttp://",
    b"1http://", b"ttp://", b"http:/", b"http:///", b"user@", b"[", b"]", b"/path", b"?q=1",
    b"#frag", b":8080", b"a@b.example", b"@", b"%", b"+", b"-", b"_",
    # trailing punctuation
    b".", b",", b";", b":", b")", b"]", b"}", b"...",
]  # fmt: skip

_PIECE = st.one_of(
    st.sampled_from(_PIECES),
    st.binary(max_size=6),
    st.builds(lambda n: b"a" * n, st.integers(60, 300)),
    st.from_regex(rb"[0-9a-fA-F:.]{1,40}", fullmatch=True),
    st.from_regex(rb"[a-z0-9_-]{1,6}(\.[a-z0-9_-]{1,6}){1,3}", fullmatch=True),
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_PIECE, max_size=40).map(b"".join))
@example(b"1.2.3.4 1.2.3.4:80 1.2.3.4.")
@example(b"http://a.example/ hxxp://a.example/ HXXP://a.example/ a.example")
@example(b"see (https://x.example/p?q=1;r=2,s).\n")
@example(b"http://\xd9\xa1.\xd9\xa2.\xd9\xa3.\xd9\xa4/ http://[::1 http://a@b@[x]y:1/")
def test_random_blocks_read_the_same(data: bytes) -> None:
    assert_same(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_read_the_same(data: bytes) -> None:
    assert_same(data)


@pytest.mark.parametrize("byte", range(256))
def test_every_byte_is_classed_as_the_python_reader_classes_it(byte: int) -> None:
    # Each byte beside and inside values and URLs: the C tables of delimiters, URL
    # ends, trailing punctuation and value characters must be the regexes' classes.
    c = bytes([byte])
    line = b" ".join(
        [
            b"a.b" + c + b"c.d",
            b"1.2.3.4" + c + b"5",
            b"2001:db8::" + c + b"1",
            b"x" + c + b"y@e.example" + c,
            b"d41d8cd98f00b204e9800998ecf8427" + c,
            b"http://h" + c + b".example/p" + c + b"q" + c,
            b"hxxps://[::1]:8" + c + b"/" + c,
            c + b"http://u" + c + b"@v.example:8" + c + b"0/",
        ]
    )
    assert_same(line + b"\n")


def test_values_read_from_several_tokens_add_up() -> None:
    # Three tokens, one address; one occurrence each (counts shared as small ints).
    counted = assert_same(b"1.2.3.4 1.2.3.4:80 1.2.3.4.\nhttp://1.2.3.4/x 1.2.3.4\n")
    assert counted == {"ipv4": {"1.2.3.4": 5}, "url": {"http://1.2.3.4/x": 1}}
    log = b"hxxp://a.example/ http://a.example/ http://a.example/ A.example\n"
    assert assert_same(log) == {
        "url": {"http://a.example/": 3},
        "domain": {"a.example": 3, "A.example": 1},
    }
    assert read_block(log).urls == {b"hxxp://a.example/": 1, b"http://a.example/": 2}
    # Hash values in lower case, whatever case they are read in.
    log = b"D41D8CD98F00B204E9800998ECF8427E,d41d8cd98f00b204e9800998ecf8427e\n"
    assert assert_same(log) == {"md5": {"d41d8cd98f00b204e9800998ecf8427e": 2}}
    # A URL the compiled reader leaves to Python adds to the values it read itself.
    log = "http://a.example/\u00e9 a.example http://A.example/ x\n".encode()
    assert assert_same(log) == {
        "url": {"http://a.example/\u00e9": 1, "http://A.example/": 1},
        "domain": {"a.example": 3},
    }


def test_a_block_crafted_to_collide_goes_to_the_python_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No table may probe without bound: past the budget the block is read in Python.
    log = bench_log([("ipv4", "192.0.2.1")], 9, 5000)
    assert extract._compiled is not None
    assert extract._compiled.read_block(log, 0) is None
    read_in_python = []

    def python_reader(data: bytes) -> Block:
        read_in_python.append(data)
        return read_block_python(data)

    monkeypatch.setattr(extract, "_MAX_COLLISIONS_PER_BYTE", 0)
    monkeypatch.setattr(extract, "_COLLISION_SLACK", 0)
    monkeypatch.setattr(extract, "read_block_python", python_reader)
    block = read_block(log)
    assert read_in_python == [log]
    assert block.lines == 5000


def test_the_compiled_reader_takes_only_immutable_bytes() -> None:
    # It reads the block without the GIL: a bytearray could change under it.
    assert extract._compiled is not None
    with pytest.raises(TypeError, match="bytes"):
        extract._compiled.read_block(bytearray(b"1.2.3.4\n"), 1 << 20)
