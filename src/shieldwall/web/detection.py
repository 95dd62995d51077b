"""What detection adds to the pages: correlations, sightings, scores and the sightings chart.

Everything is read through the detection services (`correlate.service`,
`sightings.service`) and the intel service with the user's `Reader`, so a
correlation or a sighting appears only when the user may see both sides.
Scores use the decaying model of `shieldwall.scoring`, refreshed by the most
recent visible sighting, as the match API computes them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from shieldwall import scoring
from shieldwall.config import Settings
from shieldwall.correlate import service as correlate
from shieldwall.correlate.service import CorrelationRules
from shieldwall.intel import service as intel
from shieldwall.intel.repository import ObjectFilters
from shieldwall.sightings import service as sightings
from shieldwall.web import repository
from shieldwall.web.sessions import WebUser

#: Sightings read, at most, to draw the dashboard's chart.
_CHART_SCAN = 5000
_PAGE = 500


def _stix_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def scores(
    view: dict[str, Any], sighted: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """The decayed score of an indicator per observable type it holds."""
    obj = view["object"]
    if view["type"] != "indicator":
        return []
    refreshed = _stix_time(obj.get("modified") or obj.get("created")) or now
    for sighting in sighted:
        seen = _stix_time(sighting.get("last_seen"))
        if seen is not None and seen > refreshed:
            refreshed = seen
    base = scoring.base_of(obj.get("confidence"))
    kinds = dict.fromkeys(o["type"] for o in view.get("observables", []))
    return [
        {
            "type": kind,
            "score": scoring.score(base, kind, refreshed, now),
            "lifetime_days": scoring.decay_for(kind).lifetime_days,
        }
        for kind in kinds
    ]


def of_object(
    conn: Connection, user: WebUser, settings: Settings, view: dict[str, Any], now: datetime
) -> dict[str, Any]:
    rules = CorrelationRules.from_settings(settings)
    correlations = correlate.correlations_of_object(conn, user.reader, rules, view["id"])
    sighted = sightings.list_sightings(conn, user.reader, view["id"])["sightings"]
    return {
        "correlations": correlations["correlations"],
        "seen_elsewhere": correlations["seen_elsewhere"],
        "sightings": sighted,
        "scores": scores(view, sighted, now),
    }


@dataclass(frozen=True, slots=True)
class Touch:
    """One of the user's organisation's objects related to another organisation's."""

    mine: dict[str, Any]
    value: str
    relation: str
    theirs: dict[str, Any]


def touching_org(conn: Connection, user: WebUser, settings: Settings, scan: int) -> list[Touch]:
    """Correlations between the organisation's `scan` newest objects and others' objects."""
    rules = CorrelationRules.from_settings(settings)
    policy = user.reader.policy()
    touches: list[Touch] = []
    for row in repository.newest_owned(conn, policy, user.principal.org_id or 0, scan):
        mine = intel.object_view(row)
        found = correlate.correlations_of_object(conn, user.reader, rules, mine["id"])
        for correlation in found["correlations"]:
            for relation in correlation["relations"]:
                touches.extend(
                    Touch(mine, correlation["value"], relation["relation"], theirs)
                    for theirs in relation["objects"]
                    if theirs["owner"] != user.org
                )
    return touches


def sightings_per_day(
    conn: Connection, user: WebUser, days: int, now: datetime
) -> list[tuple[date, int]]:
    """Visible sightings counted by the day they were last seen, over the last `days` days."""
    start = (now - timedelta(days=days - 1)).date()
    filters = ObjectFilters(
        types=("sighting",), added_since=datetime.combine(start, datetime.min.time(), UTC)
    )
    per_day: Counter[date] = Counter()
    cursor: str | None = None
    for _ in range(_CHART_SCAN // _PAGE):
        page = intel.list_objects(conn, user.reader, filters, cursor, _PAGE)
        for view in page["objects"]:
            obj = view["object"]
            seen = _stix_time(obj.get("last_seen") or obj.get("first_seen") or obj.get("created"))
            if seen is not None and seen.date() >= start:
                count = obj.get("count")
                per_day[seen.date()] += count if isinstance(count, int) and count > 0 else 1
        if not page["more"]:
            break
        cursor = page["next"]
    return [
        (start + timedelta(days=offset), per_day[start + timedelta(days=offset)])
        for offset in range(days)
    ]
