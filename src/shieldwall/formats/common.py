"""What every importer shares: the conversion record, value objects, timestamps.

An importer turns its input into STIX 2.1 objects for the one ingest
(`intel.imports.run_import`). Items it cannot map (a MISP URL that is no URL, a
registry key without a hive) never reach the ingest: the importer records a
`Rejection` for each, naming the place in its own input, and `formats.service`
lists them in the import report beside the ingest's own rejections.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shieldwall.intel.ingest import ImportAborted, ImportReport, Rejection
from shieldwall.intel.observables import normalise

#: Namespace of the ids this node derives from bare values (CSV rows, free
#: text), so that the same value imported twice is the same object.
VALUE_NAMESPACE = uuid.UUID("6f1c3f5e-9a4e-5c0b-8c57-2f3e0d7b1a90")


class Unmappable(ValueError):
    """An item of the input with no STIX 2.1 counterpart; the message says why."""


#: Where an emitted STIX object came from: (index, place in the input or
#: None). A plain tuple: one is made per object an import emits, where a
#: frozen dataclass cost 2.4 ms CPU per ESET copy of 3,800 objects.
Origin = tuple[int, str | None]


@dataclass
class Conversion:
    """The importer's side of one import: where each emitted object came from, what it refused.

    `origins[i]` is the origin of the i-th object the importer yielded, so a
    rejection by the ingest (which numbers STIX objects) is reported at the
    place the user wrote it. In strict mode the first refusal aborts the
    import exactly as the ingest's own first rejection does.
    """

    source: str
    strict: bool
    origins: list[Origin] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    #: The distribution the input asks for itself (a MISP event's), if any.
    distribution: str | None = None
    #: Objects the importer expects to yield, when it knows (for progress bars).
    expected: int | None = None
    aborted: bool = False

    def emitted(self, index: int, location: str | None = None) -> None:
        self.origins.append((index, location))

    def refuse(self, index: int, stix_id: str | None, location: str | None, reason: str) -> None:
        self.rejections.append(Rejection(index, stix_id, location, reason))
        if self.strict:
            self.aborted = True
            raise ImportAborted(ImportReport(source=self.source, rejected=list(self.rejections)))


def stix_time(moment: datetime) -> str:
    """A STIX timestamp with millisecond precision."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def stix_now() -> str:
    return stix_time(datetime.now(UTC))


def quote(value: str) -> str:
    """A string literal for a STIX pattern."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def value_id(stix_type: str, kind: str, value: str) -> str:
    """A stable id for an object this node derives from a bare value."""
    return f"{stix_type}--{uuid.uuid5(VALUE_NAMESPACE, f'{kind}:{value}')}"


#: Observable kind -> the STIX pattern path that carries a value of that kind.
KIND_PATHS: dict[str, str] = {
    "ipv4": "ipv4-addr:value",
    "ipv6": "ipv6-addr:value",
    "domain": "domain-name:value",
    "url": "url:value",
    "email": "email-addr:value",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
    "sha512": "file:hashes.'SHA-512'",
    "filename": "file:name",
}

#: The kinds a CSV column or a text extraction may name.
VALUE_KINDS = frozenset(KIND_PATHS) | {"cidr", "cve"}


def canonical_value(kind: str, raw: str) -> tuple[str, str]:
    """`(kind, value)` normalised; Unmappable says why a value is not of its kind.

    An IP column may hold a CIDR block and the other way round: the kind
    follows the value (`normalise` turns `10.0.0.0/8` into `cidr`).
    """
    text = raw.strip()
    if kind == "cve":
        parts = text.upper().split("-")
        if len(parts) != 3 or parts[0] != "CVE" or not (parts[1] + parts[2]).isdigit():
            raise Unmappable(f"{raw!r} is not a CVE id (CVE-YYYY-NNNN)")
        return kind, text.upper()
    if kind not in VALUE_KINDS:
        raise Unmappable(f"unknown kind {kind!r}")
    found = normalise(kind, text)
    if found is None:
        raise Unmappable(f"{raw!r} is not a valid {kind} value")
    return found


def _pattern_path(kind: str, value: str) -> str:
    if kind == "cidr":
        return KIND_PATHS["ipv6" if ":" in value else "ipv4"]
    return KIND_PATHS[kind]


def value_object(
    kind: str, value: str, timestamp: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The STIX object for one normalised value: an indicator, or a vulnerability for a CVE."""
    if kind == "cve":
        return {
            "type": "vulnerability",
            "spec_version": "2.1",
            "id": value_id("vulnerability", kind, value),
            "created": timestamp,
            "modified": timestamp,
            "name": value,
            "external_references": [{"source_name": "cve", "external_id": value}],
            **(extra or {}),
        }
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": value_id("indicator", kind, value),
        "created": timestamp,
        "modified": timestamp,
        "name": value,
        "indicator_types": ["malicious-activity"],
        "pattern": f"[{_pattern_path(kind, value)} = {quote(value)}]",
        "pattern_type": "stix",
        "valid_from": timestamp,
        **(extra or {}),
    }
