"""The export's warninglist filter: every value is judged, except where only presence counts."""

from __future__ import annotations

from typing import Any, cast

from shieldwall.formats.export import service, suricata
from shieldwall.warninglists import WarninglistIndex


class _Listed:
    """Lists the values given, and counts the look-ups (one by one and in batches)."""

    #: The real batch filter, over this class's look-ups.
    unlisted = WarninglistIndex.unlisted

    def __init__(self, *values: str) -> None:
        self.values = set(values)
        self.asked: list[str] = []

    def is_listed(self, kind: str, value: str) -> bool:
        self.asked.append(value)
        return value in self.values

    def listed_many(self, kind: str, values: list[str]) -> set[str]:
        self.asked.extend(values)
        return self.values.intersection(values)


def _filter(
    chunks: list[list[tuple[str, str]]], index: _Listed, presence_only: frozenset[str]
) -> list[list[Any]]:
    return [
        list(chunk)
        for chunk in service._without_warninglisted(
            chunks, cast(WarninglistIndex, index), 0, 1, presence_only
        )
    ]


def test_every_value_is_judged_without_presence_kinds() -> None:
    index = _Listed("1.1.1.1", "aa")
    chunks = [[("ipv4", "1.1.1.1"), ("md5", "aa"), ("md5", "bb")], [("ipv4", "2.2.2.2")]]
    assert _filter(chunks, index, frozenset()) == [
        [("md5", "bb")],
        [("ipv4", "2.2.2.2")],
    ]
    assert index.asked == ["1.1.1.1", "aa", "bb", "2.2.2.2"]


def test_presence_kinds_keep_their_first_unlisted_value_and_skip_the_rest() -> None:
    index = _Listed("aa", "9.9.9.9")
    chunks = [
        [("md5", "aa"), ("ipv4", "9.9.9.9"), ("md5", "bb")],
        [("md5", "cc"), ("sha1", "dd"), ("ipv4", "3.3.3.3"), ("sha1", "ee")],
    ]
    kept = _filter(chunks, index, frozenset(suricata.HASH_KEYWORDS))
    assert kept == [[("md5", "bb")], [("sha1", "dd"), ("ipv4", "3.3.3.3")]]
    # "cc" and "ee" come after a kept value of their kind: never looked up.
    assert set(index.asked) == {"aa", "9.9.9.9", "bb", "dd", "3.3.3.3"}


def test_a_presence_kind_whose_values_are_all_listed_is_left_out() -> None:
    index = _Listed("aa", "bb")
    kept = _filter([[("md5", "aa")], [("md5", "bb")]], index, frozenset({"md5"}))
    assert kept == [[], []]
