"""Types of the compiled batch look-ups (`_lookup.c`); see `index.MatchIndex`."""

from array import array
from collections.abc import Callable
from typing import Any

Slow = Callable[[int, str, list[Any]], None]
Tables = list[tuple[int, int, Any]]

class U32Table:
    def put(self, key: int, slot: int, /) -> None: ...
    def get(self, key: int, /) -> int | list[int] | None: ...
    def __len__(self) -> int: ...

def ipv4_many(
    raws: list[str],
    out: list[Any],
    exact: U32Table | None,
    flagged: bytearray,
    narrow: Tables,
    wide: Tables,
    slow: Slow,
) -> None: ...
def ipv6_many(raws: list[str], out: list[Any], tables: Tables, slow: Slow) -> None: ...
def domain_many(
    raws: list[str], out: list[Any], table: dict[str, Any], fewest_dots: int, slow: Slow
) -> None: ...
def hash_many(
    raws: list[str], out: list[Any], table: dict[bytes, Any], kind: str, slow: Slow
) -> None: ...
def exact_many(raws: list[str], out: list[Any], table: dict[str, Any], kind: str) -> None: ...
def email_many(
    raws: list[str], out: list[Any], table: dict[str, Any], kind: str, slow: Slow
) -> None: ...
def url_many(
    raws: list[str],
    out: list[Any],
    table: dict[str, Any],
    kind: str,
    max_length: int,
    slow: Slow,
) -> None: ...
def visible_hits(found: list[Any], marking_of: array[int], readable: bytearray) -> list[Any]: ...
