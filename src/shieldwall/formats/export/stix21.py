"""`stix21`: one STIX 2.1 bundle of the latest visible version of every object in scope.

Objects are written as stored (they were validated on ingest), so the bundle
is produced without parsing a single object.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator

from shieldwall.formats.export.model import ObjectRow


def write(pages: Iterable[list[ObjectRow]]) -> Iterator[bytes]:
    yield f'{{"type": "bundle", "id": "bundle--{uuid.uuid4()}", "objects": ['.encode()
    first = True
    for page in pages:
        if not page:
            continue
        body = ",\n".join(row.data for row in page)
        yield (("\n" if first else ",\n") + body).encode()
        first = False
    yield b"\n]}\n"
