"""A bar chart of counts per day, laid out on the server as plain SVG coordinates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH = 600
HEIGHT = 160
_AXIS = 22
_TOP = 12
#: Room on each side for the first and last day's labels.
_SIDE = 24


@dataclass(frozen=True, slots=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float
    labelled: bool


class Chart:
    def __init__(self, per_day: list[tuple[date, int]]) -> None:
        self.per_day = per_day
        self.width = WIDTH
        self.height = HEIGHT
        self.baseline = HEIGHT - _AXIS

    @property
    def total(self) -> int:
        return sum(count for _, count in self.per_day)

    @property
    def peak(self) -> int:
        return max((count for _, count in self.per_day), default=0)

    def bars(self) -> list[Bar]:
        slots = max(len(self.per_day), 1)
        slot = (WIDTH - 2 * _SIDE) / slots
        scale = (self.baseline - _TOP) / max(self.peak, 1)
        bars = []
        for index, (day, count) in enumerate(self.per_day):
            height = count * scale
            bars.append(
                Bar(
                    day=day,
                    count=count,
                    x=round(_SIDE + index * slot + slot * 0.15, 1),
                    y=round(self.baseline - height, 1),
                    width=round(slot * 0.7, 1),
                    height=round(height, 1),
                    # Every seventh day is named under the axis, counted from the last.
                    labelled=(slots - 1 - index) % 7 == 0,
                )
            )
        return bars
