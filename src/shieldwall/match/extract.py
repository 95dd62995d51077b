"""Observables in logs of any kind: plain text, JSON lines (Suricata eve.json,
Zeek JSON), Zeek TSV, CSV, syslog, web server logs.

A block of lines is read in C when the extension is built (`_extract.c`:
one pass cuts the block into tokens, classifies those that may be values with
hand-written matchers equal to the expressions below and counts the values in
a C hash table, a second pass finds the URLs; measured on the bench's log:
~1 us a line against ~9 for the Python reader below, which stays the
reference the tests compare it with, and the fallback without a compiler).

The Python reader: running one regular expression per kind over every line
costs a few microseconds a line in Python's engine. Instead each block is cut
into tokens at the characters that delimit values in all these formats
(white space, quotes, commas, brackets, `=`, `|`) with `bytes.translate` and
`split`, both in C; logs repeat themselves, so only the distinct tokens are
kept (counted), joined one per line, and the per-kind expressions run over
that much smaller text. One expression reads them all: it starts with the
line end before a token (a literal: the engine jumps from one to the next in C
instead of trying every position), ends at the next one, and in between has
one alternative per kind. The kinds exclude each other (an address has no
letter after its last dot, a domain no `::`, only an e-mail address has `@`, a
hash neither dot nor colon), so one pass finds what a pass per kind would.

A URL also yields its host (a domain or an address); `host:port` and
`[v6]:port` yield the address; `hxxp://` is read as `http://`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import IO

from shieldwall.intel.observables import Observable

try:
    from shieldwall.match import _extract as _compiled
except ImportError:  # installed without a C compiler: the Python reader only
    _compiled = None  # type: ignore[assignment]

#: Whether the compiled block reader is available in this installation.
COMPILED = _compiled is not None

#: Read size: large enough that the C passes dominate, small enough that the C
#: reader's counting table (16 bytes a distinct value) stays in a core's cache.
#: Measured with bench.match's log (300,000 lines, 10 M indicators, lines per
#: CPU-second): 4 MiB 293k-358k, 1 MiB 334k-384k, 512 KiB 391k-408k.
BLOCK_BYTES = 512 * 1024

_DELIMITERS = b"\"',;<>()[]{}|=`\\"
_TO_SPACE = bytes.maketrans(_DELIMITERS, b" " * len(_DELIMITERS))

# The value of each kind, as a group; the expression below finds a whole token.
_KIND_VALUES: tuple[tuple[str, bytes], ...] = (
    ("ipv4", rb"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?::\d{1,5})?\.?"),
    (
        "ipv6",
        rb"\[?([0-9A-Fa-f:]*::[0-9A-Fa-f:.]*|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4})"
        rb"(?:\]:\d{1,5})?\]?",
    ),
    (
        "domain",
        rb"((?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+"
        rb"[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9])(?::\d{1,5})?\.?",
    ),
    ("hash", rb"([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})"),
    ("email", rb"([\w.%+-]+@[\w-]+(?:\.[\w-]+)+)\.?"),
)
#: Over distinct tokens, each after a line end: group 1 is the whole token (to
#: count it later), then one group per kind, the value (empty for other kinds).
_TOKEN_VALUE = re.compile(rb"\n(" + b"|".join(body for _, body in _KIND_VALUES) + rb")(?=\n)")
_KINDS = tuple(kind for kind, _ in _KIND_VALUES)
#: URLs keep their `=`, `;` and `,`, so they are read from the text itself. The
#: expression starts at `://` (a literal: the engine jumps from one to the next)
#: and takes the scheme from the word before it.
_URL = re.compile(rb"://[^\s\"'<>\\`|]+")
_SCHEMES = (b"https", b"hxxps", b"http", b"hxxp", b"ftp")
_URL_TRAILING = b".,;:)]}"
_HASH_KINDS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
#: The compiled reader's hash tables may probe this many extra slots per byte of
#: a block before it leaves the block to the Python reader (whose `bytes` hash is
#: SipHash): ~1 per token is usual (tables at most half full), so only a block
#: crafted to collide goes there, and no block makes the C loops quadratic.
_MAX_COLLISIONS_PER_BYTE = 4
_COLLISION_SLACK = 65536


def url_host(url: str) -> Observable | None:
    """The host of a URL as an observable: a domain or an address."""
    rest = url.partition("://")[2]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    if authority.startswith("["):
        return ("ipv6", authority[1:].partition("]")[0])
    host = authority.rpartition(":")[0] if authority.count(":") == 1 else authority
    if _IPV4.fullmatch(host):
        return ("ipv4", host)
    return ("domain", host.lower()) if "." in host else None


#: Counts per kind: kind -> value -> occurrences in the block.
Counts = dict[str, dict[str, int]]


@dataclass
class Block:
    """The observables of one block of lines, each with its number of occurrences.

    Values are counted as they are read, so counting the hits needs no second
    pass over the tokens (measured: that pass cost 1 us a line). They come as
    two lists per kind (values, counts), not a dictionary: the index's batch
    look-ups take a list, and a hit's position in it finds its count (building
    a dictionary of every value cost 0.25 us a line, for the few that hit).
    """

    lines: int
    #: kind -> the distinct values of that kind, from tokens and URLs together
    values: dict[str, list[str]]
    #: kind -> the occurrences of each value, in the order of `values` (a URL's host
    #: adds to the count of the same domain or address read as a token)
    counts: dict[str, list[int]]
    #: each distinct URL as read (scheme included, trailing punctuation cut) -> occurrences
    urls: dict[bytes, int] = field(default_factory=dict)

    def observables(self) -> list[Observable]:
        return [(kind, value) for kind, values in self.values.items() for value in values]

    def counted(self) -> Counts:
        """kind -> value -> occurrences."""
        return {
            kind: dict(zip(values, self.counts[kind], strict=True))
            for kind, values in self.values.items()
        }


def read_block(data: bytes) -> Block:
    """Tokens and observables of one block of whole lines (in C when it is built)."""
    if _compiled is not None:
        found = _compiled.read_block(data, _MAX_COLLISIONS_PER_BYTE * len(data) + _COLLISION_SLACK)
        if found is not None:
            lines, values, counts, urls, foreign = found
            if foreign:
                _add_foreign(values, counts, foreign, urls)
            return Block(lines, values, counts, urls)
    return read_block_python(data)


def read_block_python(data: bytes) -> Block:
    """`read_block` in Python: the reference the compiled reader is tested against."""
    tokens = Counter(data.translate(_TO_SPACE).split())
    urls = Counter(filter(None, map(_with_scheme, _URL.finditer(data))))
    counted: Counts = {}
    distinct = b"\n" + b"\n".join(tokens) + b"\n"
    found = _TOKEN_VALUE.findall(distinct)
    # One C-level filter per kind over the matches; column 0 is the token.
    for column, kind in enumerate(_KINDS, start=1):
        for row in filter(itemgetter(column), found):
            raw, count = row[column], tokens[row[0]]
            if kind == "hash":
                _add(counted, _HASH_KINDS[len(raw)], raw.decode().lower(), count)
            else:
                _add(counted, kind, raw.decode("latin-1"), count)
    for url, count in urls.items():
        for kind, value in _url_observables(url.decode("utf-8", "replace")):
            _add(counted, kind, value, count)
    return Block(
        data.count(b"\n"),
        {kind: list(values) for kind, values in counted.items()},
        {kind: list(values.values()) for kind, values in counted.items()},
        dict(urls),
    )


def _add(counted: Counts, kind: str, value: str, count: int) -> None:
    values = counted.setdefault(kind, {})
    values[value] = values.get(value, 0) + count


def _add_foreign(
    values: dict[str, list[str]],
    counts: dict[str, list[int]],
    foreign: list[bytes],
    urls: dict[bytes, int],
) -> None:
    """Adds the observables of the URLs the compiled reader left to Python (non-ASCII)."""
    positions: dict[str, dict[str, int]] = {}
    for url in foreign:
        for kind, value in _url_observables(url.decode("utf-8", "replace")):
            if kind not in positions:
                positions[kind] = {found: at for at, found in enumerate(values.get(kind, ()))}
            at = positions[kind].get(value)
            if at is None:
                positions[kind][value] = len(values.setdefault(kind, []))
                values[kind].append(value)
                counts.setdefault(kind, []).append(urls[url])
            else:
                counts[kind][at] += urls[url]


def _with_scheme(found: re.Match[bytes]) -> bytes | None:
    """The URL whose `://...` was found, if a scheme we read stands before it."""
    start = found.start()
    before = found.string[max(start - 5, 0) : start].lower()
    for scheme in _SCHEMES:
        if before.endswith(scheme):
            cut = start - len(scheme)
            if cut == 0 or not found.string[cut - 1 : cut].isalpha():
                return found.string[cut:start] + found.group().rstrip(_URL_TRAILING)
    return None


def _url_observables(url: str) -> list[Observable]:
    if url[:4].lower() == "hxxp":
        url = "http" + url[4:]
    host = url_host(url)
    return [("url", url), host] if host else [("url", url)]


def blocks(stream: IO[bytes], size: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The stream in blocks that end at a line end (a value never straddles two)."""
    rest = b""
    while True:
        data = stream.read(size)
        if not data:
            if rest:
                yield rest + b"\n"
            return
        data = rest + data
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            yield data[:cut]
