"""hashes.csv: one `md5 of the value,event uuid` line per value, whichever MD5 is used."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest

from shieldwall.formats.export import misp_feed
from shieldwall.formats.export.misp import EMPTY_BATCH, AttributeBatch

UUID = "dfc4d880-de21-5a25-b226-8836d34a5dd2"
VALUES = ["203.0.113.7", "evil.example", "http://exämple.test/ä?q=1", "", "a" * 300]


def _recorded(*batches: AttributeBatch) -> bytes:
    spool = io.BytesIO()
    record = misp_feed._hash_recorder(spool, f",{UUID}\n")
    for batch in batches:
        record(batch)
    return spool.getvalue()


def _expected(values: list[str]) -> bytes:
    return b"".join(
        f"{hashlib.md5(value.encode()).hexdigest()},{UUID}\n".encode() for value in values
    )


def test_each_value_gets_its_md5_line_in_order() -> None:
    batches = (AttributeBatch(b"", 0, VALUES[:2]), EMPTY_BATCH, AttributeBatch(b"", 0, VALUES[2:]))
    assert _recorded(*batches) == _expected(VALUES)


def test_hashlib_fallback_gives_the_same_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python without the built-in `_md5` module hashes through hashlib instead."""
    import builtins

    real_import = builtins.__import__

    def without_md5(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "_md5":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_md5)
    fallback = misp_feed._builtin_md5()
    monkeypatch.setattr(misp_feed, "_md5", fallback)
    assert isinstance(fallback(b"x"), type(hashlib.md5(usedforsecurity=False)))
    assert _recorded(AttributeBatch(b"", 0, VALUES)) == _expected(VALUES)
