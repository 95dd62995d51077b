"""`stix21`: one STIX 2.1 bundle of the latest visible version of every object in scope.

Objects are written as stored (they were validated on ingest), so the bundle
is produced without parsing a single object.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator


def write(chunks: Iterable[list[str]]) -> Iterator[bytes]:
    """The bundle around chunks of stored objects (JSON text)."""
    yield f'{{"type": "bundle", "id": "bundle--{uuid.uuid4()}", "objects": ['.encode()
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        body = ",\n".join(chunk)
        yield (("\n" if first else ",\n") + body).encode()
        first = False
    yield b"\n]}\n"
