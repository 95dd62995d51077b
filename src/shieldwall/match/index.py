"""The in-memory match index: observable values -> the indicators that hold them.

Built for speed and size, not for generality:

* every indexed indicator is a small integer *slot*; per slot the index keeps
  only its primary key (`pks`, in slot order, so pk -> slot is a bisection),
  the id of its marking (`marking_of`) and whether it is still live;
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
"""

from __future__ import annotations

import socket
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, NamedTuple

from shieldwall.intel.observables import Observable, detect, normalise
from shieldwall.sharing.policy import Marking, Principal, can_read
from shieldwall.sharing.tlp import TLP, DistKind

Slots = int | list[int]

_HASH_KINDS = frozenset({"md5", "sha1", "sha256", "sha512"})
_TEXT_KINDS = ("domain", "url", "email", "filename")
_IP_BITS = {4: 32, 6: 128}
_FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}
_NO_HITS: tuple[Hit, ...] = ()
_AF_INET = socket.AF_INET
_inet_pton = socket.inet_pton


class Hit(NamedTuple):
    """One indicator value that matched a looked-up observable, and who holds it."""

    kind: str
    value: str
    slots: Slots


#: Builds a Hit without the Python-level `__new__` of named tuples (3x faster).
_hit = partial(tuple.__new__, Hit)


