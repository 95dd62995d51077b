"""The in-memory match index: observable values -> the indicators that hold them.

Built for speed and size, not for generality:

* every indexed indicator is a small integer *slot*; per slot the index keeps
  only its primary key (`pks`, in slot order, so pk -> slot is a bisection)
  and the id of its marking (`marking_of`), `DEAD` once the indicator is no
  longer live (one array read per hit: at 10 M indicators each read of a
  random slot is a cache miss, and a separate liveness array cost a second);
* markings (owner, TLP, distribution, group) are interned: a coalition has a
  few hundred distinct ones, so a caller's view asks the access policy
  (`can_read`) once per marking, never once per indicator;
* IP addresses and CIDRs live in one dict per prefix length, keyed by the
  network as an integer: an address is looked up once per prefix length that
  the index holds (usually a handful), which finds the address itself and
  every CIDR containing it;
* domains are looked up label by label from the full name to its parents
  (`a.b.example.com`, `b.example.com`, `example.com`, `com`);
* hashes are keyed by their bytes (half the size of the hex text); URLs,
  e-mail addresses and file names by their normalised text.

A value held by one indicator maps to the bare slot number, a shared value to
a list of slots. Removing an indicator (a new version, a revocation) marks its
slot dead; its keys stay until the next rebuild and are filtered on look-up.

The batch look-ups run in C (`_lookup.c`, built by `pip install`) when it is
built: the Python loops below cost ~1 us a value in interpreter overhead
alone. The compiled index keeps its IPv4, text and hash tables in the
extension's own tables (`U32Table`, `StrTable`: a fraction of a dict's memory
and cache misses); the C loops hand any value they do not handle (non-ASCII,
white space, CIDR text, ...) to the Python loop, which stays the reference:
tests compare a compiled index with a pure-Python one.
"""

from __future__ import annotations

import re
import socket
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

from shieldwall.intel.observables import MAX_VALUE_LENGTH, Observable, detect, normalise
from shieldwall.sharing.policy import Marking, Principal, can_read
from shieldwall.sharing.tlp import TLP, DistKind

if TYPE_CHECKING:
    from shieldwall.match._lookup import StrTable, U32Table

try:
    from shieldwall.match import _lookup as _compiled
except ImportError:  # installed without a C compiler: the Python loops only
    _compiled = None  # type: ignore[assignment]

#: Whether the compiled batch look-ups are available in this installation.
COMPILED = _compiled is not None

Slots = int | list[int]


class IntTable(Protocol):
    """An integer-keyed table of slots: a dict, or the compiled `U32Table` for IPv4."""

    def get(self, key: int, /) -> Slots | None: ...


class TextTable(Protocol):
    """A text-keyed table of slots: a dict, or the compiled `StrTable`."""

    def get(self, key: str, /) -> Slots | None: ...


_HASH_KINDS = frozenset({"md5", "sha1", "sha256", "sha512"})
_TEXT_KINDS = ("domain", "url", "email", "filename")
_IP_BITS = {4: 32, 6: 128}
_FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}
_NO_HITS: tuple[Hit, ...] = ()
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_inet_pton = socket.inet_pton


class Hit(NamedTuple):
    """One indicator value that matched a looked-up observable, and who holds it."""

    kind: str
    value: str
    slots: Slots


#: Builds a Hit without the Python-level `__new__` of named tuples (3x faster).
_hit = partial(tuple.__new__, Hit)

#: One hit of a batch look-up: the position of the value in the batch, then the
#: hit's kind, value and slots (flat: one tuple per hit is all a hit costs).
Found = tuple[int, str, str, Slots]
#: A batch route: looks up every value of one kind and appends to the list.
Batch = Callable[[Sequence[str], list[Found]], None]
#: One value through a Python batch route, its hits appended at `position`.
Slow = Callable[[int, str, list[Any]], None]


def _one_value(batch: Batch) -> Slow:
    """The Python route for the one value a compiled loop hands back."""

    def slow(position: int, raw: str, out: list[Any]) -> None:
        found: list[Found] = []
        batch((raw,), found)
        out.extend((position, *hit[1:]) for hit in found)

    return slow


