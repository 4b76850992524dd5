"""Forecasts and durations in words, for the console panel, the API and alert texts."""

from __future__ import annotations

import math

from steward.intel import ForecastStatus

_UNITS = (("d", 86_400), ("h", 3_600), ("min", 60))


def duration(seconds: float | None) -> str:
    """``5 d 4 h``, ``3 h 20 min``, ``45 min``, ``< 1 min``; ``∞`` for infinity."""
    if seconds is None:
        return "-"
    if math.isinf(seconds):
        return "∞"
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return "< 1 min"
    parts = []
    rest = round(seconds)
    for name, size in _UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count} {name}")
        if len(parts) == 2:
            break
        if parts and not count:
            break
    return " ".join(parts)


def size(value: float | None) -> str:
    """Bytes as people read them (IEC units, 3 significant digits)."""
    if value is None or not math.isfinite(value):
        return "-"
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    v, i = abs(value), 0
    while v >= 1024 and i < len(units) - 1:
        v /= 1024
        i += 1
    sign = "-" if value < 0 else ""
    return f"{sign}{v:.3g} {units[i]}"


def headline(
    what: str,
    status: str,
    seconds: float | None,
    lower: float | None,
    upper: float | None,
) -> str:
    """One line: "/var full in 5 d 4 h (4 d 20 h to 5 d 12 h)", "/var: no trend", ..."""
    full = "exhausted" if what == "memory" else "full"
    if status == ForecastStatus.CROSSING:
        late = "∞" if upper is None else duration(upper)
        return f"{what} {full} in {duration(seconds)} ({duration(lower)} to {late})"
    if status == ForecastStatus.ALREADY_CROSSED:
        return f"{what} {full} now"
    if status == ForecastStatus.BEYOND_HORIZON:
        return f"{what}: shrinking slowly, not {full} soon"
    if status == ForecastStatus.INSUFFICIENT_DATA:
        return f"{what}: not enough data yet"
    return f"{what}: no trend"
