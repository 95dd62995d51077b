"""Types of the compiled rule loop (`_rules.c`); see `rules.write_chunks`."""

from collections.abc import Callable, Sequence
from mmap import mmap
from typing import Any

def write_rows(
    rows: Sequence[Sequence[Any]],
    templates: dict[str, tuple[tuple[str, tuple[Any, ...]], ...]],
    bitmap: mmap | bytearray,
    first_sid: int,
    source: Callable[[int, Any], tuple[str, str]],
    slow: Callable[[Sequence[Any]], bytes],
    others: dict[str, int],
    /,
) -> bytes: ...
def digest_slot(key: bytes, /) -> int: ...
