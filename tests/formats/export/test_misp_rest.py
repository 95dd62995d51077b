"""The MISP export's bookkeeping of objects that came from MISP."""

from __future__ import annotations

from shieldwall.formats.export.misp import _PkSet


def test_pk_set_holds_exactly_the_keys_added() -> None:
    keys = {1, 7, 8, 9, 64, 1_000_003}
    found = _PkSet()
    for pk in [*sorted(keys, reverse=True), 8, 8]:
        found.add(pk)
    assert found.count == len(keys)
    assert [pk for pk in range(1_000_010) if pk in found] == sorted(keys)
    assert 10_000_000 not in found


def test_an_empty_pk_set_holds_nothing() -> None:
    empty = _PkSet()
    assert empty.count == 0
    assert 0 not in empty
    assert 5 not in empty
