"""Small pieces every format shares: TLP labels, timestamps, safe text."""

from __future__ import annotations

from calendar import timegm

from shieldwall.sharing.tlp import TLP

#: TLP level (as stored) -> `TLP:AMBER` and `amber`, computed once.
TLP_LABEL: dict[int, str] = {int(level): level.label for level in TLP}
TLP_SLUG: dict[int, str] = {int(level): level.slug for level in TLP}


#: Days whose start is remembered (flat memory: a store spans few days).
_DAY_CACHE = 4096
#: `YYYY-MM-DD` -> seconds since 1970 at its start (read directly by hot loops).
DAY_STARTS: dict[str, int] = {}
#: `HH:MM` and `SS` of a version key -> seconds: one dictionary look-up each
#: instead of three int() parses (0.7 us a key, for every value of an export).
CLOCK_MINUTES = {f"{h:02d}:{m:02d}": h * 3600 + m * 60 for h in range(24) for m in range(60)}
CLOCK_SECONDS = {f"{s:02d}": s for s in range(61)}


def _day_start(day: str) -> int:
    """Seconds since 1970 of a day (`YYYY-MM-DD`) at midnight UTC, remembered."""
    if len(DAY_STARTS) >= _DAY_CACHE:
        DAY_STARTS.clear()
    found = DAY_STARTS[day] = timegm(
        (int(day[0:4]), int(day[5:7]), int(day[8:10]), 0, 0, 0, 0, 0, 0)
    )
    return found


def epoch_seconds(version_key: str) -> int:
    """Seconds since 1970 of a stored version key (`YYYY-MM-DDTHH:MM:SS.fffffffffZ`).

    Keys are mostly distinct but their days are few: the day is cached, the
    time of day is looked up (any other text is parsed, as it always was).
    """
    day = DAY_STARTS.get(version_key[:10])
    if day is None:
        day = _day_start(version_key[:10])
    minutes = CLOCK_MINUTES.get(version_key[11:16])
    seconds = CLOCK_SECONDS.get(version_key[17:19])
    if minutes is None or seconds is None:
        return (
            day
            + int(version_key[11:13]) * 3600
            + int(version_key[14:16]) * 60
            + int(version_key[17:19])
        )
    return day + minutes + seconds


def stix_uuid(stix_id: str) -> str:
    """The UUID part of a STIX identifier."""
    return stix_id.partition("--")[2]


def single_line(value: str) -> bool:
    """Line-oriented formats cannot carry a value with a line break or a tab."""
    return "\n" not in value and "\r" not in value and "\t" not in value
