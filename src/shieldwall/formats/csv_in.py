"""CSV in: a column mapping says which columns hold values of which kind.

A mapping is `COLUMN=ROLE[,COLUMN=ROLE...]`, where COLUMN is a header name or
a 0-based column number and ROLE is a value kind (ip, ipv4, ipv6, cidr,
domain, url, email, md5, sha1, sha256, sha512, filename, cve) or `name`,
`description`, `skip`. Without a mapping, header names that are kinds (or
common aliases: `ip-dst`, `hostname`, `comment`, ...) are used.

Every non-empty value cell becomes one indicator (a vulnerability for a CVE)
with an id derived from its kind and value, so a value imported again is the
same object; a cell that is not a value of its kind is refused with its line
and column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from shieldwall.errors import BadInput
from shieldwall.formats.common import (
    VALUE_KINDS,
    Conversion,
    Unmappable,
    canonical_value,
    stix_now,
    value_object,
)

_META_ROLES = frozenset({"name", "description", "skip"})
#: `ip` is a kind for columns only: a value decides between ipv4 and ipv6.
ROLES = VALUE_KINDS | _META_ROLES | {"ip"}

_ALIASES = {
    "ip-dst": "ip",
    "ip-src": "ip",
    "ip_address": "ip",
    "ip address": "ip",
    "network": "cidr",
    "hostname": "domain",
    "host": "domain",
    "fqdn": "domain",
    "domain-name": "domain",
    "uri": "url",
    "link": "url",
    "e-mail": "email",
    "mail": "email",
    "email-src": "email",
    "sha-1": "sha1",
    "sha-256": "sha256",
    "sha-512": "sha512",
    "file_name": "filename",
    "file name": "filename",
    "cve_id": "cve",
    "comment": "description",
    "comments": "description",
    "title": "name",
}


@dataclass(frozen=True, slots=True)
class Column:
    position: int
    label: str
    role: str


def role_of(name: str) -> str | None:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in ROLES and key != "skip" else None


def header_kinds(header: list[str]) -> dict[int, str]:
    """Column number -> value kind, for header names that name a kind."""
    return {
        position: role
        for position, name in enumerate(header)
        if (role := role_of(name)) is not None and role not in _META_ROLES
    }


def parse_mapping(text: str) -> list[tuple[str, str]]:
    """`COLUMN=ROLE,...` as pairs; BadInput names the bad part."""
    pairs: list[tuple[str, str]] = []
    for part in (p.strip() for p in text.split(",")):
        column, equals, role = part.partition("=")
        role = _ALIASES.get(role.strip().lower(), role.strip().lower())
        if not equals or not column.strip() or role not in ROLES:
            raise BadInput(
                f"bad column mapping {part!r}: use COLUMN=ROLE with ROLE one of "
                f"{', '.join(sorted(ROLES))}",
                where="--csv-mapping",
            )
        pairs.append((column.strip(), role))
    if not any(role in VALUE_KINDS | {"ip"} for _, role in pairs):
        raise BadInput("the column mapping names no value column", where="--csv-mapping")
    return pairs


def _columns(pairs: list[tuple[str, str]] | None, header: list[str] | None) -> list[Column]:
    if pairs is None:
        if header is None:
            raise BadInput("CSV without a header needs a column mapping", where="--csv-mapping")
        return [
            Column(position, header[position].strip(), role)
            for position, name in enumerate(header)
            if (role := role_of(name)) is not None
        ]
    columns: list[Column] = []
    for column, role in pairs:
        if column.isdigit():
            position = int(column)
            label = header[position].strip() if header and position < len(header) else column
        elif header is not None and column in [h.strip() for h in header]:
            position = [h.strip() for h in header].index(column)
            label = column
        else:
            raise BadInput(f"no CSV column named {column!r}", where="--csv-mapping")
        columns.append(Column(position, label, role))
    return columns


class CsvMapper:
    """Yields the objects of one CSV document; refusals go to the conversion."""

    def __init__(self, conversion: Conversion, mapping: str | None) -> None:
        self.conversion = conversion
        self.pairs = parse_mapping(mapping) if mapping else None
        self.timestamp = stix_now()

    def objects(self, stream: IO[bytes]) -> Iterator[dict[str, Any]]:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        rows = csv.reader(text)
        first = next(rows, None)
        if first is None:
            return
        header = first if self._has_header(first) else None
        columns = _columns(self.pairs, header)
        if header is None:
            yield from self._row(1, first, columns)
        try:
            for line, row in enumerate(rows, start=2):
                yield from self._row(line, row, columns)
        except csv.Error as exc:
            raise BadInput(f"unreadable CSV: {exc}", where=f"line {rows.line_num}") from None

    def _has_header(self, first: list[str]) -> bool:
        if self.pairs is None or any(not column.isdigit() for column, _ in self.pairs):
            return True
        # Columns given by number: the first row is a header when none of its
        # value cells is a value.
        for column, role in self.pairs:
            position = int(column)
            if role in VALUE_KINDS | {"ip"} and position < len(first):
                try:
                    _value(role, first[position])
                except Unmappable:
                    continue
                return False
        return True

    def _row(self, line: int, row: list[str], columns: list[Column]) -> Iterator[dict[str, Any]]:
        extra: dict[str, Any] = {}
        for column in columns:
            if column.role in ("name", "description") and column.position < len(row):
                cell = row[column.position].strip()
                if cell:
                    extra[column.role] = cell
        for column in columns:
            if column.role in _META_ROLES or column.position >= len(row):
                continue
            cell = row[column.position]
            if not cell.strip():
                continue
            location = f"line[{line}].{column.label}"
            try:
                kind, value = _value(column.role, cell)
            except Unmappable as exc:
                self.conversion.refuse(line, None, location, str(exc))
                continue
            self.conversion.emitted(line, location)
            yield value_object(kind, value, self.timestamp, extra)


def _value(role: str, cell: str) -> tuple[str, str]:
    if role == "ip":
        return canonical_value("ipv6" if ":" in cell else "ipv4", cell)
    return canonical_value(role, cell)