def _as_list(raws: Sequence[str]) -> list[str]:
    return raws if type(raws) is list else list(raws)


#: The marking id of a slot whose indicator is no longer live: no view reads it.
DEAD = 0

#: The prefix length of the IPv4 networks `MatchIndex._v4_narrow` flags.
_NARROW = 16

#: CIDR texts remembered (bounded: cleared when full).
_CIDR_TEXTS = 65_536

#: More dots than any domain name has: no parent is looked up in an empty index.
_NO_DOMAINS = 1 << 30

# A URL without white space, controls, user info, brackets or escapes, whose
# normal form (`intel.observables`: scheme and host in lower case, "/" for an
# empty path, no fragment) is a few string operations; any other URL goes
# through the full normaliser.
_SIMPLE_URL = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#@\[\]\\\x00-\x20\x7f]+)"
    r"(/[^?#\x00-\x20\x7f]*)?(?:\?([^#\x00-\x20\x7f]*))?(?:#[^\x00-\x20\x7f]*)?",
    re.ASCII,
)


def canonical_url(raw: str) -> str | None:
    """The normal form of a URL, as `normalise("url", raw)` gives it, fast for plain URLs."""
    simple = _SIMPLE_URL.fullmatch(raw) if len(raw) <= MAX_VALUE_LENGTH else None
    if simple is None:
        found = normalise("url", raw)
        return found[1] if found else None
    scheme, host, path, query = simple.groups()
    canonical = f"{scheme.lower()}://{host.lower()}{path or '/'}"
    return f"{canonical}?{query}" if query else canonical


def _canonical_email(raw: str) -> str:
    return raw.strip().lower()


def _same(raw: str) -> str:
    return raw


def _put(table: Any, key: Any, slot: int) -> None:
    """Adds `slot` to the slots of `key`: in a dict here, or by a compiled table's own `put`."""
    if not isinstance(table, dict):
        table.put(key, slot)
        return
    held = table.get(key)
    if held is None:
        table[key] = slot
    elif isinstance(held, int):
        table[key] = [held, slot]
    else:
        held.append(slot)


