"""`txt`: blocklists, one value per line, one list per observable type.

The API returns one type (`type=`); the CLI writes `<type>.txt` per type. A
value held by several visible indicators is written once per indicator: no
de-duplication, which would cost memory in proportion to the export.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from shieldwall.formats.export.common import single_line

#: The columns each value is read with (see `repository.value_rows`).
FIELDS = ("kind", "value")


def write_by_kind(chunks: Iterable[Sequence[Sequence[Any]]]) -> Iterator[tuple[str, bytes]]:
    """(kind, lines) chunks from rows of `FIELDS`: at most one chunk per kind and chunk."""
    for chunk in chunks:
        lines: dict[str, list[str]] = {}
        for kind, value in chunk:
            if single_line(value):
                found = lines.get(kind)
                if found is None:
                    lines[kind] = found = []
                found.append(value)
        for kind, values in lines.items():
            values.append("")
            yield kind, "\n".join(values).encode()


def write(chunks: Iterable[Sequence[Sequence[Any]]]) -> Iterator[bytes]:
    for _, lines in write_by_kind(chunks):
        yield lines
