"""A small, deterministic fleet of series exercising the engine's edge cases.

Counters with resets, a late-starting series, a series with a gap, jittered scrape times,
a NaN sample, an info metric for ``group_left`` and large gauge values.
"""

from __future__ import annotations

import random

from tests.promql.prometheus_harness import SeriesPoints

HOUR = 3_600_000
MINUTE = 60_000
INTERVAL = 15_000
INSTANCES = ("h1", "h2", "h3")


def _times(start: int, end: int, phase: int, jitter_ms: int, rng: random.Random) -> list[int]:
    times, t = [], start + phase
    while t < end:
        times.append(t + (rng.randint(-jitter_ms, jitter_ms) if jitter_ms else 0))
        t += INTERVAL
    return times


def fleet(start: int, end: int, seed: int = 7) -> list[SeriesPoints]:
    rng = random.Random(seed)
    out: list[SeriesPoints] = []
    for n, inst in enumerate(INSTANCES):
        phase = n * 5_000
        jitter = 900 if inst == "h2" else 0
        for method in ("GET", "POST"):
            times = _times(start, end, phase, jitter, rng)
            if inst == "h3" and method == "POST":
                times = [t for t in times if t >= start + HOUR]  # starts late
            if inst == "h1" and method == "POST":
                gap = (start + 90 * MINUTE, start + 100 * MINUTE)
                times = [t for t in times if not gap[0] <= t < gap[1]]
            rate = rng.uniform(0.5, 5.0)
            value, points = float(rng.randint(0, 500)), []
            for i, t in enumerate(times):
                if inst == "h2" and method == "GET" and i in (240, 480):
                    value = float(rng.randint(0, 3))  # a counter reset (restart)
                value += round(rate * 15 * rng.uniform(0.5, 1.5))
                points.append((t, value))
            out.append(
                (
                    {
                        "__name__": "http_requests_total",
                        "job": "api",
                        "instance": inst,
                        "method": method,
                    },
                    points,
                )
            )
        for cpu in ("0", "1"):
            for mode, share in (("idle", 0.7), ("user", 0.2), ("system", 0.1)):
                total, points = rng.uniform(1e4, 1e5), []
                for t in _times(start, end, phase, jitter, rng):
                    total += round(15 * share * rng.uniform(0.6, 1.4), 3)
                    points.append((t, round(total, 3)))
                out.append(
                    (
                        {
                            "__name__": "node_cpu_seconds_total",
                            "instance": inst,
                            "cpu": cpu,
                            "mode": mode,
                        },
                        points,
                    )
                )
        free, points = rng.uniform(2e9, 8e9), []
        for t in _times(start, end, phase, jitter, rng):
            free = max(1e8, free + rng.uniform(-5e7, 5e7))
            points.append((t, float(round(free))))
        out.append(({"__name__": "node_memory_MemFree_bytes", "instance": inst}, points))
        for device in ("sda", "sdb"):
            size = rng.uniform(1e11, 1e12)
            points = [
                (t, float(round(size - i * 1e5)))
                for i, t in enumerate(_times(start, end, phase, 0, rng))
            ]
            out.append(
                ({"__name__": "disk_free_bytes", "instance": inst, "device": device}, points)
            )
        for sensor in ("a", "b"):
            temp, points = rng.uniform(25, 45), []
            for i, t in enumerate(_times(start, end, phase, jitter, rng)):
                temp = min(80.0, max(10.0, temp + rng.uniform(-1, 1)))
                value = float("nan") if (inst, sensor, i) == ("h1", "a", 300) else round(temp, 2)
                points.append((t, value))
            out.append(
                (
                    {"__name__": "temperature_celsius", "instance": inst, "sensor": sensor},
                    points,
                )
            )
        up_points = []
        for i, t in enumerate(_times(start, end, phase, 0, rng)):
            down = inst == "h3" and 200 <= i < 260
            up_points.append((t, 0.0 if down else 1.0))
        out.append(({"__name__": "up", "job": "api", "instance": inst}, up_points))
        role = "db" if inst == "h3" else "web"
        info_points = [(t, 1.0) for t in _times(start, end, phase, 0, rng)]
        out.append(({"__name__": "machine_info", "instance": inst, "role": role}, info_points))
    return out
