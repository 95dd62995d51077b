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


def write(chunks: Iterable[Sequence[Sequence[Any]]]) -> Iterator[bytes]:
    """CSV from rows of `FIELDS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    yield buffer.getvalue().encode()
    for chunk in chunks:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(map(_csv_row, chunk))
        yield buffer.getvalue().encode()


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