def _ip_text(version: int, prefix: int, network: int) -> str:
    bits = _IP_BITS[version]
    packed = (network << (bits - prefix)).to_bytes(bits // 8, "big")
    address = socket.inet_ntop(_FAMILY[version], packed)
    return address if prefix == bits else f"{address}/{prefix}"


def _parse_ip(value: str) -> tuple[int, int, int] | None:
    """(version, prefix length, network as an integer) of a normalised address or CIDR."""
    address, _, prefix = value.partition("/")
    version = 6 if ":" in address else 4
    bits = _IP_BITS[version]
    try:
        number = int.from_bytes(socket.inet_pton(_FAMILY[version], address), "big")
        length = int(prefix) if prefix else bits
    except (OSError, ValueError):
        return None
    if not 0 <= length <= bits:
        return None
    return version, length, number >> (bits - length)


class MatchIndex:
    """Observable values of live indicators, and the marking of each indicator."""

    def __init__(self, *, compiled: bool = True) -> None:
        """`compiled=False` keeps to the Python loops (the reference the tests compare with)."""
        # version -> prefix length -> network integer -> slots
        # (IPv4 tables are `_lookup.U32Table`s when compiled: a tenth of a dict's memory.)
        self._nets: dict[int, dict[int, IntTable]] = {4: {}, 6: {}}
        # The prefix lengths present, longest first (the order hits are reported in).
        self._prefixes: dict[int, list[int]] = {4: [], 6: []}
        # Per IPv4 /16: does an indexed CIDR of /16 to /31 lie in it? Most
        # addresses are in none, and skip those tables' probes for one byte read.
        self._v4_narrow = bytearray(1 << 16)
        #: Whether look-ups and views run the compiled loops.
        self.compiled = compiled and COMPILED
        # (`_lookup.StrTable`s when compiled: no str built per probe, a third of the memory.)
        self._text: dict[str, TextTable] = {
            kind: _compiled.StrTable() if self.compiled else {} for kind in _TEXT_KINDS
        }
        # Hashes by their bytes in dicts (half the size of the text); compiled,
        # by their lower-case hex text in `StrTable`s (no bytes object per probe).
        self._hashes: dict[str, dict[bytes, Slots] | StrTable] = {
            kind: _compiled.StrTable() if self.compiled else {} for kind in _HASH_KINDS
        }
        self.pks = array("q")
        self.marking_of = array("H")
        # Marking ids index this list; id 0 (`DEAD`) is no marking.
        self.markings: list[Marking | None] = [None]
        self._marking_ids: dict[Marking, int] = {}
        self.live = 0
        # The fewest dots of an indexed domain name (its shortest parent worth a look-up).
        self._fewest_dots = _NO_DOMAINS
        self._cidr_texts: dict[int, str] = {}
        self._batches: dict[str, Batch] = {
            "ipv4": self._ipv4_many,
            "ipv6": self._ipv6_many,
            "cidr": self._ip_many,
            "domain": self._domain_many,
            "url": self._exact_many("url", canonical_url),
            "email": self._exact_many("email", _canonical_email),
            "filename": self._exact_many("filename", _same),
            **{kind: self._hash_many(kind) for kind in _HASH_KINDS},
        }
        # Normalised values need no more work, and URLs none at all.
        self._normalised_batches = {**self._batches, "url": self._exact_many("url", _same)}
        if self.compiled:
            self._use_compiled()

    def _use_compiled(self) -> None:
        """Routes each kind to its C loop, with the Python route for the values it hands back."""
        python = self._batches
        slow = {kind: _one_value(batch) for kind, batch in python.items()}
        text, hashes = self._text, self._hashes
        self._batches = {
            **python,
            "ipv4": partial(self._compiled_ipv4, slow=slow["ipv4"]),
            "ipv6": partial(self._compiled_ipv6, slow=slow["ipv6"]),
            "domain": partial(self._compiled_domain, slow=slow["domain"]),
            "url": _compiled_route(
                _compiled.url_many, text["url"], "url", MAX_VALUE_LENGTH, slow["url"]
            ),
            "email": _compiled_route(_compiled.email_many, text["email"], "email", slow["email"]),
            "filename": _compiled_route(_compiled.exact_many, text["filename"], "filename"),
            **{
                kind: _compiled_route(_compiled.hash_many, hashes[kind], kind, slow[kind])
                for kind in _HASH_KINDS
            },
        }
        self._normalised_batches = {
            **self._batches,
            "url": _compiled_route(_compiled.exact_many, text["url"], "url"),
        }

    def _compiled_ipv4(self, raws: Sequence[str], out: list[Found], *, slow: Slow) -> None:
        nets, prefixes = self._nets[4], self._prefixes[4]
        _compiled.ipv4_many(
            _as_list(raws),
            out,
            cast("U32Table | None", nets.get(32)),
            self._v4_narrow,
            [(prefix, 32 - prefix, nets[prefix]) for prefix in prefixes if _NARROW <= prefix < 32],
            [(prefix, 32 - prefix, nets[prefix]) for prefix in prefixes if prefix < _NARROW],
            slow,
        )

    def _compiled_ipv6(self, raws: Sequence[str], out: list[Found], *, slow: Slow) -> None:
        nets = self._nets[6]
        tables = [(prefix, 128 - prefix, nets[prefix]) for prefix in self._prefixes[6]]
        _compiled.ipv6_many(_as_list(raws), out, tables, slow)

    def _compiled_domain(self, raws: Sequence[str], out: list[Found], *, slow: Slow) -> None:
        table = cast("StrTable", self._text["domain"])
        _compiled.domain_many(_as_list(raws), out, table, self._fewest_dots, slow)

    # ------------------------------------------------------------------ building

    @property
    def high_pk(self) -> int:
        """The largest primary key indexed so far (0 when empty)."""
        return self.pks[-1] if self.pks else 0

    def _marking_id(self, marking: Marking) -> int:
        found = self._marking_ids.get(marking)
        if found is None:
            found = len(self.markings)
            self.markings.append(marking)
            self._marking_ids[marking] = found
        return found

    def add(self, pk: int, marking: Marking, found: Iterable[Observable]) -> int:
        """Indexes one indicator; primary keys must arrive in increasing order."""
        if pk <= self.high_pk:
            raise ValueError(f"primary key {pk} is not above {self.high_pk}")
        slot = len(self.pks)
        # The marking first: should it fail, the arrays keep one length.
        self.marking_of.append(self._marking_id(marking))
        self.pks.append(pk)
        self.live += 1
        for kind, value in found:
            self._add_value(kind, value, slot)
        return slot

    def _add_value(self, kind: str, value: str, slot: int) -> None:
        if kind in ("ipv4", "ipv6", "cidr"):
            parsed = _parse_ip(value)
            if parsed is None:
                return
            version, prefix, network = parsed
            by_prefix = self._nets[version]
            if prefix not in by_prefix:
                by_prefix[prefix] = _compiled.U32Table() if version == 4 and self.compiled else {}
                self._prefixes[version] = sorted(by_prefix, reverse=True)
            _put(by_prefix[prefix], network, slot)
            if version == 4 and _NARROW <= prefix < 32:
                self._v4_narrow[network >> (prefix - _NARROW)] = 1
        elif kind in _HASH_KINDS:
            digest = bytes.fromhex(value)
            hashes = self._hashes[kind]
            _put(hashes, digest if isinstance(hashes, dict) else digest.hex(), slot)
        elif kind in self._text:
            _put(self._text[kind], value, slot)
            if kind == "domain":
                self._fewest_dots = min(self._fewest_dots, value.count("."))

    def remove(self, pk: int) -> bool:
        """Marks the indicator with this primary key dead; False if it was not live."""
        slot = bisect_left(self.pks, pk)
        if slot == len(self.pks) or self.pks[slot] != pk or self.marking_of[slot] == DEAD:
            return False
        self.marking_of[slot] = DEAD
        self.live -= 1
        return True

    # ------------------------------------------------------------------ looking up

    def lookup(self, kind: str, raw: str) -> Sequence[Hit]:
        """Indicator values matching one observable of a known kind (raw or normalised).

        A value that is not valid for its kind simply finds nothing.
        """
        found = self.lookup_many(kind, (raw,))
        return [_hit(hit[1:]) for hit in found] if found else _NO_HITS

    def lookup_many(
        self, kind: str, raws: Sequence[str], *, normalised: bool = False
    ) -> list[Found]:
        """`(position, kind, value, slots)` of every hit of each of `raws`, all of one kind.

        The hot path of matching: one loop per kind over the whole batch, with
        its tables in local variables, one tuple per hit and no allocation
        for a value that misses (most of them). Hits come in input order.
        `normalised` says the values are already in normal form
        (`intel.observables.normalise`).
        """
        out: list[Found] = []
        batch = (self._normalised_batches if normalised else self._batches).get(kind)
        if batch is not None:
            batch(raws, out)
            return out
        for position, raw in enumerate(raws):
            found = normalise(kind, raw)
            if found:
                out.extend((position, *hit) for hit in self.lookup_normalised(found))
        return out

    def lookup_untyped(self, raw: str) -> tuple[Observable | None, Sequence[Hit]]:
        """Detects the kind of a value, then looks it up."""
        found = detect(raw)
        return found, (self.lookup_normalised(found) if found else _NO_HITS)

    def lookup_normalised(self, found: Observable) -> Sequence[Hit]:
        kind, value = found
        hits = self.lookup_many(kind, (value,), normalised=True)
        return [_hit(hit[1:]) for hit in hits] if hits else _NO_HITS

    def _cidr_text(self, version: int, prefix: int, network: int) -> str:
        """The text of a CIDR that hit; remembered, as hits cluster on few networks."""
        key = (network << 8 | prefix) << 1 | (version == 6)
        text = self._cidr_texts.get(key)
        if text is None:
            if len(self._cidr_texts) >= _CIDR_TEXTS:
                self._cidr_texts.clear()
            text = self._cidr_texts[key] = _ip_text(version, prefix, network)
        return text

    def _ipv4_many(self, raws: Sequence[str], out: list[Found]) -> None:
        nets = self._nets[4]
        exact = nets[32].get if 32 in nets else None
        # CIDRs of /16 to /31 are probed only for addresses in a /16 flagged as
        # holding one (measured: the probe of a table of 830,000 /24s at 10 M
        # indicators costs a cache miss or two; the flag is one byte of 64 KiB).
        narrow = [
            (prefix, 32 - prefix, nets[prefix].get)
            for prefix in self._prefixes[4]
            if _NARROW <= prefix < 32
        ]
        flagged = self._v4_narrow
        wide = [
            (prefix, 32 - prefix, nets[prefix].get)
            for prefix in self._prefixes[4]
            if prefix < _NARROW
        ]
        pton, to_int, family = _inet_pton, int.from_bytes, _AF_INET
        for position, raw in enumerate(raws):
            try:
                number = to_int(pton(family, raw), "big")
            except (OSError, ValueError):  # ValueError: a NUL in the text
                # White space around it, a CIDR, or not an address at all.
                text = raw.strip()
                if text and text != raw:
                    stripped: list[Found] = []
                    self._ipv4_many((text,), stripped)
                    out.extend((position, *hit[1:]) for hit in stripped)
                elif "/" in text:
                    out.extend((position, *hit) for hit in self._ip(text))
                continue
            if exact is not None:
                slots = exact(number)
                if slots is not None:
                    out.append((position, "ipv4", raw, slots))
            if narrow and flagged[number >> 16]:
                for prefix, shift, probe in narrow:
                    slots = probe(number >> shift)
                    if slots is not None:
                        text = self._cidr_text(4, prefix, number >> shift)
                        out.append((position, "cidr", text, slots))
            for prefix, shift, probe in wide:
                slots = probe(number >> shift)
                if slots is not None:
                    text = self._cidr_text(4, prefix, number >> shift)
                    out.append((position, "cidr", text, slots))

    def _ipv6_many(self, raws: Sequence[str], out: list[Found]) -> None:
        nets = self._nets[6]
        tables = [(prefix, 128 - prefix, nets[prefix]) for prefix in self._prefixes[6]]
        pton, to_int, family = _inet_pton, int.from_bytes, _AF_INET6
        for position, raw in enumerate(raws):
            try:
                number = to_int(pton(family, raw), "big")
            except (OSError, ValueError):  # white space, a CIDR, IPv4, a NUL, or nothing
                out.extend((position, *hit) for hit in self._ip(raw.strip()))
                continue
            for prefix, shift, table in tables:
                slots = table.get(number >> shift)
                if slots is not None:
                    if shift:
                        text = self._cidr_text(6, prefix, number >> shift)
                        out.append((position, "cidr", text, slots))
                    else:
                        out.append((position, "ipv6", _ip_text(6, 128, number), slots))

    def _ip_many(self, raws: Sequence[str], out: list[Found]) -> None:
        for position, raw in enumerate(raws):
            for hit in self._ip(raw.strip()):
                out.append((position, *hit))

    def _domain_many(self, raws: Sequence[str], out: list[Found]) -> None:
        get = self._text["domain"].get
        # Parents with fewer dots than any indexed name are not looked up (usually the TLD).
        fewest_dots = self._fewest_dots
        for position, raw in enumerate(raws):
            name = raw.strip().rstrip(".")
            if name.isascii():
                name = name.lower()
            else:
                normalised = normalise("domain", raw)
                if normalised is None:
                    continue
                name = normalised[1]
            if not name:
                continue
            slots = get(name)
            if slots is not None:
                out.append((position, "domain", name, slots))
            dots = name.count(".")
            dot = name.find(".")
            while dots > fewest_dots:
                dots -= 1
                parent = name[dot + 1 :]
                slots = get(parent)
                if slots is not None:
                    out.append((position, "domain", parent, slots))
                dot = name.find(".", dot + 1)

    def _hash_many(self, kind: str) -> Batch:
        hashes = self._hashes[kind]
        get: Callable[[bytes], Slots | None] = (
            hashes.get if isinstance(hashes, dict) else lambda digest: hashes.get(digest.hex())
        )

        def lookup_hashes(raws: Sequence[str], out: list[Found]) -> None:
            from_hex = bytes.fromhex
            for position, raw in enumerate(raws):
                try:
                    slots = get(from_hex(raw))
                except ValueError:
                    continue
                if slots is not None:
                    out.append((position, kind, raw.strip().lower(), slots))

        return lookup_hashes

    def _exact_many(self, kind: str, canonical: Callable[[str], str | None]) -> Batch:
        get = self._text[kind].get

        def lookup_exact(raws: Sequence[str], out: list[Found]) -> None:
            for position, raw in enumerate(raws):
                value = canonical(raw)
                if value is not None:
                    slots = get(value)
                    if slots is not None:
                        out.append((position, kind, value, slots))

        return lookup_exact

    def _ip(self, value: str) -> Sequence[Hit]:
        parsed = _parse_ip(value)
        if parsed is None:
            return _NO_HITS
        version, length, network = parsed
        nets = self._nets[version]
        hits: list[Hit] | None = None
        for prefix in self._prefixes[version]:
            if prefix > length:
                continue  # narrower than the value: contained in it, not containing it
            key = network >> (length - prefix)
            slots = nets[prefix].get(key)
            if slots is not None:
                hits = hits or []
                if prefix < _IP_BITS[version]:
                    hits.append(_hit(("cidr", self._cidr_text(version, prefix, key), slots)))
                else:
                    hits.append(_hit((f"ipv{version}", _ip_text(version, prefix, key), slots)))
        return hits or _NO_HITS


def _compiled_route(function: Callable[..., None], *tail: Any) -> Batch:
    """A batch route calling `function(raws, out, *tail)` (the tables in `tail` never change)."""

    def route(raws: Sequence[str], out: list[Found]) -> None:
        function(_as_list(raws), out, *tail)

    return route


class View:
    """One caller's view of an index: which slots the access policy lets it see.

    The policy is asked once per distinct marking (and again for markings
    added since), so filtering a hit costs two array reads.
    """

    def __init__(self, index: MatchIndex, principal: Principal, *, anonymous_public: bool) -> None:
        self.index = index
        self.principal = principal
        self.anonymous_public = anonymous_public
        self._readable = bytearray()
        self._learn_markings()

    def _learn_markings(self) -> None:
        for marking in self.index.markings[len(self._readable) :]:
            allowed = marking is not None and can_read(
                self.principal, marking, anonymous_public=self.anonymous_public
            )
            self._readable.append(1 if allowed else 0)

    def sees(self, slot: int) -> bool:
        marking = self.index.marking_of[slot]
        if marking >= len(self._readable):
            self._learn_markings()
        return bool(self._readable[marking])

    def visible(self, slots: Slots) -> list[int]:
        marking_of, readable = self.index.marking_of, self._readable
        try:
            if isinstance(slots, int):
                return [slots] if readable[marking_of[slots]] else []
            return [slot for slot in slots if readable[marking_of[slot]]]
        except IndexError:  # a marking first indexed after this view was made
            self._learn_markings()
            return self.visible(slots)

    def lookup_many(
        self, kind: str, raws: Sequence[str], *, normalised: bool = False
    ) -> list[Found]:
        """`MatchIndex.lookup_many` with only the slots this caller sees (empty hits dropped)."""
        found = self.index.lookup_many(kind, raws, normalised=normalised)
        if not found:
            return []
        self._learn_markings()
        try:
            return self._filter(found)
        except IndexError:  # a marking indexed (by another thread) since the line above
            self._learn_markings()
            return self._filter(found)

    def _filter(self, found: list[Found]) -> list[Found]:
        if self.index.compiled:
            return _compiled.visible_hits(found, self.index.marking_of, self._readable)
        marking_of, readable = self.index.marking_of, self._readable
        seen = []
        for hit in found:
            slots = hit[3]
            if isinstance(slots, int):
                if readable[marking_of[slots]]:
                    seen.append(hit)  # the common case: the index's own tuple
                continue
            shown = [slot for slot in slots if readable[marking_of[slot]]]
            if shown:
                seen.append((hit[0], hit[1], hit[2], shown))
        return seen


def marking(owner_org_id: int, tlp: int, dist: int, group_id: int | None) -> Marking:
    return Marking(owner_org_id, TLP(tlp), DistKind(dist), group_id)
