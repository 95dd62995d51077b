"""MISP warninglists: known-benign values (public resolvers, top sites, cloud ranges...).

The lists come from `pymispwarninglists`. Its own search is either exact
string membership (fast, but blind to CIDR ranges and to sub-domains of a
listed host) or a per-list scan (correct, but seconds to load and one scan of
every list per value). Exports test every value they write, so this module
builds one index per observable kind, once per process, that answers with a
handful of set look-ups and one bisection:

* `string` lists: exact membership (case-insensitive);
* `hostname` lists: the host itself or any parent domain is listed
  (`a.b.example.com` matches `example.com`); URLs are judged by their host,
  e-mail addresses by their domain; addresses never by hostname lists;
* `substring` lists: any entry occurs in the value (looked up by entry length,
  so the cost does not grow with the size of the list);
* `regex` lists: the PHP-style `/.../flags` expression matches;
* `cidr` lists: merged, sorted address ranges per IP version; an address is
  listed when a range contains it, a CIDR value when it overlaps a range (a
  rule for the network would also hit the benign addresses).

A list applies to a kind when its `matching_attributes` name one of the MISP
attribute types of that kind, or when it names none.
"""

from __future__ import annotations

import bisect
import logging
import re
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: The MISP attribute types each observable kind stands for.
MISP_TYPES: dict[str, frozenset[str]] = {
    "ipv4": frozenset({"ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip"}),
    "ipv6": frozenset({"ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip"}),
    "cidr": frozenset({"ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip"}),
    "domain": frozenset({"domain", "hostname", "domain|ip", "hostname|port"}),
    "url": frozenset({"url", "uri"}),
    "email": frozenset(
        {"email", "email-src", "email-dst", "target-email", "whois-registrant-email"}
    ),
    "md5": frozenset({"md5", "filename|md5"}),
    "sha1": frozenset({"sha1", "filename|sha1"}),
    "sha256": frozenset({"sha256", "filename|sha256"}),
    "sha512": frozenset({"sha512", "filename|sha512"}),
    "filename": frozenset({"filename"}),
}

_IP_KINDS = frozenset({"ipv4", "ipv6", "cidr"})


