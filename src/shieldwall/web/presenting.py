"""How values look on a page: flags, TLP badges, times, STIX names. Pure functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shieldwall.sharing.tlp import TLP

_REGIONAL_A = 0x1F1E6


def flag(country: str | None) -> str:
    """The flag emoji of an ISO 3166 two-letter code: two regional-indicator letters."""
    if not country or len(country) != 2 or not country.isascii() or not country.isalpha():
        return ""
    return "".join(chr(_REGIONAL_A + ord(letter) - ord("A")) for letter in country.upper())


def tlp_label(slug: str) -> str:
    return TLP.parse(slug).label


def tlp_class(slug: str) -> str:
    """The CSS class of a TLP badge (colours in static/app.css, from FIRST TLP 2.0)."""
    return "tlp-" + TLP.parse(slug).name.lower().replace("_", "-")


def when(value: datetime | str | None) -> str:
    """A time as people read it: `2024-01-31 14:05 UTC`."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def day(value: datetime | str | None) -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d")


def object_title(obj: dict[str, Any]) -> str:
    """What to call a STIX object: its name, value, pattern or type."""
    if obj.get("type") == "sighting":
        count = obj.get("count")
        where = obj.get("x_shieldwall_where")
        times = f", seen {count} times" if isinstance(count, int) else ""
        return f"sighting{times}" + (f" at {where}" if isinstance(where, str) and where else "")
    for key in ("name", "value", "pattern", "relationship_type"):
        text = obj.get(key)
        if isinstance(text, str) and text:
            return text if len(text) <= 160 else text[:157] + "..."
    return str(obj.get("type", "object"))


def references(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(property, id) for every `*_ref` and `*_refs` of an object, markings left out."""
    found: list[tuple[str, str]] = []
    for key, value in obj.items():
        if key in ("object_marking_refs", "created_by_ref") or key.startswith("x_"):
            continue
        if key.endswith("_ref") and isinstance(value, str):
            found.append((key, value))
        elif key.endswith("_refs") and isinstance(value, list):
            found.extend((key, ref) for ref in value if isinstance(ref, str))
    return found
