"""`csv`: one row per observable value of every visible object in scope (indicators and SCOs).

Unlike the detection formats it keeps warninglisted values (it is a record,
not a blocklist) unless asked otherwise.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from shieldwall.formats.export.common import TLP_SLUG

HEADER = (
    "value",
    "type",
    "object_id",
    "object_type",
    "owner",
    "tlp",
    "confidence",
    "created",
    "modified",
    "added_at",
)


#: The columns each value is read with (see `repository.value_rows`); the
#: database reads confidence, created and modified out of the stored JSON.
FIELDS = (
    "value",
    "kind",
    "stix_id",
    "stix_type",
    "owner",
    "tlp",
    "confidence",
    "created",
    "modified",
    "added_at",
)


#: Commas in a row that needs no quoting: one between each two fields.
_COMMAS = len(FIELDS) - 1
#: Distinct added_at texts kept (one per ingest; bounded so memory stays flat).
_ADDED_CACHE = 4096


def write(chunks: Iterable[Sequence[Sequence[Any]]]) -> Iterator[bytes]:
    """CSV from rows of `FIELDS`.

    A row whose fields hold no comma, quote or line break is the fields joined
    by commas, which is what the csv module writes for it; joining them
    ourselves costs half as much (measured: csv.writer was a third of the
    export). Any other row goes through csv.writer, which quotes it.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    yield buffer.getvalue().encode()

    def quoted(row: Sequence[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(_csv_row(row))
        return buffer.getvalue()[:-1]

    # added_at is one timestamp per ingest: its text is computed once.
    added_texts: dict[Any, str] = {}
    for chunk in chunks:
        lines: list[str] = []
        append = lines.append
        for row in chunk:
            value, kind, stix_id, stix_type, owner, tlp, confidence, created, modified, added_at = (
                row
            )
            added = added_texts.get(added_at)
            if added is None:
                if len(added_texts) > _ADDED_CACHE:
                    added_texts.clear()
                added = added_texts[added_at] = added_at.isoformat() if added_at else ""
            append(
                f"{value},{kind},{stix_id},{stix_type},{owner},{TLP_SLUG[tlp]},"
                f"{'' if confidence is None else confidence},{created or ''},"
                f"{modified or ''},{added}"
            )
        if lines:
            lines.append("")
            text = "\n".join(lines)
            if not _plain(text, len(lines) - 1):
                lines = [
                    line if _plain_line(line) else quoted(row)
                    for line, row in zip(lines[:-1], chunk, strict=True)
                ]
                text = "\n".join([*lines, ""])
            yield text.encode()


def _plain(text: str, count: int) -> bool:
    """Whether none of the `count` lines of `text` needs quoting.

    Checked on the chunk's text at once rather than line by line: each line
    has at least its `_COMMAS` commas and no line break of its own, so the
    totals are exact only when every line is.
    """
    return (
        text.count(",") == _COMMAS * count
        and text.count("\n") == count
        and '"' not in text
        and "\r" not in text
    )


def _plain_line(line: str) -> bool:
    return line.count(",") == _COMMAS and '"' not in line and "\n" not in line and "\r" not in line


def _csv_row(row: Sequence[Any]) -> tuple[Any, ...]:
    value, kind, stix_id, stix_type, owner, tlp, confidence, created, modified, added_at = row
    return (
        value,
        kind,
        stix_id,
        stix_type,
        owner,
        TLP_SLUG[tlp],
        "" if confidence is None else confidence,
        created or "",
        modified or "",
        added_at.isoformat() if added_at else "",
    )
