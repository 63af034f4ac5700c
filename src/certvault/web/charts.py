"""Geometry of the dashboard's expiry chart (bars per week with a y axis), drawn as SVG by the template."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 12, 40  # room for the y axis labels and the week labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    start: str  # the week's first day, 2026-12-07
    label: str
    first: bool


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    bottom_y: float
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, value)


def nice_ceiling(value: int, ticks: int = 4) -> int:
    """The top of the y axis: `ticks` steps of 1, 2, 5, 10, 20, 50 ... reaching at least `value`."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if magnitude * factor * ticks >= value:
                return magnitude * factor * ticks
        magnitude *= 10


def expiry_chart(weeks: Sequence[dict[str, Any]]) -> Chart:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((int(w["count"]) for w in weeks), default=0))
    slot = plot_w / max(len(weeks), 1)
    bottom_y = TOP + plot_h
    bars = []
    for index, week in enumerate(weeks):
        height = plot_h * int(week["count"]) / top
        bars.append(Bar(x=LEFT + index * slot + slot * 0.15, y=bottom_y - height, width=slot * 0.7, height=height,
                        count=int(week["count"]), start=str(week["start"]), label=str(week["label"]),
                        first=index == 0))
    ticks = [(bottom_y - plot_h * i / 4, top * i // 4) for i in range(5)]
    return Chart(WIDTH, HEIGHT, LEFT, bottom_y, bars, ticks)