@dataclass(slots=True)
class _Ranges:
    """Disjoint, sorted [start, end] integer ranges of one IP version."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    @classmethod
    def merged(cls, ranges: Iterable[tuple[int, int]]) -> _Ranges:
        result = cls()
        for start, end in sorted(ranges):
            if result.ends and start <= result.ends[-1] + 1:
                result.ends[-1] = max(result.ends[-1], end)
            else:
                result.starts.append(start)
                result.ends.append(end)
        return result

    def overlaps(self, start: int, end: int) -> bool:
        # The last range starting at or before `end` is the only candidate.
        position = bisect.bisect_right(self.starts, end) - 1
        return position >= 0 and self.ends[position] >= start


def _php_regex(text: str) -> re.Pattern[str] | None:
    """`/expr/flags` as MISP writes it, compiled for Python (or None if it cannot be)."""
    if len(text) < 2 or not text.startswith("/") or "/" not in text[1:]:
        return None
    body, _, flags = text[1:].rpartition("/")
    options = re.IGNORECASE if "i" in flags else 0
    try:
        return re.compile(body, options)
    except re.error:
        log.warning("warninglist regex %r is not valid in Python; ignored", text)
        return None


def _address_range(value: str) -> tuple[int, int, int] | None:
    """(version, first, last) of a normalised address or CIDR, via inet_pton (fast)."""
    address, _, prefix = value.partition("/")
    family, version, bits = (socket.AF_INET6, 6, 128) if ":" in address else (socket.AF_INET, 4, 32)
    try:
        first = int.from_bytes(socket.inet_pton(family, address), "big")
        length = int(prefix) if prefix else bits
    except (OSError, ValueError):
        return None
    if not 0 <= length <= bits:
        return None
    host_bits = bits - length
    first = first >> host_bits << host_bits
    return version, first, first | ((1 << host_bits) - 1)


def _trie_regex(entries: Iterable[str]) -> re.Pattern[str]:
    """One regular expression matching any entry, factored as a trie.

    A plain alternation retries every entry at every position; the trie shares
    prefixes, so the scan costs about one branch per character of the value.
    """
    trie: dict[str, Any] = {}
    for entry in entries:
        node = trie
        for char in entry:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        if "" in node and len(node) == 1:
            return ""
        branches = [re.escape(char) + pattern(child) for char, child in node.items() if char]
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return re.compile(pattern(trie))


#: Bits of `WarninglistIndex._entries`: a kind's bit for a `string` list, the
#: same bit shifted by `_HOST_SHIFT` for a `hostname` list.
_KIND_BIT: dict[str, int] = {kind: 1 << position for position, kind in enumerate(MISP_TYPES)}
_HOST_SHIFT = 16
_URL_PREFIXES = ("http://", "https://")
_NETLOC_END = re.compile(r"[/?#]")
_NUMERIC = re.compile(r"[0-9.]+")


def _url_host(url: str) -> str:
    """`urlsplit(url).hostname or ""` for a lower-case URL, without urlsplit when it is plain.

    urlsplit costs about 2 µs a URL, a fifth of what `is_listed` spent per URL.
    The fast path takes only what urlsplit reads the same way: an ASCII
    `http(s)://` URL without brackets (IPv6 hosts, which it checks) or the tab
    and line breaks it deletes; anything else goes through urlsplit itself.
    """
    if not url.startswith(_URL_PREFIXES) or not url.isascii():
        return urlsplit(url).hostname or ""
    if "[" in url or "]" in url or "\t" in url or "\n" in url or "\r" in url:
        return urlsplit(url).hostname or ""
    rest = url[url.index("//") + 2 :]
    end = _NETLOC_END.search(rest)
    netloc = rest if end is None else rest[: end.start()]
    return netloc.rpartition("@")[2].partition(":")[0]


def _bits(kinds: Iterable[str]) -> int:
    return sum(_KIND_BIT[kind] for kind in kinds)


class WarninglistIndex:
    """Answers "is this value on a warninglist?" for observable kinds.

    Every `string` and `hostname` entry is one key of a single dict whose value
    says, as bits, which kinds list it exactly and which by hostname: a value
    costs one probe, and one more per parent domain, however many lists there
    are (probing each list's own set cost 9-10 µs a domain with ten sets).
    The `substring` entries of every list that applies to a kind are one trie
    regex for that kind, so one scan of the value.
    """

    def __init__(self, lists: Iterable[dict[str, Any]]) -> None:
        #: entry -> bits: `string` lists' kinds, `hostname` lists' kinds << _HOST_SHIFT.
        self._entries: dict[str, int] = {}
        self._host_bits = 0
        self._patterns: dict[str, list[re.Pattern[str]]] = {kind: [] for kind in MISP_TYPES}
        substrings: dict[str, set[str]] = {kind: set() for kind in MISP_TYPES}
        ranges: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        self.names: list[str] = []
        for warninglist in lists:
            self.names.append(str(warninglist["name"]))
            self._add(warninglist, substrings, ranges)
        #: The kinds some hostname list applies to: the others skip the parent loop.
        self._host_kinds = frozenset(
            kind for kind, bit in _KIND_BIT.items() if self._host_bits & bit << _HOST_SHIFT
        )
        self._substrings: dict[str, re.Pattern[str] | None] = {
            kind: _trie_regex(sorted(found)) if found else None
            for kind, found in substrings.items()
        }
        # A value made of digits and dots (an IPv4 address) can only contain
        # entries made of them too: a few, against thousands of domains, so
        # scanning it costs a fraction of the full trie's 3 µs.
        self._numeric_substrings: dict[str, re.Pattern[str] | None] = {}
        for kind, found in substrings.items():
            numeric = sorted(entry for entry in found if _NUMERIC.fullmatch(entry))
            self._numeric_substrings[kind] = _trie_regex(numeric) if numeric else None
        self._ranges = {version: _Ranges.merged(found) for version, found in ranges.items()}

    def _add(
        self,
        warninglist: dict[str, Any],
        substrings: dict[str, set[str]],
        ranges: dict[int, list[tuple[int, int]]],
    ) -> None:
        list_type = str(warninglist["type"])
        entries = [str(entry).strip() for entry in warninglist["list"]]
        matching = set(warninglist.get("matching_attributes") or ())
        kinds = tuple(
            kind for kind, types in MISP_TYPES.items() if not matching or matching & types
        )
        if not kinds:
            return
        if list_type == "cidr":
            if _IP_KINDS.intersection(kinds):
                for found in map(_address_range, entries):
                    if found is not None:
                        ranges[found[0]].append((found[1], found[2]))
        elif list_type == "regex":
            compiled = [p for p in map(_php_regex, entries) if p is not None]
            for kind in kinds:
                self._patterns[kind].extend(compiled)
        elif list_type == "substring":
            for kind in kinds:
                substrings[kind].update(entry.lower() for entry in entries if entry)
        elif list_type == "string":
            self._add_entries((entry.lower() for entry in entries if entry), _bits(kinds))
        elif list_type == "hostname":
            # Addresses are never judged by hostname lists.
            bits = _bits(kind for kind in kinds if kind not in _IP_KINDS) << _HOST_SHIFT
            self._host_bits |= bits
            self._add_entries(
                (entry.strip(".").lower() for entry in entries if entry.strip(".")), bits
            )

    def _add_entries(self, found: Iterable[str], bits: int) -> None:
        """Adds entries straight into the one dict (no set per list: 100 MB less at peak)."""
        if not bits:
            return
        entries = self._entries
        for entry in found:
            entries[entry] = entries.get(entry, 0) | bits

    def is_listed(self, kind: str, value: str) -> bool:
        """True when `value` (a normalised observable of `kind`) is on a warninglist."""
        bit = _KIND_BIT.get(kind)
        if bit is None:
            return False
        if kind in _IP_KINDS:
            found = _address_range(value)
            if found is not None and self._ranges[found[0]].overlaps(found[1], found[2]):
                return True
        lowered = value.lower()
        if self._entries.get(lowered, 0) & bit:
            return True
        if kind in self._host_kinds and self._host_listed(kind, lowered, bit << _HOST_SHIFT):
            return True
        if _NUMERIC.fullmatch(lowered):
            substrings = self._numeric_substrings[kind]
        else:
            substrings = self._substrings[kind]
        if substrings is not None and substrings.search(lowered):
            return True
        patterns = self._patterns[kind]
        # Only e-mail has regex lists: the others skip building a generator.
        return bool(patterns) and any(pattern.search(value) for pattern in patterns)

    def _host_listed(self, kind: str, value: str, bit: int) -> bool:
        host = value
        if kind == "url":
            host = _url_host(value)
        elif kind == "email":
            host = value.rpartition("@")[2]
        entries = self._entries
        while host:
            if entries.get(host, 0) & bit:
                return True
            host = host.partition(".")[2]
        return False


_default_index: WarninglistIndex | None = None
_default_index_lock = threading.Lock()


def default_index() -> WarninglistIndex:
    """The index of every list `pymispwarninglists` ships, built once per process.

    Loading takes a few seconds (over two million entries), hence the cache;
    even importing the package costs seconds (jsonschema), so it is imported
    here, on first use, not when a CLI command that may never need it starts.
    The lock makes callers that arrive during the build (the app's start-up
    thread, a first match or export) wait for it instead of each building a
    copy: `functools.cache` does not serialise them (seen: ten builds, 100 s
    of CPU, in one test process).
    """
    global _default_index
    with _default_index_lock:
        if _default_index is None:
            from pymispwarninglists.api import WarningLists

            lists = WarningLists(slow_search=False)
            _default_index = WarninglistIndex(wl.warninglist for wl in lists.values())
        return _default_index
