"""Console helpers: data on stdout, everything else on stderr; JSON on request."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

stdout = Console()
stderr = Console(stderr=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def emit_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    stdout.print(table)


def note(message: str) -> None:
    # soft_wrap: a message stays one line whatever the width (scripts grep it).
    stderr.print(message, highlight=False, soft_wrap=True)
