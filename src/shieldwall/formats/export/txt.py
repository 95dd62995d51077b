"""`txt`: blocklists, one value per line, one list per observable type.

The API returns one type (`type=`); the CLI writes `<type>.txt` per type. A
value held by several visible indicators is written once per indicator: no
de-duplication, which would cost memory in proportion to the export.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from shieldwall.formats.export.common import single_line
from shieldwall.formats.export.model import ValueRow


def write_by_kind(pages: Iterable[list[ValueRow]]) -> Iterator[tuple[str, bytes]]:
    """(kind, lines) chunks: at most one chunk per kind and page."""
    for page in pages:
        lines: dict[str, list[str]] = {}
        for row in page:
            if single_line(row.value):
                lines.setdefault(row.kind, []).append(row.value)
        for kind, values in lines.items():
            yield kind, ("\n".join(values) + "\n").encode()


def write(pages: Iterable[list[ValueRow]]) -> Iterator[bytes]:
    for _, chunk in write_by_kind(pages):
        yield chunk