def _put(table: dict[Any, Slots], key: Any, slot: int) -> None:
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

    def __init__(self) -> None:
        # version -> prefix length -> network integer -> slots
        self._nets: dict[int, dict[int, dict[int, Slots]]] = {4: {}, 6: {}}
        # The prefix lengths present, longest first (the order hits are reported in).
        self._prefixes: dict[int, list[int]] = {4: [], 6: []}
        self._text: dict[str, dict[str, Slots]] = {kind: {} for kind in _TEXT_KINDS}
        self._hashes: dict[str, dict[bytes, Slots]] = {kind: {} for kind in _HASH_KINDS}
        self.pks = array("q")
        self.marking_of = array("H")
        self.alive = bytearray()
        self.markings: list[Marking] = []
        self._marking_ids: dict[Marking, int] = {}
        self.live = 0
        self._routes: dict[str, Callable[[str], Sequence[Hit]]] = {
            "ipv4": self._ipv4,
            "ipv6": lambda raw: self._ip(raw.strip()),
            "cidr": lambda raw: self._ip(raw.strip()),
            "domain": self._domain_raw,
            "email": lambda raw: self._exact("email", raw.strip().lower()),
            "filename": lambda raw: self._exact("filename", raw),
            **{kind: self._hash_raw(kind) for kind in _HASH_KINDS},
        }

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
        self.pks.append(pk)
        self.marking_of.append(self._marking_id(marking))
        self.alive.append(1)
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
                by_prefix[prefix] = {}
                self._prefixes[version] = sorted(by_prefix, reverse=True)
            _put(by_prefix[prefix], network, slot)
        elif kind in _HASH_KINDS:
            _put(self._hashes[kind], bytes.fromhex(value), slot)
        elif kind in self._text:
            _put(self._text[kind], value, slot)

    def remove(self, pk: int) -> bool:
        """Marks the indicator with this primary key dead; False if it was not live."""
        slot = bisect_left(self.pks, pk)
        if slot == len(self.pks) or self.pks[slot] != pk or not self.alive[slot]:
            return False
        self.alive[slot] = 0
        self.live -= 1
        return True

    # ------------------------------------------------------------------ looking up

    def lookup(self, kind: str, raw: str) -> Sequence[Hit]:
        """Indicator values matching one observable of a known kind (raw or normalised).

        The hot path of matching: each kind has its own short route, and a
        value that is not valid for its kind simply finds nothing.
        """
        route = self._routes.get(kind)
        if route is not None:
            return route(raw)
        found = normalise(kind, raw)
        return self.lookup_normalised(found) if found else _NO_HITS

    def _ipv4(self, raw: str) -> Sequence[Hit]:
        text = raw.strip()
        try:
            number = int.from_bytes(_inet_pton(_AF_INET, text), "big")
        except OSError:
            return self._ip(text) if "/" in text else _NO_HITS
        nets = self._nets[4]
        hits: list[Hit] | None = None
        for prefix in self._prefixes[4]:
            key = number >> (32 - prefix)
            slots = nets[prefix].get(key)
            if slots is not None:
                hits = hits or []
                if prefix == 32:
                    hits.append(_hit(("ipv4", text, slots)))
                else:
                    hits.append(_hit(("cidr", _ip_text(4, prefix, key), slots)))
        return hits or _NO_HITS

    def _domain_raw(self, raw: str) -> Sequence[Hit]:
        text = raw.strip().rstrip(".")
        if text.isascii():
            return self._domain(text.lower())
        found = normalise("domain", raw)
        return self._domain(found[1]) if found else _NO_HITS

    def _hash_raw(self, kind: str) -> Callable[[str], Sequence[Hit]]:
        table = self._hashes[kind]

        def lookup_hash(raw: str) -> Sequence[Hit]:
            try:
                slots = table.get(bytes.fromhex(raw))
            except ValueError:
                return _NO_HITS
            return _NO_HITS if slots is None else [_hit((kind, raw.strip().lower(), slots))]

        return lookup_hash

    def lookup_untyped(self, raw: str) -> tuple[Observable | None, Sequence[Hit]]:
        """Detects the kind of a value, then looks it up."""
        found = detect(raw)
        return found, (self.lookup_normalised(found) if found else _NO_HITS)

    def lookup_normalised(self, found: Observable) -> Sequence[Hit]:
        kind, value = found
        if kind in ("ipv4", "ipv6", "cidr"):
            return self._ip(value)
        if kind in _HASH_KINDS:
            return self._hash(kind, value)
        if kind == "domain":
            return self._domain(value)
        return self._exact(kind, value)

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
                kind = "cidr" if prefix < _IP_BITS[version] else f"ipv{version}"
                hits.append(_hit((kind, _ip_text(version, prefix, key), slots)))
        return hits or _NO_HITS

    def _hash(self, kind: str, value: str) -> Sequence[Hit]:
        try:
            key = bytes.fromhex(value)
        except ValueError:
            return _NO_HITS
        slots = self._hashes[kind].get(key)
        return _NO_HITS if slots is None else [_hit((kind, value.lower(), slots))]

    def _domain(self, name: str) -> Sequence[Hit]:
        table = self._text["domain"]
        hits: list[Hit] | None = None
        while name:
            slots = table.get(name)
            if slots is not None:
                hits = hits or []
                hits.append(_hit(("domain", name, slots)))
            name = name.partition(".")[2]
        return hits or _NO_HITS

    def _exact(self, kind: str, value: str) -> Sequence[Hit]:
        table = self._text.get(kind)
        slots = table.get(value) if table is not None else None
        return _NO_HITS if slots is None else [_hit((kind, value, slots))]


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
            allowed = can_read(self.principal, marking, anonymous_public=self.anonymous_public)
            self._readable.append(1 if allowed else 0)

    def sees(self, slot: int) -> bool:
        index = self.index
        if not index.alive[slot]:
            return False
        marking = index.marking_of[slot]
        if marking >= len(self._readable):
            self._learn_markings()
        return bool(self._readable[marking])

    def visible(self, slots: Slots) -> list[int]:
        alive, marking_of, readable = self.index.alive, self.index.marking_of, self._readable
        try:
            if isinstance(slots, int):
                return [slots] if alive[slots] and readable[marking_of[slots]] else []
            return [slot for slot in slots if alive[slot] and readable[marking_of[slot]]]
        except IndexError:  # a marking first indexed after this view was made
            self._learn_markings()
            return self.visible(slots)


def marking(owner_org_id: int, tlp: int, dist: int, group_id: int | None) -> Marking:
    return Marking(owner_org_id, TLP(tlp), DistKind(dist), group_id)
