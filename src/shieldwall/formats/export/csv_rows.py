"""`csv`: one row per observable value of every visible object in scope (indicators and SCOs).

Unlike the detection formats it keeps warninglisted values (it is a record,
not a blocklist) unless asked otherwise.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from shieldwall.formats.export.common import TLP_SLUG
from shieldwall.formats.export.model import ValueRow

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


def write(pages: Iterable[list[ValueRow]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    yield buffer.getvalue().encode()
    for page in pages:
        buffer.seek(0)
        buffer.truncate()
        parsed_pk, parsed = -1, {}
        for row in page:
            if row.pk != parsed_pk:  # values of one object are consecutive
                parsed_pk, parsed = row.pk, _properties(row.data)
            writer.writerow(
                (
                    row.value,
                    row.kind,
                    row.stix_id,
                    row.stix_type,
                    row.owner,
                    TLP_SLUG[row.tlp],
                    parsed.get("confidence", ""),
                    parsed.get("created", ""),
                    parsed.get("modified", ""),
                    row.added_at.isoformat() if row.added_at else "",
                )
            )
        yield buffer.getvalue().encode()


def _properties(data: str | None) -> dict[str, Any]:
    document = orjson.loads(data) if data else {}
    return document if isinstance(document, dict) else {}
