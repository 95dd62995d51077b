"""Indicator scores that decay with age: the MISP decaying model.

    score = base * (1 - (t / lifetime) ** (1 / speed))

`t` is the time since the indicator was last refreshed: its own `modified`
or, if later, the `last_seen` of a sighting of it that the caller may see.
`lifetime` and `speed` depend on the kind of observable: an IP address is
reassigned within weeks, a file hash names the same file forever. `speed` 1
is a straight line; below 1 the score holds up and then falls late; above 1
it falls early and then flattens. Past its lifetime the score is 0.

`base` is the indicator's STIX `confidence` (0-100) when it has one, else
`DEFAULT_BASE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: The base score of an indicator without a STIX `confidence`.
DEFAULT_BASE = 75.0

_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Decay:
    lifetime_days: float
    speed: float


#: Per observable kind; MISP's "NIDS Simple Decaying" model uses 30 days for IPs.
DECAY: dict[str, Decay] = {
    "ipv4": Decay(30, 2.0),
    "ipv6": Decay(30, 2.0),
    "cidr": Decay(60, 2.0),
    "url": Decay(60, 1.0),
    "domain": Decay(180, 1.0),
    "email": Decay(180, 1.0),
    "filename": Decay(365, 1.0),
    "md5": Decay(3650, 0.5),
    "sha1": Decay(3650, 0.5),
    "sha256": Decay(3650, 0.5),
    "sha512": Decay(3650, 0.5),
}
_FALLBACK = Decay(90, 1.0)


def decay_for(kind: str) -> Decay:
    return DECAY.get(kind, _FALLBACK)


def score(base: float, kind: str, refreshed_at: datetime, now: datetime) -> float:
    """The decayed score, rounded to one decimal; `base` where `refreshed_at` is in the future."""
    decay = decay_for(kind)
    age = max((now - refreshed_at).total_seconds(), 0.0) / _DAY
    if age >= decay.lifetime_days:
        return 0.0
    value = base * (1.0 - (age / decay.lifetime_days) ** (1.0 / decay.speed))
    return float(round(max(value, 0.0), 1))


def base_of(confidence: object) -> float:
    """STIX `confidence` (an integer 0-100) as a base score, or the default."""
    if isinstance(confidence, int) and not isinstance(confidence, bool) and 0 <= confidence <= 100:
        return float(confidence)
    return DEFAULT_BASE
