"""The MISP export's rest event: its bookkeeping of objects from MISP and its attribute writer."""

from __future__ import annotations

import uuid
from datetime import datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.formats.export.common import TLP_SLUG
from shieldwall.formats.export.misp import (
    EMPTY_BATCH,
    KIND_TYPES,
    MISP_DISTRIBUTION,
    _PkSet,
    _RestWriter,
    value_attributes,
)
from shieldwall.formats.export.model import ObjectRow


def test_pk_set_holds_exactly_the_keys_added() -> None:
    keys = {1, 7, 8, 9, 64, 1_000_003}
    found = _PkSet()
    for pk in [*sorted(keys, reverse=True), 8, 8]:
        found.add(pk)
    assert found.count == len(keys)
    assert [pk for pk in range(1_000_010) if pk in found] == sorted(keys)
    assert 10_000_000 not in found
    assert list(found) == sorted(keys)


def test_an_empty_pk_set_holds_nothing() -> None:
    empty = _PkSet()
    assert empty.count == 0
    assert 0 not in empty
    assert 5 not in empty
    assert list(empty) == []


# --------------------------------------------------------------------------- the rest writer

_KINDS = sorted(KIND_TYPES)
_texts = st.text(max_size=12) | st.sampled_from(["", '"', "\\", '","', 'a\\"', "é✓", "\x00\n"])
_version_keys = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)).map(
    lambda at: at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond:06d}000Z"
) | st.sampled_from(
    [
        # One day and hour several times (days are remembered), a leap
        # second, and keys epoch_seconds parses the long way.
        "2024-02-29T23:00:00.000000000Z",
        "2024-02-29T23:17:42.100000000Z",
        "2024-02-29T23:59:60.000000000Z",
        "2024-01-01T24:00:00.000000000Z",
        "2024-01-01T23x59:07.000000000Z",
    ]
)


@st.composite
def _objects(draw: st.DrawFn) -> list[ObjectRow]:
    """Objects in pk order, each with one to three distinct values."""
    found = []
    for pk in sorted(draw(st.sets(st.integers(1, 10_000), min_size=1, max_size=12))):
        values = draw(st.sets(st.tuples(st.sampled_from(_KINDS), _texts), min_size=1, max_size=3))
        stix_type = draw(st.sampled_from(["indicator", "ipv4-addr", "url"]))
        found.append(
            ObjectRow(
                pk=pk,
                # Ids are checked at ingest (type--UUID): the UUID is written as it is.
                stix_id=f"{stix_type}--{draw(st.uuids())}",
                stix_type=stix_type,
                owner=draw(_texts),
                tlp=draw(st.sampled_from(sorted(TLP_SLUG))),
                dist=draw(st.sampled_from(sorted(MISP_DISTRIBUTION))),
                group_name=None,
                time_key=draw(_version_keys),
                data="{}",
                observables=sorted(values),
            )
        )
    return found


def _marking(row: ObjectRow, owner_id: int) -> int:
    """The row's `misp_rows.packed_marking`, as the database computes it."""
    return ((owner_id * 64 + row.tlp * 8 + row.dist) * 2) + (row.stix_type == "indicator")


def _value_rows(objects: list[ObjectRow], owner_ids: dict[str, int]) -> list[tuple[object, ...]]:
    """The objects' rows as `misp_rows.rest_rows` reads them (`REST_COLUMNS`)."""
    return [
        (row.pk, row.stix_id, _marking(row, owner_ids[row.owner]), row.time_key, *value)
        for row in objects
        for value in row.observables
    ]


@settings(max_examples=300, deadline=None)
@given(objects=_objects(), skipped=st.sets(st.integers(0, 11), max_size=3))
def test_rest_batches_are_the_attribute_dictionaries_dumped(
    objects: list[ObjectRow], skipped: set[int]
) -> None:
    left_out = {objects[at].stix_id for at in skipped if at < len(objects)}
    kept = [row for row in objects if row.stix_id not in left_out]
    attributes = [attribute for row in kept for attribute in value_attributes(row)]
    owner_ids = {owner: 100 + at for at, owner in enumerate(sorted({row.owner for row in objects}))}
    owners = {org_id: owner for owner, org_id in owner_ids.items()}
    batch = _RestWriter(owners).batch(_value_rows(objects, owner_ids), left_out)
    if not attributes:
        assert batch == EMPTY_BATCH
        return
    assert batch.json == b",".join(orjson.dumps(attribute) for attribute in attributes)
    assert batch.newest == max(int(attribute["timestamp"]) for attribute in attributes)
    assert batch.hashed == [attribute["value"] for attribute in attributes]


def test_a_row_without_marking_is_refused() -> None:
    """A stored TLP or distribution out of range reads as no marking (`misp_rows`)."""
    row = (1, f"indicator--{uuid.uuid4()}", None, "2024-02-29T23:00:00.000000000Z", "ipv4", "x")
    with pytest.raises(ValueError, match="out of range"):
        _RestWriter({}).batch([row], set())
