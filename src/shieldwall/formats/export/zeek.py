"""`zeek`: a Zeek Intel framework file (`Intel::read_files`).

Tab-separated, one `#fields` header naming `indicator`, `indicator_type` and
the `Intel::MetaData` fields `meta.source` (the owner organisation),
`meta.desc` (TLP, STIX id) and `meta.url` (`-`: unset). URLs are written
without their scheme, as the Intel framework matches them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from shieldwall.formats.export.common import TLP_LABEL, single_line
from shieldwall.formats.export.model import ValueRow

HEADER = "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n"

INTEL_TYPES = {
    "ipv4": "Intel::ADDR",
    "ipv6": "Intel::ADDR",
    "cidr": "Intel::SUBNET",
    "domain": "Intel::DOMAIN",
    "url": "Intel::URL",
    "email": "Intel::EMAIL",
    "md5": "Intel::FILE_HASH",
    "sha1": "Intel::FILE_HASH",
    "sha256": "Intel::FILE_HASH",
    "sha512": "Intel::FILE_HASH",
    "filename": "Intel::FILE_NAME",
}


def indicator_text(kind: str, value: str) -> str:
    if kind == "url":
        return value.partition("://")[2]
    return value


def write(pages: Iterable[list[ValueRow]]) -> Iterator[bytes]:
    yield HEADER.encode()
    for page in pages:
        lines = [
            f"{indicator_text(row.kind, row.value)}\t{INTEL_TYPES[row.kind]}\t{row.owner}\t"
            f"{TLP_LABEL[row.tlp]} {row.stix_id}\t-\n"
            for row in page
            if row.kind in INTEL_TYPES and single_line(row.value) and single_line(row.owner)
        ]
        if lines:
            yield "".join(lines).encode()
