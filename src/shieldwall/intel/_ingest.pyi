"""Types of ingest's compiled pieces (`_ingest.c`); see `ingest.iter_bundle` and `Ingestor.feed`."""

from collections.abc import Callable, Iterable
from typing import Any

def cut(data: bytes, pos: int, first: bool, target: int) -> tuple[int, int, int, int, bool]: ...
def array_start(data: bytes) -> int: ...
def prepare_indicator(
    obj: object,
) -> tuple[str, str, tuple[str, ...], tuple[tuple[str, str], ...], bool, str | None] | None: ...
def prepare_object(
    obj: object,
) -> (
    tuple[str, tuple[str, str, tuple[str, ...], tuple[tuple[str, str], ...], bool, str | None]]
    | None
): ...
def set_spellings(table: dict[str, Any], silent: Iterable[str] = (), /) -> None: ...
def set_object_types(sco_kinds: dict[str, str | None], hash_kinds: dict[str, str]) -> None: ...
def key_of(kind: str, value: str) -> str | None: ...
def set_key_fallback(function: Callable[[str, str], str | None]) -> None: ...
def prepare_row(
    obj: object, index: int, tlp: int
) -> (
    tuple[
        int,
        str,
        str,
        str,
        tuple[str, ...],
        tuple[tuple[str, str], ...],
        bool,
        str | None,
        str,
        str,
        int,
    ]
    | None
): ...
def set_encoder(dumps: Callable[..., bytes], option: int, blake2b: Callable[..., Any]) -> None: ...
def untrack_tree(tree: object) -> None: ...
