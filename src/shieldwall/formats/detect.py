"""Which format a document is in, judged from its first bytes (the file name only breaks ties).

JSON documents are told apart by their keys: MISP events carry `Event`,
`response` or `uuid` + `info`; STIX 2.0 bundles carry `spec_version: "2.0"` on
the bundle, STIX 2.1 objects carry it on each object. Anything else that is
text is CSV when its first line is a header naming value columns (or when a
column mapping is given, or the name ends in `.csv`), else free text.
"""

from __future__ import annotations

import csv
import io
from enum import StrEnum

import ijson

from shieldwall.errors import BadInput
from shieldwall.formats.csv_in import header_kinds
from shieldwall.intel.depth import DepthGuard

_MARKER_KEYS = ("spec_version", "type")

#: How much of a document the detection reads.
PEEK_BYTES = 64 * 1024


class Format(StrEnum):
    AUTO = "auto"
    STIX21 = "stix21"
    STIX20 = "stix20"
    MISP = "misp"
    CSV = "csv"
    TEXT = "text"


def detect(head: bytes, name: str | None = None, *, csv_mapping: bool = False) -> Format:
    """The format of a document from its first bytes (up to PEEK_BYTES)."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise BadInput("the input is empty", where=name or "body")
    if stripped[:1] in (b"{", b"["):
        return _json_format(stripped, name)
    if b"\x00" in stripped[:4096]:
        raise BadInput("the input is binary, not JSON, CSV or text", where=name or "body")
    if csv_mapping or (name or "").lower().endswith(".csv") or looks_like_csv(stripped):
        return Format.CSV
    return Format.TEXT


def _json_format(head: bytes, name: str | None) -> Format:
    keys = _json_keys(head)
    if keys & {"Event", "response", "Attribute", "Object", "info"}:
        return Format.MISP
    if ("spec_version", "2.0") in keys:
        return Format.STIX20
    if ("spec_version", "2.1") in keys:
        return Format.STIX21
    if ("type", "bundle") in keys or "objects" in keys:
        # 2.1 objects carry spec_version (SCOs aside); none seen means 2.0
        # objects whose bundle states its version only after them.
        return Format.STIX20 if "objects" in keys else Format.STIX21
    raise BadInput(
        "JSON that is neither a MISP event nor a STIX bundle or object", where=name or "body"
    )


def _json_keys(head: bytes) -> set[object]:
    """Keys of the top-level object (or the first list item) and the spec_version/type values.

    Only the outer levels count, so a MISP event quoted inside a STIX note
    does not make a bundle MISP.
    """
    found: set[object] = set()
    # ijson's prefixes cost depth² bytes: 64 KiB of `[` took it 7.5 s and 10 GB.
    DepthGuard().feed(head)
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(head)):
            if event == "map_key" and prefix in ("", "item"):
                found.add(value)
            key = prefix.rsplit(".", 1)[-1]
            if event == "string" and key in _MARKER_KEYS and prefix.count(".") <= 2:
                found.add((key, value))
    except ijson.IncompleteJSONError:
        pass  # the peek ended mid-document: what was seen decides
    except ijson.JSONError as exc:
        raise BadInput(f"invalid JSON: {exc}", where="body") from None
    return found


def looks_like_csv(head: bytes) -> bool:
    """A first line that is a header naming at least one known value column."""
    first_line = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    try:
        header = next(csv.reader([first_line]))
    except (csv.Error, StopIteration):
        return False
    return len(header) > 1 and bool(header_kinds(header))
