"""Matching observables against the indicators a caller may see.

`IndexHolder` owns one process's index of one store. Before each use it asks
the store for its highest primary key and, if anything was committed since,
indexes the new indicator versions and retires the ones they replace. Every
process over a shared PostgreSQL store does the same, so a new indicator
matches in every process from the first request after its commit, whatever
process or node imported it. Tier and group changes need nothing: the caller's
principal is read per request and the policy applied per hit.

`match()` answers a batch: look-ups in the index, the policy per hit through
the caller's `View`, then one SQL read of the hit indicators (through the SQL
form of the same policy), their sightings and their warninglist flags.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, RowMapping

from shieldwall import scoring
from shieldwall.db.engine import read_transaction
from shieldwall.errors import BadInput
from shieldwall.intel.observables import KINDS, Observable, detect, normalise
from shieldwall.intel.service import Reader
from shieldwall.match import repository
from shieldwall.match.index import Hit, MatchIndex, View, marking
from shieldwall.sharing.tlp import TLP, DistKind
from shieldwall.warninglists import default_index

log = logging.getLogger(__name__)


class IndexHolder:
    """One process's match index over one store, caught up before each use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.index = MatchIndex()
        self.seen_pk = 0
        self._lock = threading.Lock()

    def current(self) -> MatchIndex:
        with self._lock, read_transaction(self.engine) as conn:
            self.catch_up(conn)
        return self.index

    def catch_up(self, conn: Connection) -> None:
        """Indexes what was committed since the last call; the caller holds the lock."""
        upto = repository.highest_pk(conn)
        if upto <= self.seen_pk:
            return
        first_load = self.seen_pk == 0
        rows = repository.indicators_between(conn, self.seen_pk, upto, only_live=first_load)
        if first_load:
            for row in rows:
                self._add(row)
        else:
            self._apply_changes(conn, list(rows))
        self.seen_pk = upto

    def _apply_changes(self, conn: Connection, rows: list[repository.IndicatorRow]) -> None:
        # A new latest version (revoked or not) retires every earlier one.
        replaced = [(row.stix_id, row.owner_org_id) for row in rows if row.latest]
        for pk in repository.earlier_versions(conn, self.seen_pk, replaced):
            self.index.remove(pk)
        for row in rows:
            self._add(row)

    def _add(self, row: repository.IndicatorRow) -> None:
        # A row no longer latest when read was replaced within the same batch.
        if row.latest and not row.revoked and row.found:
            self.index.add(
                row.pk, marking(row.owner_org_id, row.tlp, row.dist, row.group_id), row.found
            )


def start_match_index(engine: Engine) -> IndexHolder:
    """Creates the node's index and loads it in the background (first requests wait for it)."""
    holder = IndexHolder(engine)

    def load() -> None:
        try:
            holder.current()
            log.info("match index ready: %d indicators", holder.index.live)
            default_index()  # the warninglists take seconds to load: not on a first hit
            # Both live as long as the process: out of the collector's
            # generations, full collections no longer walk them (measured at
            # 10 M indicators: 0.08-0.34 s per full collection, several per
            # 400,000 look-ups).
            gc.freeze()
        except Exception:  # the next request retries the load and reports its error
            log.exception("loading the match index failed")

    threading.Thread(target=load, name="match-index-load", daemon=True).start()
    return holder


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True, slots=True)
class MatchOptions:
    include_warninglisted: bool = False
    min_score: float | None = None


@dataclass(frozen=True, slots=True)
class Wanted:
    """One observable to match: its type when the caller gave one, and the raw value."""

    kind: str | None
    raw: str


@dataclass(slots=True)
class _Found:
    position: int
    wanted: Wanted
    observable: Observable
    hits: list[tuple[Hit, list[int]]] = field(default_factory=list)


def parse_wanted(wanted: Wanted) -> Observable | None:
    if wanted.kind is None:
        return detect(wanted.raw)
    return normalise(wanted.kind, wanted.raw)


