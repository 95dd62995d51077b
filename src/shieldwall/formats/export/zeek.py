"""`zeek`: a Zeek Intel framework file (`Intel::read_files`).

Tab-separated, one `#fields` header naming `indicator`, `indicator_type` and
the `Intel::MetaData` fields `meta.source` (the owner organisation),
`meta.desc` (TLP, STIX id) and `meta.url` (`-`: unset). URLs are written
without their scheme, as the Intel framework matches them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from shieldwall.formats.export.common import TLP_LABEL, single_line

#: The columns each value is read with (see `repository.value_rows`).
FIELDS = ("kind", "value", "stix_id", "owner", "tlp")
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


def write(chunks: Iterable[Sequence[Sequence[Any]]]) -> Iterator[bytes]:
    """The intel file from rows of `FIELDS`."""
    yield HEADER.encode()
    # "\towner\tTLP:X " per (owner, TLP); None: the owner's name cannot be a field.
    middles: dict[tuple[str, int], str | None] = {}
    for chunk in chunks:
        lines: list[str] = []
        for kind, value, stix_id, owner, tlp in chunk:
            intel_type = INTEL_TYPES.get(kind)
            if intel_type is None or not single_line(value):
                continue
            middle = middles.get((owner, tlp), "")
            if middle == "":
                middle = f"\t{owner}\t{TLP_LABEL[tlp]} " if single_line(owner) else None
                middles[(owner, tlp)] = middle
            if middle is not None:
                text = value.partition("://")[2] if kind == "url" else value
                lines.append(f"{text}\t{intel_type}{middle}{stix_id}\t-\n")
        if lines:
            yield "".join(lines).encode()
