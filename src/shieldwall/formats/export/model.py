"""The vocabulary of exports: formats, filters, and the rows formats are written from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from shieldwall.sharing.tlp import TLP


class ExportFormat(StrEnum):
    STIX21 = "stix21"
    MISP = "misp"
    MISP_FEED = "misp-feed"
    SURICATA = "suricata"
    SNORT = "snort"
    ZEEK = "zeek"
    CSV = "csv"
    TXT = "txt"

    @property
    def is_value_format(self) -> bool:
        """Written value by value from observables (rather than object by object)."""
        return self in _VALUE_FORMATS

    @property
    def drops_warninglisted(self) -> bool:
        """Detection content and blocklists leave out known-benign values by default."""
        return self in _DETECTION_FORMATS


_VALUE_FORMATS = frozenset(
    {
        ExportFormat.SURICATA,
        ExportFormat.SNORT,
        ExportFormat.ZEEK,
        ExportFormat.CSV,
        ExportFormat.TXT,
    }
)
_DETECTION_FORMATS = frozenset(
    {ExportFormat.SURICATA, ExportFormat.SNORT, ExportFormat.ZEEK, ExportFormat.TXT}
)

#: STIX types whose observables are detection content (MISP's `to_ids`).
DETECTION_TYPES = ("indicator",)


@dataclass(frozen=True, slots=True)
class ExportFilters:
    """What the caller asked for, within what the access policy lets it see.

    `types` are observable kinds (ipv4, domain, ...) for the value formats and
    STIX object types for the object formats (stix21, misp, misp-feed).
    `min_confidence` keeps only objects whose `confidence` is at least that:
    an object without a confidence does not meet any minimum. `min_score`
    keeps values (and objects with a value) whose decayed score at
    `scored_at` is at least that (see `scores`).
    """

    types: tuple[str, ...] = ()
    tlp_at_most: TLP | None = None
    owner_org_id: int | None = None
    added_since: datetime | None = None
    min_confidence: int | None = None
    min_score: float | None = None
    scored_at: datetime | None = None


class ObjectRow(NamedTuple):
    """One visible object (latest version) with its observables."""

    pk: int
    stix_id: str
    stix_type: str
    owner: str
    tlp: int
    dist: int
    group_name: str | None
    #: When the version was made (`repository.time_key`: an SCO's is when it was stored).
    time_key: str
    data: str
    observables: list[tuple[str, str]]
