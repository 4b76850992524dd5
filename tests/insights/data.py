"""Series as the agent's ingest stores them, generated with literal, readable shapes."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable

from steward.inventory.models import Device
from steward.tsdb.types import MetricType, Sample, SeriesMetadata

STEP_MS = 10_000
CPU_MODES = ("user", "system", "iowait", "idle")


def device_labels(device: Device) -> dict[str, str]:
    return {
        "instance": device.hostname,
        "job": "steward",
        "steward_device": str(device.pk),
        "steward_org": device.organization.slug,
    }


def gauge(
    device: Device,
    name: str,
    start_ms: int,
    end_ms: int,
    value: Callable[[float], float],
    /,
    **labels: str,
) -> Iterable[Sample]:
    """One sample every 10 s in [start, end): ``value(t_seconds)``."""
    base = {**device_labels(device), **labels, "__name__": name}
    for ts in range(start_ms, end_ms, STEP_MS):
        yield Sample(base, ts, value(ts / 1000.0))


def cpu(
    device: Device, start_ms: int, end_ms: int, busy: Callable[[float], float], cores: int = 2
) -> list[Sample]:
    """node_cpu_seconds_total per core and mode for a busy share ``busy(t)`` (0..1)."""
    out = []
    totals = {(c, m): 1000.0 for c in range(cores) for m in CPU_MODES}
    share = {"user": 0.6, "system": 0.3, "iowait": 0.1}
    base = device_labels(device)
    for ts in range(start_ms, end_ms, STEP_MS):
        b = min(max(busy(ts / 1000.0), 0.0), 1.0)
        for c in range(cores):
            for m in CPU_MODES:
                step = 10.0 * (1.0 - b) if m == "idle" else 10.0 * b * share[m]
                totals[(c, m)] += step
                labels = {**base, "__name__": "node_cpu_seconds_total", "cpu": str(c), "mode": m}
                out.append(Sample(labels, ts, round(totals[(c, m)], 2)))
    return out


def noisy(level: float, spread: float, seed: int = 1) -> Callable[[float], float]:
    rng = random.Random(seed)
    return lambda t: level + spread * (rng.random() - 0.5) + 0.3 * spread * math.sin(t / 600.0)


CPU_META = SeriesMetadata("node_cpu_seconds_total", MetricType.COUNTER, "seconds", "cpu")
