"""Scanning logs: extract observables block by block, match them, total the hits.

The scan does not know where matching happens: a `Matcher` answers a list of
observables with the hits the caller may see (the local node's index, or a
remote node's `POST /api/v1/match`). A local scan also passes a `prefilter`,
the index's policy-free "does anything hold these values", one batch per kind:
most values of a log hit nothing, and that test costs a dictionary probe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import Engine

from shieldwall.db.engine import read_transaction
from shieldwall.intel.observables import Observable
from shieldwall.intel.service import Reader
from shieldwall.match.extract import blocks, read_block
from shieldwall.match.index import MatchIndex
from shieldwall.match.service import MatchOptions, Wanted, match

#: Observables -> the hits among them, in the `POST /api/v1/match` form.
Matcher = Callable[[list[Observable]], list[dict[str, Any]]]
#: Distinct values per kind -> those the index holds anything for (policy-free), each as
#: its kind and its position among that kind's values (the position finds its count).
Prefilter = Callable[[Mapping[str, Sequence[str]]], list[tuple[str, int]]]


@dataclass
class ScanResult:
    lines: int = 0
    observables: int = 0
    #: (type, value) -> the hit, with its `count` of occurrences
    hits: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        return sorted(
            self.hits.values(), key=lambda hit: (-hit["count"], hit["type"], hit["value"])
        )


def scan(
    streams: Iterable[IO[bytes]],
    matcher: Matcher,
    prefilter: Prefilter | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ScanResult:
    """Matches every observable of the streams; `on_progress` gets bytes read so far."""
    result = ScanResult()
    done = 0
    for stream in streams:
        for data in blocks(stream):
            _scan_block(data, matcher, prefilter, result)
            done += len(data)
            if on_progress is not None:
                on_progress(done)
    return result


def _scan_block(
    data: bytes, matcher: Matcher, prefilter: Prefilter | None, result: ScanResult
) -> None:
    block = read_block(data)
    result.lines += block.lines
    values = block.values
    result.observables += sum(map(len, values.values()))
    if prefilter is None:
        held = [(kind, at) for kind, found in values.items() for at in range(len(found))]
    else:
        held = prefilter(values)
    if not held:
        return
    hits = matcher([(kind, values[kind][at]) for kind, at in held])
    for position, hit in {hit["index"]: hit for hit in hits}.items():
        kind, at = held[position]
        key = (hit["type"], hit["value"])
        total = result.hits.get(key)
        if total is None:
            total = {
                "type": hit["type"],
                "value": hit["value"],
                "count": 0,
                "indicators": hit["indicators"],
            }
            result.hits[key] = total
        total["count"] += block.counts[kind][at]


def local_matcher(
    engine: Engine, index: MatchIndex, reader: Reader, options: MatchOptions
) -> tuple[Matcher, Prefilter]:
    """Matching on this node's index as `reader`, and its policy-free prefilter."""

    def matcher(observables: list[Observable]) -> list[dict[str, Any]]:
        wanted = [Wanted(kind, value) for kind, value in observables]
        with read_transaction(engine) as conn:
            return list(match(conn, index, reader, wanted, options)["hits"])

    return matcher, index_prefilter(index)


def index_prefilter(index: MatchIndex) -> Prefilter:
    """The values the index holds anything for, looked up one batch per kind."""

    def prefilter(by_kind: Mapping[str, Sequence[str]]) -> list[tuple[str, int]]:
        held: list[tuple[str, int]] = []
        for kind, values in by_kind.items():
            held += [(kind, hit[0]) for hit in index.lookup_many(kind, values)]
        # An address in a CIDR and equal to another hits twice.
        return list(dict.fromkeys(held))

    return prefilter
