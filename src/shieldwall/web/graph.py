"""An object's neighbourhood, read through the policy and drawn as nodes around it.

Laid out on the server into plain SVG coordinates, so the page needs no
script to draw it; the same neighbours are listed as links beside it for
keyboard and screen-reader users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from shieldwall.errors import NotFound
from shieldwall.intel import service as intel
from shieldwall.web import presenting, repository
from shieldwall.web.presenting import object_title
from shieldwall.web.sessions import WebUser

WIDTH = 640
HEIGHT = 420
_RADIUS = 155
_LABEL_CHARS = 28
#: Neighbours shown at most, each way.
NEIGHBOURS = 24
#: How an object that names the centre relates to it, by its type.
_REFERRER_LABELS = {
    "report": "contains",
    "grouping": "contains",
    "sighting": "sighting of",
    "note": "note on",
    "opinion": "opinion on",
}


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


def _visible_or_none(conn: Connection, user: WebUser, stix_id: str) -> dict[str, Any] | None:
    try:
        return intel.get_object(conn, user.reader, stix_id)
    except NotFound:
        return None


def neighbourhood(conn: Connection, user: WebUser, view: dict[str, Any]) -> Graph:
    """What the object names and what names it, as far as the user may see both ends."""
    obj = view["object"]
    graph = Graph(center=view)
    for prop, ref in presenting.references(obj)[:NEIGHBOURS]:
        target = _visible_or_none(conn, user, ref)
        if target is not None:
            graph.add(Neighbour(target, prop.removesuffix("_refs").removesuffix("_ref"), True))
    referrers = repository.visible_referrers(conn, user.reader.policy(), obj["id"], NEIGHBOURS)
    for row in referrers:
        referrer = intel.object_view(row)
        data = referrer["object"]
        if data.get("type") != "relationship":
            label = _REFERRER_LABELS.get(str(data.get("type")), "refers to")
            graph.add(Neighbour(referrer, label, False))
            continue
        # A relationship is drawn as an edge between the centre and its other end.
        outgoing = data.get("source_ref") == obj["id"]
        other = _visible_or_none(
            conn, user, str(data.get("target_ref") if outgoing else data.get("source_ref"))
        )
        if other is not None:
            label = str(data.get("relationship_type", "related-to"))
            graph.add(Neighbour(other, label, outgoing, via=referrer))
    return graph
