"""`min_score` on exports: the decaying score of `shieldwall.scoring`, as matching computes it.

A value's score is its object's base (STIX `confidence`, or the default)
decayed by the value's kind over the time since the object was refreshed:
its own `modified` or, if later, the `last_seen` of a sighting of it that
the caller may see. A value passes when its score is at least `min_score`;
an object (stix21, misp) passes when one of its values does, and an object
without values has no score, so it meets no minimum (as with
`min_confidence`). The score is computed for one instant, `now`, fixed when
the export is prepared, so every row of one export is scored alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache

from shieldwall import scoring


@lru_cache(maxsize=65536)
def key_time(key: str) -> datetime:
    """A stored timestamp key (`YYYY-MM-DDTHH:MM:SS.fffffffffZ`) as a UTC datetime."""
    return datetime.strptime(key[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def refreshed_at(time_key: str, last_seen: str | None) -> datetime:
    """When the object was last refreshed: its version or a later visible sighting.

    `time_key` is `repository.time_key`: an SCO's is when it was stored.
    """
    return key_time(max(time_key, last_seen or ""))


def value_passes(
    min_score: float, confidence: object, kind: str, refreshed: datetime, now: datetime
) -> bool:
    return scoring.score(scoring.base_of(confidence), kind, refreshed, now) >= min_score


def object_passes(
    min_score: float, confidence: object, kinds: Iterable[str], refreshed: datetime, now: datetime
) -> bool:
    base = scoring.base_of(confidence)
    return any(scoring.score(base, kind, refreshed, now) >= min_score for kind in kinds)
