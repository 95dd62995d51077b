"""Correlation: which other objects share, contain or sit under a value.

Correlations are computed per value, never by scanning pairs: equal values
meet in the `observables.value` index, and containment in the ordered
`correlation_keys` written at ingest (see `correlate.tables`). The relations:

* `same` — another object holds the same value;
* `in-cidr` — an address (or CIDR) lies inside another object's CIDR;
* `contains` — a CIDR contains another object's address;
* `parent-domain` — a domain sits under another object's domain;
* `subdomain` — another object's domain sits under this one;
* `url-on-domain` — another object's URL has this domain (or a subdomain) as host;
* `url-host` — a URL's host is (or sits under) another object's domain.

Every object listed passes the caller's access policy in SQL, and so does
every count: a value held by more than `max_objects` objects *the caller may
see* is reported as over-correlating and not expanded. Nothing is said about
objects the caller may not see, not even that they exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, RowMapping, Select

from shieldwall.config import Settings
from shieldwall.correlate import repository
from shieldwall.correlate.hook import correlation_key_rows
from shieldwall.correlate.keys import (
    KEY_END,
    cidr_key_range,
    containing_networks,
    parent_domains,
    reversed_labels,
    url_host,
)
from shieldwall.db.engine import write_transaction
from shieldwall.errors import NotFound
from shieldwall.intel.observables import Observable
from shieldwall.intel.service import Reader, observable_of_query
from shieldwall.sharing.tlp import TLP
from shieldwall.sightings import repository as sightings_repository
from shieldwall.sightings.refs import sighting_ref_rows
from shieldwall.warninglists import default_index

#: A value held by more visible objects than this is over-correlating.
DEFAULT_MAX_OBJECTS = 100
_REBUILD_BATCH = 20_000


@dataclass(frozen=True, slots=True)
class CorrelationRules:
    max_objects: int = DEFAULT_MAX_OBJECTS
    #: Normalised values never correlated (MISP's correlation exclusions).
    excluded: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> CorrelationRules:
        # Optional settings: `correlation_max_objects`, `correlation_exclusions` (comma-separated).
        excluded = settings.correlation_exclusions
        return cls(
            max_objects=settings.correlation_max_objects,
            excluded=frozenset(value.strip() for value in excluded.split(",") if value.strip()),
        )


def _relations(kind: str, value: str) -> list[tuple[str, Select[Any]]]:
    relations = [("same", repository.holders_of_values(kind, [value]))]
    if kind in ("ipv4", "ipv6", "cidr"):
        networks = containing_networks(value)
        if networks:
            relations.append(("in-cidr", repository.holders_of_values("cidr", networks)))
    if kind == "cidr":
        bounds = cidr_key_range(value)
        if bounds is not None:
            relations.append(("contains", repository.holders_of_keys(*bounds, inclusive=True)))
    elif kind == "domain":
        parents = parent_domains(value)
        if parents:
            relations.append(("parent-domain", repository.holders_of_values("domain", parents)))
        below = "d:" + reversed_labels(value)
        relations.append(
            ("subdomain", repository.holders_of_keys(below, below + KEY_END, inclusive=False))
        )
        urls = "u:" + reversed_labels(value)
        relations.append(
            ("url-on-domain", repository.holders_of_keys(urls, urls + KEY_END, inclusive=True))
        )
    elif kind == "url":
        host = url_host(value)
        if host is not None:
            names = [host, *parent_domains(host)]
            relations.append(("url-host", repository.holders_of_values("domain", names)))
    return relations


def _object_view(row: RowMapping) -> dict[str, Any]:
    data = orjson.loads(row["data"])
    return {
        "id": row["stix_id"],
        "type": row["type"],
        "name": data.get("name"),
        "owner": row["owner"],
        "tlp": TLP(row["tlp"]).slug,
    }


def correlate_value(
    conn: Connection,
    reader: Reader,
    rules: CorrelationRules,
    found: Observable,
    exclude_stix_id: str | None,
) -> dict[str, Any]:
    """The visible objects related to one value, relation by relation."""
    kind, value = found
    result: dict[str, Any] = {
        "type": kind,
        "value": value,
        "warninglisted": default_index().is_listed(kind, value),
        "excluded": value in rules.excluded,
        "relations": [],
    }
    if result["excluded"]:
        return result
    policy = reader.policy()
    for name, holders in _relations(kind, value):
        rows = repository.visible_objects(
            conn, policy, holders, exclude_stix_id=exclude_stix_id, limit=rules.max_objects + 1
        )
        if not rows:
            continue
        over = len(rows) > rules.max_objects
        result["relations"].append(
            {
                "relation": name,
                "over_correlating": over,
                "objects": [] if over else [_object_view(row) for row in rows],
            }
        )
    return result


def correlations_of_object(
    conn: Connection, reader: Reader, rules: CorrelationRules, stix_id: str
) -> dict[str, Any]:
    pk = repository.newest_visible_pk(conn, reader.policy(), stix_id)
    if pk is None:
        raise NotFound(f"no object {stix_id!r}", where="object_id")
    correlations = [
        correlate_value(conn, reader, rules, found, exclude_stix_id=stix_id)
        for found in repository.observables_of(conn, pk)
    ]
    related = [c for c in correlations if c["relations"]]
    return {
        "object_id": stix_id,
        "correlations": related,
        "seen_elsewhere": _distinct_objects(related),
    }


def correlations_of_value(
    conn: Connection, reader: Reader, rules: CorrelationRules, value: str, kind: str | None
) -> dict[str, Any]:
    found = observable_of_query(value, kind)
    result = correlate_value(conn, reader, rules, found, exclude_stix_id=None)
    result["seen_elsewhere"] = _distinct_objects([result])
    return result


def _distinct_objects(correlations: list[dict[str, Any]]) -> int:
    """Distinct visible objects listed (over-correlating relations are not expanded)."""
    return len(
        {
            obj["id"]
            for correlation in correlations
            for relation in correlation["relations"]
            for obj in relation["objects"]
        }
    )


# --------------------------------------------------------------------------- rebuild


def recorrelate(engine: Engine, on_progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuilds every correlation key and sighting ref in one transaction; returns keys written."""
    written = 0
    with write_transaction(engine) as conn:
        total = repository.count_keyed_observables(conn)
        repository.clear_detection_indexes(conn)
        batch: list[tuple[int, str, str]] = []
        done = 0
        for row in repository.keyed_observables(conn):
            batch.append(row)
            if len(batch) >= _REBUILD_BATCH:
                written += _write_keys(conn, batch)
                done += len(batch)
                batch = []
                if on_progress is not None:
                    on_progress(done, total)
        written += _write_keys(conn, batch)
        if on_progress is not None:
            on_progress(total, total)
        sightings_repository.insert_refs(
            conn, sighting_ref_rows(list(repository.sighting_rows(conn)))
        )
    return written


def _write_keys(conn: Connection, batch: list[tuple[int, str, str]]) -> int:
    # One object may hold two URLs on one host: one key for both.
    pairs = correlation_key_rows(batch)
    repository.insert_keys(conn, pairs)
    return len(pairs)
