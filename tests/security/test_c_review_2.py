"""Review of the compiled rule loop (`formats/export/_rules.c`): the rows it reads ahead, it owns.

`_rules.write_rows` reads a window of rows ahead (their text, the slots of
their sids) before it writes any of them, and calls back into Python while it
writes: `slow` for the rows it leaves to the format's writer, `source` for a
new owner and TLP. The text it read ahead must stay alive whatever those calls
do: the rows are the caller's list, and a callback that changes that list
(clears it, replaces a row) must not leave the loop writing from freed memory.
Here the format's writer, handed the first row through `slow`, clears the
chunk, then makes text of the same sizes, which takes the place of what was
freed; the rules written after it must still be those of the rows as they
were given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pytest

from shieldwall.formats.export import rules, suricata

pytestmark = pytest.mark.skipif(
    not rules.COMPILED and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="SKIPPING: formats.export._rules is not built (no C compiler at install time)",
)

KEY = "2024-02-18T02:26:50.000000000Z"
NAMES = {1: "Org A"}
#: Rows read ahead with the first one and written after its `slow` call.
LATER = 15


def _text(prefix: str, n: int, suffix: str = "") -> str:
    """Text made at run time (not a shared constant): only the row that gets it holds it."""
    return "".join([prefix, f"{n:04d}", suffix])


def _rows() -> list[tuple[Any, ...]]:
    # The first row is one the loop leaves to Python (a non-ASCII URL): its `slow`
    # call comes while the fifteen after it are read ahead and not yet written.
    first = ("url", "http://bücher.example/p", _text("indicator--", 0), 1, 2, KEY)
    later = [
        ("domain", _text("d", n, ".example.org"), _text("indicator--", n), 1, 2, _text(KEY, n))
        for n in range(1, LATER + 1)
    ]
    return [first, *later]


def _text_lengths(rows: Sequence[Sequence[Any]]) -> list[int]:
    return sorted({len(field) for row in rows for field in row if isinstance(field, str)})


def _rules_of(chunk: list[tuple[Any, ...]], *, compiled: bool, clearing: bool = False) -> bytes:
    """`rules.write_chunks` of one chunk (the only holder of its rows) with Suricata's writer.

    `clearing`: the writer, when the compiled loop hands it a row, clears the
    chunk, then makes text of the freed text's lengths.
    """
    sids = rules.SidAllocator(1_000_000)
    context = rules.RuleContext(NAMES)
    others: dict[str, int] = {}
    made: list[str] = []

    def python_rules(rows: rules.Chunk) -> bytes:
        text = suricata._python_rules(rows, sids, context, others)
        if clearing and rows is not chunk:
            lengths = _text_lengths(chunk)
            chunk.clear()
            # Many strings of those lengths, made now: they take the place of the freed text.
            made.extend("Z" * length for length in lengths for _ in range(8 * LATER))
        return text

    try:
        return b"".join(
            rules.write_chunks(
                [chunk], python_rules, suricata.TEMPLATES, sids, context, others, compiled=compiled
            )
        )
    finally:
        sids.close()


def test_rows_read_ahead_outlive_a_callback_that_clears_the_chunk() -> None:
    expected = _rules_of(_rows(), compiled=False)
    assert expected.count(b"d0015.example.org") == 6  # shown and matched, in three rules
    assert _rules_of(_rows(), compiled=True, clearing=True) == expected
