"""SQL of the match index: the indicators to index and what a hit shows.

The index follows the store by primary key: keys are assigned in commit order
(see `intel.tables`), so "every indicator row above the highest key indexed"
is exactly what the index has not seen yet, in every process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Connection, RowMapping, func, select, true

from shieldwall.correlate.tables import sighting_refs
from shieldwall.intel.tables import observables, stix_objects
from shieldwall.members.tables import organisations
from shieldwall.sharing.tables import sharing_groups

_IN_CHUNK = 900


@dataclass(slots=True)
class IndicatorRow:
    pk: int
    stix_id: str
    owner_org_id: int
    tlp: int
    dist: int
    group_id: int | None
    latest: bool
    revoked: bool
    found: list[tuple[str, str]] = field(default_factory=list)


def highest_pk(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(stix_objects.c.pk), 0))).scalar_one())


def indicators_between(
    conn: Connection, after_pk: int, upto_pk: int, *, only_live: bool
) -> Iterator[IndicatorRow]:
    """Indicator versions in (after_pk, upto_pk] with their observables, in key order.

    Streams: a start-up load of millions of rows never sits in memory as rows.
    """
    query = (
        select(
            stix_objects.c.pk,
            stix_objects.c.stix_id,
            stix_objects.c.owner_org_id,
            stix_objects.c.tlp,
            stix_objects.c.dist,
            stix_objects.c.group_id,
            stix_objects.c.is_latest,
            stix_objects.c.revoked,
            observables.c.kind,
            observables.c.value,
        )
        .select_from(stix_objects)
        .outerjoin(observables, observables.c.object_pk == stix_objects.c.pk)
        .where(
            stix_objects.c.pk > after_pk,
            stix_objects.c.pk <= upto_pk,
            stix_objects.c.type == "indicator",
        )
        .order_by(stix_objects.c.pk)
    )
    if only_live:
        query = query.where(stix_objects.c.is_latest == true(), stix_objects.c.revoked.is_(False))
    current: IndicatorRow | None = None
    result = conn.execution_options(yield_per=10_000).execute(query)
    for pk, stix_id, owner, tlp, dist, group, latest, revoked, kind, value in result:
        if current is None or current.pk != pk:
            if current is not None:
                yield current
            current = IndicatorRow(
                pk, stix_id, owner, tlp, dist, group, bool(latest), bool(revoked)
            )
        if kind is not None:
            current.found.append((kind, value))
    if current is not None:
        yield current


def earlier_versions(conn: Connection, upto_pk: int, keys: Sequence[tuple[str, int]]) -> list[int]:
    """Primary keys at or below `upto_pk` of the given (stix_id, owner) objects."""
    found: list[int] = []
    wanted = set(keys)
    ids = sorted({stix_id for stix_id, _ in wanted})
    for start in range(0, len(ids), _IN_CHUNK):
        query = select(
            stix_objects.c.pk, stix_objects.c.stix_id, stix_objects.c.owner_org_id
        ).where(
            stix_objects.c.stix_id.in_(ids[start : start + _IN_CHUNK]), stix_objects.c.pk <= upto_pk
        )
        found.extend(
            int(pk) for pk, stix_id, owner in conn.execute(query) if (stix_id, owner) in wanted
        )
    return found


def hit_details(
    conn: Connection, policy: ColumnElement[bool], pks: Sequence[int]
) -> dict[int, RowMapping]:
    """What a hit shows of each indicator, re-checked against the policy in SQL."""
    found: dict[int, RowMapping] = {}
    for start in range(0, len(pks), _IN_CHUNK):
        query = (
            select(
                stix_objects.c.pk,
                stix_objects.c.stix_id,
                stix_objects.c.version_key,
                stix_objects.c.tlp,
                stix_objects.c.dist,
                stix_objects.c.data,
                organisations.c.name.label("owner"),
                sharing_groups.c.name.label("group_name"),
            )
            .select_from(stix_objects)
            .join(organisations, organisations.c.id == stix_objects.c.owner_org_id)
            .outerjoin(sharing_groups, sharing_groups.c.id == stix_objects.c.group_id)
            .where(stix_objects.c.pk.in_(pks[start : start + _IN_CHUNK]), policy)
        )
        for row in conn.execute(query).mappings():
            found[int(row["pk"])] = row
    return found


def last_sightings(
    conn: Connection, policy: ColumnElement[bool], stix_ids: Sequence[str]
) -> dict[str, str]:
    """The latest `last_seen` (timestamp key) of the visible sightings of each object."""
    found: dict[str, str] = {}
    wanted = sorted(set(stix_ids))
    for start in range(0, len(wanted), _IN_CHUNK):
        query = (
            select(sighting_refs.c.sighting_of_ref, func.max(sighting_refs.c.last_seen))
            .select_from(sighting_refs)
            .join(stix_objects, stix_objects.c.pk == sighting_refs.c.object_pk)
            .where(
                sighting_refs.c.sighting_of_ref.in_(wanted[start : start + _IN_CHUNK]),
                stix_objects.c.is_latest == true(),
                policy,
            )
            .group_by(sighting_refs.c.sighting_of_ref)
        )
        for ref, last_seen in conn.execute(query):
            found[str(ref)] = str(last_seen)
    return found
