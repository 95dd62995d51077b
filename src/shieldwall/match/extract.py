"""Observables in logs of any kind: plain text, JSON lines (Suricata eve.json,
Zeek JSON), Zeek TSV, CSV, syslog, web server logs.

Running one regular expression per kind over every line costs a few
microseconds a line in Python's engine. Instead each block of lines is cut
into tokens at the characters that delimit values in all these formats
(white space, quotes, commas, brackets, `=`, `|`) with `bytes.translate` and
`split`, both in C; logs repeat themselves, so only the distinct tokens are
kept, joined one per line, and the per-kind expressions run over that much
smaller text. One expression reads them all: it starts with the line end
before a token (a literal: the engine jumps from one to the next in C instead
of trying every position), ends at the next one, and in between has one
alternative per kind. The kinds exclude each other (an address has no letter
after its last dot, a domain no `::`, only an e-mail address has `@`, a hash
neither dot nor colon), so one pass finds what a pass per kind would.
Occurrences are counted afterwards, and only for the values that hit.

A URL also yields its host (a domain or an address); `host:port` and
`[v6]:port` yield the address; `hxxp://` is read as `http://`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import IO

from shieldwall.intel.observables import Observable

#: Read size: large enough that the C passes dominate, small enough to stream.
BLOCK_BYTES = 4 * 1024 * 1024

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

#: (observable, the token or URL it was read from)
Source = tuple[Observable, bytes]


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


@dataclass
class KindValues:
    """The distinct values of one kind read from tokens, each beside its token."""

    values: list[str] = field(default_factory=list)
    tokens: list[bytes] = field(default_factory=list)


@dataclass
class Block:
    """The tokens of one block of lines and the observables read from them.

    Values read from tokens are kept per kind as plain lists, not as one
    (observable, token) tuple each: almost none of them hit, and building a
    tuple per value was the largest cost of a scan (measured: 2 us a line).
    """

    tokens: list[bytes]
    urls: Counter[bytes]
    lines: int
    #: kind -> the distinct values of that kind read from tokens
    from_tokens: dict[str, KindValues] = field(default_factory=dict)
    #: each observable with the distinct URL it was read from (a URL, or a URL's host)
    from_urls: list[Source] = field(default_factory=list)

    def values_by_kind(self) -> dict[str, list[str]]:
        """The distinct values read, per kind (`1.2.3.4` and `1.2.3.4:80` are one)."""
        by_kind = {kind: list(found.values) for kind, found in self.from_tokens.items()}
        for (kind, value), _ in self.from_urls:
            by_kind.setdefault(kind, []).append(value)
        return {kind: list(dict.fromkeys(values)) for kind, values in by_kind.items()}

    def observables(self) -> list[Observable]:
        by_kind = self.values_by_kind()
        return [(kind, value) for kind, values in by_kind.items() for value in values]

    def occurrences(self, observables: Collection[Observable]) -> Counter[Observable]:
        """How many times each of `observables` occurs in the block."""
        wanted = set(observables)
        counted: Counter[Observable] = Counter()
        for found, url in self.from_urls:
            if found in wanted:
                counted[found] += self.urls[url]
        by_token: dict[bytes, list[Observable]] = {}
        for kind, found_values in self.from_tokens.items():
            for value, token in zip(found_values.values, found_values.tokens, strict=True):
                if (kind, value) in wanted:
                    by_token.setdefault(token, []).append((kind, value))
        for token, count in Counter(filter(by_token.__contains__, self.tokens)).items():
            for found in by_token[token]:
                counted[found] += count
        return counted


def read_block(data: bytes) -> Block:
    """Tokens and observables of one block of whole lines."""
    tokens = data.translate(_TO_SPACE).split()
    urls = Counter(filter(None, map(_with_scheme, _URL.finditer(data))))
    block = Block(tokens, urls, data.count(b"\n"))
    distinct = b"\n" + b"\n".join(set(tokens)) + b"\n"
    found = _TOKEN_VALUE.findall(distinct)
    # One C-level filter per kind over the matches; column 0 is the token.
    for column, kind in enumerate(_KINDS, start=1):
        rows = list(filter(itemgetter(column), found))
        if not rows:
            continue
        raw_values = map(itemgetter(column), rows)
        if kind == "hash":
            for raw, token in zip(raw_values, map(itemgetter(0), rows), strict=True):
                hashed = block.from_tokens.setdefault(_HASH_KINDS[len(raw)], KindValues())
                hashed.values.append(raw.decode().lower())
                hashed.tokens.append(token)
            continue
        block.from_tokens[kind] = KindValues(
            [raw.decode("latin-1") for raw in raw_values], list(map(itemgetter(0), rows))
        )
    for url in urls:
        for observable in _url_observables(url.decode("utf-8", "replace")):
            block.from_urls.append((observable, url))
    return block


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
