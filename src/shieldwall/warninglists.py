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

`is_listed` answers for one value and is the reference. The exports judge a
chunk of values at a time with `unlisted` / `listed_many`, which give the same
answers at a fraction of the cost (a fifth for addresses and hashes, a third
for domains, a half for URLs, measured on the bench's values): each rule runs over
all values of a kind at once, mostly in C (set intersections, inet_pton over
the batch, one Aho-Corasick scan of the values joined for the substrings).
"""

from __future__ import annotations

import bisect
import logging
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import accumulate, chain, compress
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ahocorasick

log = logging.getLogger(__name__)

_Row = TypeVar("_Row", bound=Sequence[Any])

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
#: The batch range test's blocks: 2**20 per IP version (1 MiB each), by the top 20 bits.
_BLOCKS = 1 << 20
_BLOCK_SHIFT = {4: 32 - 20, 6: 128 - 20}
#: The characters of addresses (lower case).
_ADDRESS_CHARS = re.compile(r"[0-9a-f.:]+")
#: The kinds whose host is read out of the value (any other kind's host is the value).
_HOST_PARSED = frozenset({"url", "email"})


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

    def blocks(self, shift: int) -> bytes:
        """Per block of addresses (`address >> shift`, 2**20 blocks), 1 where a range touches it."""
        touched = bytearray(_BLOCKS)
        for start, end in zip(self.starts, self.ends, strict=True):
            first, last = start >> shift, end >> shift
            touched[first : last + 1] = b"\x01" * (last + 1 - first)
        return bytes(touched)

    def bounds(self) -> list[int]:
        """Every range's start and end + 1, in one sorted list.

        An address is in a range when an odd number of bounds are at or below
        it: one bisection and no second list to read. The list is strictly
        increasing because merged ranges neither overlap nor touch.
        """
        pairs = zip(self.starts, self.ends, strict=True)
        return [bound for start, end in pairs for bound in (start, end + 1)]


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


def _automaton(entries: Iterable[str]) -> Any | None:
    """An Aho-Corasick automaton (pyahocorasick) finding every entry in one pass over a text.

    The batch path's any-substring test: about 15 ns a character in C, where
    the trie regex costs about 100 ns a character (2-3 µs a domain). None
    when there is no entry (an empty automaton cannot search).
    """
    automaton = ahocorasick.Automaton()
    for entry in entries:
        automaton.add_word(entry, len(entry))
    if not len(automaton):
        return None
    automaton.make_automaton()
    return automaton


def _separator(entries: Iterable[str]) -> str:
    """A character in no entry: values joined by it can hold no match across two of them."""
    used = set("".join(entries))
    return next(char for char in chain("\n", map(chr, range(0x110000))) if char not in used)


def _hits(found: Iterable[int], lengths: Iterable[int]) -> set[int]:
    """The indexes of the values that the text positions `found` fall in.

    The values were joined by a one-character separator; `found` are positions
    of characters of matches (never of a separator).
    """
    # ends[i]: where value i + 1 starts, one past value i's separator.
    ends = list(accumulate(length + 1 for length in lengths))
    return {bisect.bisect_right(ends, position) for position in found}


#: Bits of `WarninglistIndex._entries`: a kind's bit for a `string` list, the
#: same bit shifted by `_HOST_SHIFT` for a `hostname` list.
_KIND_BIT: dict[str, int] = {kind: 1 << position for position, kind in enumerate(MISP_TYPES)}
_HOST_SHIFT = 16
#: A kind's exact entries get a set of their own when at most this fraction of all entries.
_SMALL_SHARE = 4
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


#: `_url_host`'s fast path as one match: the netloc after its last `@`, up to a port.
_URL_HOST = re.compile(r"https?://(?:[^/?#]*@)?([^/?#:]*)")


def _url_hosts(urls: list[str]) -> list[str]:
    """`_url_host` of each lower-case URL, in a third of the time.

    The characters that send a URL to urlsplit are looked for once in the
    whole batch; when there are none, a URL that starts with `http(s)://`
    is one regex match, and any other goes through `_url_host`.
    """
    text = "".join(urls)
    if not text.isascii() or any(char in text for char in "[]\t\n\r"):
        return list(map(_url_host, urls))
    match = _URL_HOST.match
    return [found[1] if (found := match(url)) else _url_host(url) for url in urls]


def _parents(hosts: list[str], owners: list[int]) -> tuple[list[str], list[int]]:
    """Each host less its first label, and whose it is (`owners`, aligned with `hosts`).

    Hosts out of labels leave the level ("" is never an entry) once they are
    half of it: one long host must not make every pass long, nor must
    compacting cost a pass per level.
    """
    parents = [host.partition(".")[2] for host in hosts]
    if parents.count("") * 2 < len(parents):
        return parents, owners
    kept = list(map(bool, parents))
    return list(compress(parents, kept)), list(compress(owners, kept))


def _originals(
    values: Sequence[str], lowered: list[str], found: set[str] | frozenset[str]
) -> set[str]:
    """The values whose lower case is in `found`."""
    if not found:
        return set()
    return {value for value, low in zip(values, lowered, strict=True) if low in found}


def _bits(kinds: Iterable[str]) -> int:
    return sum(_KIND_BIT[kind] for kind in kinds)


def _plain_addresses(version: int, values: Sequence[str]) -> list[int] | None:
    """The values as ints when every one is a plain address of `version`, else None.

    Plain as `_address_range` reads them; anything else (a prefix, the other
    version, not an address) makes the caller read the batch value by value.
    """
    family = socket.AF_INET6 if version == 6 else socket.AF_INET
    try:
        return list(map(int.from_bytes, map(partial(socket.inet_pton, family), values)))
    except (OSError, ValueError):
        return None


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
        self._init_batch(substrings)

    def _init_batch(self, substrings: dict[str, set[str]]) -> None:
        """What `listed_many` reads: range bounds, exact sets, an automaton per substring set."""
        self._bounds = {version: found.bounds() for version, found in self._ranges.items()}
        self._blocks = {
            version: found.blocks(_BLOCK_SHIFT[version]) for version, found in self._ranges.items()
        }
        self._exact_sets = self._small_exact_sets()
        # Entries written in the characters of addresses (in the real lists,
        # one IPv4 address) stay with a trie regex, which scans a joined text
        # several times faster than the automaton does when they are a handful;
        # a batch of addresses then needs no automaton scan at all.
        built: dict[frozenset[str], Any | None] = {}
        self._automata: dict[str, Any | None] = {}
        self._address_like: dict[str, re.Pattern[str] | None] = {}
        for kind, found in substrings.items():
            like = sorted(entry for entry in found if _ADDRESS_CHARS.fullmatch(entry))
            self._address_like[kind] = _trie_regex(like) if like else None
            key = frozenset(found.difference(like))
            if key not in built:
                built[key] = _automaton(sorted(key))
            self._automata[kind] = built[key]
        self._separator = _separator(set().union(*substrings.values()))
        #: Addresses joined: no automaton entry can occur in such a text.
        self._address_text = re.compile(f"[0-9a-f.:{re.escape(self._separator)}]*")

    def _small_exact_sets(self) -> dict[str, frozenset[str] | None]:
        """Per kind, its `string` entries as a set of their own, when they are few.

        A probe of the dict of every entry (two million: mostly cache misses)
        costs several times a probe of a set of a few hundred thousand; kinds
        whose entries are a large part of the dict (domains) keep probing it
        (None). Kinds that list the same entries share one set.
        """
        entries = self._entries
        patterns = Counter(entries.values())
        sets: dict[str, frozenset[str] | None] = {}
        built: dict[frozenset[int], frozenset[str]] = {}
        for kind, bit in _KIND_BIT.items():
            having = frozenset(bits for bits in patterns if bits & bit)
            if sum(patterns[bits] for bits in having) * _SMALL_SHARE > len(entries):
                sets[kind] = None
                continue
            if having not in built:
                built[having] = frozenset(compress(entries, map(bit.__and__, entries.values())))
            sets[kind] = built[having]
        return sets

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

    # ------------------------------------------------------------------ batches

    def unlisted(self, rows: Sequence[_Row], kind_at: int, value_at: int) -> list[_Row]:
        """The `rows` whose value (`row[value_at]`, of kind `row[kind_at]`) is on no list.

        The same rows, in the same order, as testing each with `is_listed`; the
        values are tested kind by kind with `listed_many`.
        """
        by_kind: dict[str, list[str]] = {}
        for row in rows:
            kind = row[kind_at]
            if kind in by_kind:
                by_kind[kind].append(row[value_at])
            else:
                by_kind[kind] = [row[value_at]]
        listed = {kind: self.listed_many(kind, values) for kind, values in by_kind.items()}
        anywhere: set[str] = set().union(*listed.values())
        if not anywhere:
            return list(rows)
        # A value listed as one kind may be unlisted as another: the kind is
        # read only for the few rows whose value is listed as some kind.
        return [
            row
            for row in rows
            if row[value_at] not in anywhere or row[value_at] not in listed[row[kind_at]]
        ]

    def listed_many(self, kind: str, values: Sequence[str]) -> set[str]:
        """The `values` of `kind` that `is_listed` answers True for, tested together.

        Each test runs over the whole batch at C speed where it can (dict-key
        intersections, map over inet_pton, one automaton scan of the values
        joined). `is_listed` stays the reference; tests/test_warninglists_batch.py
        checks that both agree.
        """
        bit = _KIND_BIT.get(kind)
        if bit is None or not values:
            return set()
        lowered = list(map(str.lower, values))
        host_bit = bit << _HOST_SHIFT if kind in self._host_kinds else 0
        exact = self._exact_sets[kind]
        # A host that is the value itself (not a URL's or an address's) is
        # probed once for both its exact and its hostname entries.
        shared = exact is None and bool(host_bit) and kind not in _HOST_PARSED
        if exact is not None:
            listed = _originals(values, lowered, exact.intersection(lowered))
        else:
            listed = self._probed(values, lowered, bit | host_bit if shared else bit)
        if kind in _IP_KINDS:
            listed |= self._in_ranges_many(kind, values)
        if host_bit:
            listed |= self._hosts_many(kind, values, lowered, host_bit, parents_only=shared)
        listed |= self._substrings_many(kind, values, lowered)
        patterns = self._patterns[kind]
        if patterns:
            listed.update(value for value in values if any(p.search(value) for p in patterns))
        return listed

    def _probed(self, values: Sequence[str], lowered: list[str], bits: int) -> set[str]:
        """Values whose lower case is an entry with any of `bits`: one probe each."""
        entries = self._entries
        found = {entry for entry in entries.keys() & lowered if entries[entry] & bits}
        return _originals(values, lowered, found)

    def _in_ranges_many(self, kind: str, values: Sequence[str]) -> set[str]:
        if kind != "cidr":
            version = 6 if kind == "ipv6" else 4
            addresses = _plain_addresses(version, values)
            if addresses is not None:
                return self._in_blocks(version, values, addresses)
        ranges = self._ranges
        return {
            value
            for value in values
            if (found := _address_range(value)) is not None
            and ranges[found[0]].overlaps(found[1], found[2])
        }

    def _in_blocks(self, version: int, values: Sequence[str], addresses: list[int]) -> set[str]:
        """The values whose address (as an int) is in a range.

        Most addresses are in a block that no range touches: one byte read
        each tells, and only the others are bisected (a bisection in 160 000
        bounds, mostly cache misses, cost 0.4 µs an address).
        """
        touched = map(
            self._blocks[version].__getitem__, map(_BLOCK_SHIFT[version].__rrshift__, addresses)
        )
        candidates = compress(zip(values, addresses, strict=True), touched)
        bounds = self._bounds[version]
        return {value for value, address in candidates if bisect.bisect_right(bounds, address) & 1}

    def _hosts_many(
        self,
        kind: str,
        values: Sequence[str],
        lowered: list[str],
        bit: int,
        *,
        parents_only: bool,
    ) -> set[str]:
        """Values whose host or a parent domain of it is on a hostname list, a level at a time.

        Level n holds each host less its first n labels; each level is one
        intersection with the entries (the dict probes, mostly cache misses,
        are the cost: about 0.15 µs a label). `parents_only`: the hosts
        themselves were probed already.
        """
        if kind == "url":
            hosts = _url_hosts(lowered)
        elif kind == "email":
            hosts = [low.rpartition("@")[2] for low in lowered]
        else:
            hosts = lowered
        entries, listed = self._entries, set[str]()
        level, owners = hosts, list(range(len(hosts)))
        if parents_only:
            level, owners = _parents(level, owners)
        while level:
            found = {host for host in entries.keys() & level if entries[host] & bit}
            if found:
                listed.update(
                    values[i] for i, host in zip(owners, level, strict=True) if host in found
                )
            level, owners = _parents(level, owners)
        return listed

    def _substrings_many(self, kind: str, values: Sequence[str], lowered: list[str]) -> set[str]:
        like, automaton = self._address_like[kind], self._automata[kind]
        if like is None and automaton is None:
            return set()
        text = self._separator.join(lowered)
        found: list[int] = []
        if like is not None:
            # These entries may occur in any value, an address or not.
            found.extend(match.start() for match in like.finditer(text))
        if automaton is not None and not self._address_text.fullmatch(text):
            # The others never occur in a text of address characters.
            found.extend(end for end, _ in automaton.iter(text))
        if not found:
            return set()
        return {values[i] for i in _hits(found, map(len, lowered))}


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
