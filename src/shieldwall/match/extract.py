"""Observables in logs of any kind: plain text, JSON lines (Suricata eve.json,
Zeek JSON), Zeek TSV, CSV, syslog, web server logs.

Running one regular expression per kind over every line costs a few
microseconds a line in Python's engine. Instead each block of lines is cut
into tokens at the characters that delimit values in all these formats
(white space, quotes, commas, brackets, `=`, `|`) with `bytes.translate` and
`split`, both in C; logs repeat themselves, so only the distinct tokens are
kept, joined one per line, and the per-kind expressions run anchored over
that much smaller text. Occurrences are counted afterwards, and only for the
values that hit.

A URL also yields its host (a domain or an address); `host:port` and
`[v6]:port` yield the address; `hxxp://` is read as `http://`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import IO

from shieldwall.intel.observables import Observable

#: Read size: large enough that the C passes dominate, small enough to stream.
BLOCK_BYTES = 4 * 1024 * 1024

_DELIMITERS = b"\"',;<>()[]{}|=`\\"
_TO_SPACE = bytes.maketrans(_DELIMITERS, b" " * len(_DELIMITERS))

# Each expression runs over distinct tokens, one per line: group 1 is the
# whole token (to count it later), group 2 the value.
_M = re.MULTILINE
_EXPRESSIONS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("ipv4", re.compile(rb"^((\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?::\d{1,5})?\.?)$", _M)),
    (
        "ipv6",
        re.compile(
            rb"^(\[?([0-9A-Fa-f:]*::[0-9A-Fa-f:.]*|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4})"
            rb"(?:\]:\d{1,5})?\]?)$",
            _M,
        ),
    ),
    (
        "domain",
        re.compile(
            rb"^(((?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+"
            rb"[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9])(?::\d{1,5})?\.?)$",
            _M,
        ),
    ),
    (
        "hash",
        re.compile(rb"^(([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128}))$", _M),
    ),
    ("email", re.compile(rb"^(([\w.%+-]+@[\w-]+(?:\.[\w-]+)+)\.?)$", _M)),
)
#: URLs keep their `=`, `;` and `,`, so they are read from the text itself.
_URL = re.compile(rb"(?:https?|ftp|hxxps?)://[^\s\"'<>\\`|]+", re.IGNORECASE)
_URL_TRAILING = b".,;:)]}"
_HASH_KINDS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


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
class Block:
    """The tokens of one block of lines and the observables read from them."""

    tokens: list[bytes]
    urls: Counter[bytes]
    lines: int
    #: observable -> the distinct tokens it was read from
    found: dict[Observable, set[bytes]] = field(default_factory=dict)
    #: observable -> the distinct URLs it was read from (a URL, or a URL's host)
    found_in_urls: dict[Observable, set[bytes]] = field(default_factory=dict)

    def observables(self) -> list[Observable]:
        return list(self.found.keys() | self.found_in_urls.keys())

    def occurrences(self, observables: Collection[Observable]) -> Counter[Observable]:
        """How many times each of `observables` occurs in the block."""
        wanted: dict[bytes, list[Observable]] = {}
        counted: Counter[Observable] = Counter()
        for observable in observables:
            for token in self.found.get(observable, ()):
                wanted.setdefault(token, []).append(observable)
            for url in self.found_in_urls.get(observable, ()):
                counted[observable] += self.urls[url]
        for token, count in Counter(filter(wanted.__contains__, self.tokens)).items():
            for observable in wanted[token]:
                counted[observable] += count
        return counted


def read_block(data: bytes) -> Block:
    """Tokens and observables of one block of whole lines."""
    tokens = data.translate(_TO_SPACE).split()
    urls = Counter(url.rstrip(_URL_TRAILING) for url in _URL.findall(data))
    block = Block(tokens, urls, data.count(b"\n"))
    distinct = b"\n".join(set(tokens))
    for kind, expression in _EXPRESSIONS:
        for token, value in expression.findall(distinct):
            text = value.decode("utf-8", "replace")
            found = (_HASH_KINDS[len(text)], text.lower()) if kind == "hash" else (kind, text)
            block.found.setdefault(found, set()).add(token)
    for url in urls:
        for found in _url_observables(url.decode("utf-8", "replace")):
            block.found_in_urls.setdefault(found, set()).add(url)
    return block


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
