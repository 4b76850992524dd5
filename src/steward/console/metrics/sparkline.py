"""Inline sparklines as SVG path data, drawn on the server (no script needed to read them)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 120
HEIGHT = 26


@dataclass(frozen=True)
class Sparkline:
    line: str  # SVG path data of the line, broken at gaps
    area: str  # the same, closed down to the baseline
    width: int = WIDTH
    height: int = HEIGHT


def sparkline(
    values: Sequence[float],
    low: float | None = 0.0,
    high: float | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Sparkline | None:
    """Path data for ``values`` (evenly spaced, NaN = gap) between ``low`` and ``high``.

    ``None`` bounds follow the data. ``None`` when there is nothing to draw.
    """
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    lo = min(finite) if low is None else min(low, min(finite))
    hi = max(finite) if high is None else max(high, max(finite))
    if hi <= lo:
        hi = lo + 1.0
    n = len(values)
    pad = 1.5  # keep the stroke inside the box

    def x(i: int) -> float:
        return width * i / (n - 1) if n > 1 else width / 2

    def y(v: float) -> float:
        return pad + (height - 2 * pad) * (1 - (v - lo) / (hi - lo))

    line, area, run = [], [], []
    for i, v in enumerate([*values, math.nan]):
        if i < n and math.isfinite(v):
            run.append((x(i), y(v)))
            continue
        if run:
            points = "L".join(f"{px:.1f},{py:.1f}" for px, py in run)
            line.append(f"M{points}")
            area.append(f"M{run[0][0]:.1f},{height}L{points}L{run[-1][0]:.1f},{height}Z")
            run = []
    return Sparkline(line="".join(line), area="".join(area), width=width, height=height)
