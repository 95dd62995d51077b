"""What Suricata and Snort rules share: stable sids, escaping, messages.

Stable sids: a rule's sid is `base + RESERVED + blake2b(key) mod SID_RANGE`,
where the key is the indicator id, the value and the rule variant (DNS, TLS,
HTTP...). The same indicator therefore gets the same sid in every export, for
every version (the `rev` is the version's modification time in seconds).

Collisions: two keys may hash to one sid. Within one export the later key (in
primary-key order, i.e. the more recently stored object) takes the next free
sid above it. A new object never moves the sid of an older one; an older
sid can only move if the object it collided with leaves the export (revoked,
filtered out) — rare: with a range of 2^28 sids, a million rules collide
about two thousand times. Free sids are tracked in a bitmap over the range,
a fixed 32 MiB of anonymous memory that the OS provides only as pages are
touched: memory stays flat whatever the size of the export.
"""

from __future__ import annotations

import hashlib
import mmap
import re
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from shieldwall.errors import BadInput
from shieldwall.formats.export.common import TLP_LABEL, TLP_SLUG, epoch_seconds

#: Sids below `base + RESERVED` are for the fixed rules (file hash lists).
RESERVED = 16
SID_RANGE = 1 << 28
_SLOT_MASK = SID_RANGE - 1
_blake2b = hashlib.blake2b
DEFAULT_SID_BASE = 1_000_000_000
_MAX_SID = (1 << 32) - 1
_MSG_VALUE_MAX = 120


def check_sid_base(base: int) -> int:
    if base < 1 or base + RESERVED + SID_RANGE > _MAX_SID:
        raise BadInput(
            f"the sid base must be between 1 and {_MAX_SID - RESERVED - SID_RANGE} "
            f"(rules take {SID_RANGE + RESERVED} sids above it)",
            where="sid_base",
        )
    return base


class SidAllocator:
    """Stable sids for the rules of one export (see the module docstring)."""

    def __init__(self, base: int) -> None:
        self.base = check_sid_base(base)
        self._first = self.base + RESERVED
        self._taken = mmap.mmap(-1, SID_RANGE // 8)

    def sid(self, key: str) -> int:
        # SID_RANGE is a power of two: `& _SLOT_MASK` is `% SID_RANGE`, cheaper.
        digest = _blake2b(key.encode(), digest_size=8).digest()
        slot = int.from_bytes(digest, "big") & _SLOT_MASK
        taken = self._taken
        while taken[slot >> 3] & (1 << (slot & 7)):
            slot = (slot + 1) & _SLOT_MASK
        taken[slot >> 3] |= 1 << (slot & 7)
        return self._first + slot

    def close(self) -> None:
        self._taken.close()


_UNSAFE = re.compile(r'[^ -~]|["\x3b\\|:]')
_NOT_PRINTABLE = re.compile(r"[^ -~]")


def content(text: str) -> str:
    """A rule content string: printable ASCII as is, the rest (and `"`, `;`, `\\`, `|`) as hex."""
    if not _UNSAFE.search(text):
        return text
    out: list[str] = []
    for char in text:
        if " " <= char <= "~" and char not in '";\\|:':
            out.append(char)
        else:
            out.append("|" + " ".join(f"{byte:02X}" for byte in char.encode()) + "|")
    return "".join(out)


def url_parts(url: str) -> tuple[str, str] | None:
    """(host, path with query) of a URL, as IDS rules match them; None without a host."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    return parts.hostname, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def message_text(text: str) -> str:
    """Text for `msg:`: printable ASCII, with `"`, `;` and `\\` escaped, no `|` or `:`."""
    if not _MSG_SPECIAL.search(text):
        return text
    printable = _NOT_PRINTABLE.sub("?", text)
    for special in ("\\", '"', ";"):
        printable = printable.replace(special, "\\" + special)
    return printable


_MSG_SPECIAL = re.compile(r'[^ -~]|["\x3b\\]')


class Indicator(NamedTuple):
    """What every rule of one value says about its indicator, computed once per value.

    A named tuple: building one costs a third of a frozen dataclass, once per value.
    """

    stix_id: str
    value: str
    tail: str  # `classtype ... sid:` is the rule's own; this is `rev` and `metadata`
    prefix: str  # the start of `msg`: "SHIELDWALL TLP:x owner "
    shown: str  # the value as `msg` shows it


class RuleContext:
    """Caches the pieces of rule text that repeat across values (owner, TLP, day)."""

    def __init__(self) -> None:
        self._prefixes: dict[tuple[int, str], str] = {}

    def indicator(
        self, stix_id: str, value: str, owner: str, tlp: int, version_key: str
    ) -> Indicator:
        prefix = self._prefixes.get((tlp, owner))
        if prefix is None:
            prefix = message_text(f"SHIELDWALL {TLP_LABEL[tlp]} {owner} ")
            self._prefixes[(tlp, owner)] = prefix
        shown = value if len(value) <= _MSG_VALUE_MAX else value[:_MSG_VALUE_MAX] + "..."
        revision = max(1, epoch_seconds(version_key))
        tail = (
            f"rev:{revision}; metadata:shieldwall_id {stix_id}, tlp {TLP_SLUG[tlp]}, "
            f"updated_at {_updated(version_key[:10])};)"
        )
        return Indicator(stix_id, value, tail, prefix, message_text(shown))

    @staticmethod
    def message(found: Indicator, what: str) -> str:
        """The `msg` text: source, TLP, what the rule matches and the value."""
        return f"{found.prefix}{_what_text(what)} {found.shown}"


@lru_cache(maxsize=4096)
def _updated(day: str) -> str:
    """`YYYY_MM_DD` of a day: few distinct days, so once each."""
    return day.replace("-", "_")


@lru_cache(maxsize=64)
def _what_text(what: str) -> str:
    """`message_text` of the few fixed descriptions (kinds, rule variants), once each."""
    return message_text(what)
