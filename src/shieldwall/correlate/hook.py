"""The ingest hook of detection: correlation keys and sighting refs, per batch.

`intel.ingest` calls `record_detection` after each batch of objects and
observables is written, in the same transaction, so the keys commit (or roll
back) with the import. The cost is one key computation per address, domain
or URL observable and one bulk write per batch; exact-value correlation needs
nothing here, because `observables.value` is indexed already.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from shieldwall.correlate import repository
from shieldwall.correlate.keys import key_of
from shieldwall.sightings.refs import record_sightings

_KEYED = frozenset(repository.KEYED_KINDS)


def correlation_key_rows(found_rows: Iterable[tuple[int, str, str]]) -> list[tuple[str, int]]:
    """(key, object_pk) pairs of (object_pk, kind, value) observable rows, each pair once."""
    pairs: set[tuple[str, int]] = set()
    for object_pk, kind, value in found_rows:
        if kind in _KEYED:
            key = key_of(kind, value)
            if key is not None:
                pairs.add((key, object_pk))
    return list(pairs)


def record_detection(
    conn: Connection,
    found_rows: Sequence[tuple[int, str, str]],
    sighting_rows: Sequence[dict[str, Any]],
) -> None:
    """Writes the correlation keys and sighting refs of one ingest batch.

    `found_rows` are the batch's (object_pk, kind, value) observables; `sighting_rows`
    its stored sightings as `{"pk", "type", "version_key", "data"}`.
    """
    repository.insert_keys(conn, correlation_key_rows(found_rows))
    record_sightings(conn, sighting_rows)
