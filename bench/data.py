"""The benchmark's input: generated STIX 2.1 indicator bundles, cached under bench/out/.

A bundle is written by streaming `shieldwall.demo.generate.indicators()` through
`write_bundle()`, so generating a million indicators never holds them all in
memory. Files are keyed by count and seed and reused; a file is renamed into
place only when complete, so an interrupted run never leaves a truncated
bundle that a later run would trust.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from shieldwall.demo.generate import indicators, write_bundle

OUT = Path(__file__).resolve().with_name("out")


def bundle_path(count: int, seed: int) -> Path:
    return OUT / f"indicators-{count}-seed{seed}.json"


def ensure_bundle(count: int, seed: int) -> Path:
    """The bundle of `count` indicators for `seed`, generated on first use."""
    path = bundle_path(count, seed)
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    started = time.perf_counter()
    print(f"generating {count:,} indicators (seed {seed}) into {path} ...", file=sys.stderr)
    with partial.open("wb") as stream:
        written = write_bundle(stream, indicators(count, seed))
    partial.rename(path)
    elapsed = time.perf_counter() - started
    print(f"generated {written:,} indicators in {elapsed:.1f} s", file=sys.stderr)
    return path


def read_head(path: Path, limit: int) -> list[dict[str, Any]]:
    """The first `limit` objects of a bundle written by `write_bundle`.

    `write_bundle` puts the envelope on the first line and then one object per
    line (each but the last followed by a comma), which lets orjson read a
    sample without a streaming parser and without reading the whole file.
    """
    objects: list[dict[str, Any]] = []
    with path.open("rb") as stream:
        stream.readline()  # the envelope: {"type": "bundle", "id": ..., "objects": [
        for line in itertools.islice(stream, limit):
            body = line.rstrip().removesuffix(b",")
            if body.startswith(b"]"):
                break  # the end of the objects array
            objects.append(orjson.loads(body))
    return objects
