"""An object's neighbourhood as a picture: nodes on a circle around it, edges labelled.

Laid out on the server into plain SVG coordinates, so the page needs no
script to draw it; the same neighbours are listed as links beside it for
keyboard and screen-reader users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from shieldwall.web.presenting import object_title

WIDTH = 640
HEIGHT = 420
_RADIUS = 155
_LABEL_CHARS = 28


@dataclass(frozen=True, slots=True)
class Neighbour:
    """An object next to the centre: `outgoing` when the centre points at it."""

    view: dict[str, Any]
    label: str
    outgoing: bool
    #: The relationship object that links the two, when there is one.
    via: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Placed:
    neighbour: Neighbour
    x: float
    y: float
    text: str

    @property
    def label_x(self) -> float:
        return (self.x + WIDTH / 2) / 2

    @property
    def label_y(self) -> float:
        return (self.y + HEIGHT / 2) / 2


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


@dataclass
class Graph:
    center: dict[str, Any]
    neighbours: list[Neighbour] = field(default_factory=list)

    def add(self, neighbour: Neighbour) -> None:
        seen = {(n.view["id"], n.label) for n in self.neighbours}
        if (neighbour.view["id"], neighbour.label) not in seen:
            self.neighbours.append(neighbour)

    @property
    def width(self) -> int:
        return WIDTH

    @property
    def height(self) -> int:
        return HEIGHT

    @property
    def center_text(self) -> str:
        return _short(object_title(self.center["object"]))

    def placed(self) -> list[Placed]:
        count = len(self.neighbours)
        placed = []
        for index, neighbour in enumerate(self.neighbours):
            angle = -math.pi / 2 + 2 * math.pi * index / max(count, 1)
            x = WIDTH / 2 + _RADIUS * 1.45 * math.cos(angle)
            y = HEIGHT / 2 + _RADIUS * math.sin(angle)
            text = _short(object_title(neighbour.view["object"]))
            placed.append(Placed(neighbour, round(x, 1), round(y, 1), text))
        return placed
