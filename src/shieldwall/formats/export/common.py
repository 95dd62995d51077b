"""Small pieces every format shares: TLP labels, timestamps, safe text."""

from __future__ import annotations

from calendar import timegm
from functools import lru_cache

from shieldwall.sharing.tlp import TLP

#: TLP level (as stored) -> `TLP:AMBER` and `amber`, computed once.
TLP_LABEL: dict[int, str] = {int(level): level.label for level in TLP}
TLP_SLUG: dict[int, str] = {int(level): level.slug for level in TLP}


@lru_cache(maxsize=4096)
def _day_start(day: str) -> int:
    """Seconds since 1970 of a day (`YYYY-MM-DD`) at midnight UTC."""
    return timegm((int(day[0:4]), int(day[5:7]), int(day[8:10]), 0, 0, 0, 0, 0, 0))


def epoch_seconds(version_key: str) -> int:
    """Seconds since 1970 of a stored version key (`YYYY-MM-DDTHH:MM:SS.fffffffffZ`).

    Keys are mostly distinct but their days are few: the day is cached, the
    time of day is three small integers.
    """
    return (
        _day_start(version_key[:10])
        + int(version_key[11:13]) * 3600
        + int(version_key[14:16]) * 60
        + int(version_key[17:19])
    )


def stix_uuid(stix_id: str) -> str:
    """The UUID part of a STIX identifier."""
    return stix_id.partition("--")[2]


def single_line(value: str) -> bool:
    """Line-oriented formats cannot carry a value with a line break or a tab."""
    return "\n" not in value and "\r" not in value and "\t" not in value
