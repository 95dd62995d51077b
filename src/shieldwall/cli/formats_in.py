"""Helpers of `shieldwall import`: the inputs a command line names; where a rejection points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shieldwall.errors import BadInput
from shieldwall.formats.misp_feed import is_feed

#: Files a directory contributes to an import (other files, a LICENSE, are left alone).
IMPORTABLE_SUFFIXES = (".json", ".csv", ".txt")


def input_items(arguments: list[str]) -> list[Path | str]:
    """Files to import, and MISP feeds (URLs, directories with a manifest) as strings."""
    items: list[Path | str] = []
    for argument in arguments:
        if is_feed(argument):
            items.append(argument)
            continue
        path = Path(argument)
        if path.is_dir():
            items.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix in IMPORTABLE_SUFFIXES
                )
            )
        elif path.is_file():
            items.append(path)
        else:
            raise BadInput(f"{argument} does not exist", where=argument)
    return items


def rejection_where(rejection: dict[str, Any]) -> str:
    """Where a rejection points: the importer's own location, or the STIX object index."""
    field = rejection["field"]
    if isinstance(field, str) and field.startswith(("Event[", "line[")):
        return field
    return f"objects[{rejection['index']}]" + (f".{field}" if field else "")