def match(
    conn: Connection,
    index: MatchIndex,
    reader: Reader,
    items: Sequence[Wanted],
    options: MatchOptions,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Hits of each observable among the indicators the reader may see."""
    view = View(index, reader.principal, anonymous_public=reader.anonymous_public)
    unrecognised: list[dict[str, Any]] = []
    # Positions of the observables of each kind, looked up one batch per kind.
    by_kind: dict[str, list[tuple[int, str]]] = {}
    parsed: list[Observable | None] = []
    for position, wanted in enumerate(items):
        observable = parse_wanted(wanted)
        parsed.append(observable)
        if observable is None:
            unrecognised.append({"index": position, "value": wanted.raw, "type": wanted.kind})
        else:
            by_kind.setdefault(observable[0], []).append((position, observable[1]))
    found: dict[int, _Found] = {}
    for kind, batch in by_kind.items():
        values = [value for _, value in batch]
        for at, hit_kind, value, slots in view.lookup_many(kind, values, normalised=True):
            position = batch[at][0]
            item = found.get(position)
            if item is None:
                observable = parsed[position]
                assert observable is not None  # only recognised values were looked up
                item = found[position] = _Found(position, items[position], observable)
            shown = [slots] if isinstance(slots, int) else slots
            item.hits.append((Hit(hit_kind, value, slots), shown))
    in_order = [found[position] for position in sorted(found)]
    results = _describe(conn, index, reader, in_order, options, now or datetime.now(UTC))
    return {"checked": len(items), "hits": results, "unrecognised": unrecognised}


def _describe(
    conn: Connection,
    index: MatchIndex,
    reader: Reader,
    found: list[_Found],
    options: MatchOptions,
    now: datetime,
) -> list[dict[str, Any]]:
    pks = sorted({index.pks[slot] for item in found for _, slots in item.hits for slot in slots})
    if not pks:
        return []
    policy = reader.policy()
    details = repository.hit_details(conn, policy, pks)
    sighted = repository.last_sightings(conn, policy, [row["stix_id"] for row in details.values()])
    results = []
    for item in found:
        indicators = []
        for hit, slots in item.hits:
            listed = default_index().is_listed(hit.kind, hit.value)
            if listed and not options.include_warninglisted:
                continue
            for slot in slots:
                row = details.get(index.pks[slot])
                if row is None:
                    continue  # the SQL policy is the last word
                view = indicator_view(row, hit, listed, sighted.get(row["stix_id"]), now)
                if options.min_score is None or view["score"] >= options.min_score:
                    indicators.append(view)
        if indicators:
            kind, value = item.observable
            results.append(
                {
                    "index": item.position,
                    "input": item.wanted.raw,
                    "type": kind,
                    "value": value,
                    "indicators": indicators,
                }
            )
    return results


def _key_time(key: str) -> datetime:
    """A STIX timestamp key (nanosecond precision) as a datetime.

    fromisoformat, not strptime: strptime took a quarter of a 10,000-value
    match request's CPU time (13,000 hits, ~35 us each with its locale look-up).
    """
    return datetime.fromisoformat(key[:26]).replace(tzinfo=UTC)


def indicator_view(
    row: RowMapping, hit: Hit, listed: bool, last_seen: str | None, now: datetime
) -> dict[str, Any]:
    data = orjson.loads(row["data"])
    refreshed = max(row["version_key"], last_seen or "")
    dist = DistKind(row["dist"])
    distribution = f"group:{row['group_name']}" if dist is DistKind.GROUP else dist.name.lower()
    return {
        "id": row["stix_id"],
        "name": data.get("name"),
        "owner": row["owner"],
        "tlp": TLP(row["tlp"]).slug,
        "distribution": distribution,
        "matched": {"type": hit.kind, "value": hit.value},
        "score": scoring.score(
            scoring.base_of(data.get("confidence")), hit.kind, _key_time(refreshed), now
        ),
        "warninglisted": listed,
        "last_sighted": last_seen,
    }


def check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise BadInput(
            f"unknown observable type {kind!r}; use one of {sorted(KINDS)}", where="type"
        )
