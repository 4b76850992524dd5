"""What the fleet overview asks the store, as PromQL evaluated in-process.

Each ranking is one instant query over the whole fleet (one value per device or per
filesystem), ranked here, plus one range query for the sparklines of the rows shown —
a fixed number of evaluations whatever the number of devices, never one per device.
The caller passes the organizations the viewer may read (``org_ids``); the store applies
them to every read.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field

from steward.promql import evaluate_instant, evaluate_range
from steward.tsdb.types import DEVICE_LABEL, Store

# "{sel}" takes extra label matchers (",steward_device=~..." for the sparklines).
CPU_BUSY = (
    '100 * (1 - avg by (steward_device) (rate(node_cpu_seconds_total{{mode="idle"{sel}}}[5m])))'
)
MEMORY_USED = (
    "100 * (1 - node_memory_MemAvailable_bytes{{{sel0}}} / node_memory_MemTotal_bytes{{{sel0}}})"
)
# Pseudo filesystems are not collected by the agent; other sources may send them.
_FS = 'fstype!~"tmpfs|devtmpfs|overlay|squashfs|ramfs"'
FS_USED = (
    f"100 * (1 - node_filesystem_avail_bytes{{{{{_FS}{{sel}}}}}}"
    f" / node_filesystem_size_bytes{{{{{_FS}{{sel}}}}}})"
)
REPORTING = "count by (steward_device) (node_load1{{{sel0}}})"

SPARK_RANGE_MS = 3_600_000  # the last hour
SPARK_STEP_MS = 120_000  # 30 points


@dataclass
class Ranked:
    """One row of a ranking: a device (and a filesystem), its value now, its last hour."""

    device_id: int
    value: float
    labels: dict[str, str]
    history: list[float] = field(default_factory=list)

    @property
    def mountpoint(self) -> str:
        return self.labels.get("mountpoint", "")


def expr(template: str, device_ids: Collection[int] | None = None) -> str:
    """The query with a ``steward_device=~"1|2|..."`` matcher when device ids are given."""
    if not device_ids:
        return template.format(sel="", sel0="")
    regex = "|".join(str(i) for i in sorted(device_ids))
    return template.format(sel=f',{DEVICE_LABEL}=~"{regex}"', sel0=f'{DEVICE_LABEL}=~"{regex}"')


def _device_id(labels: dict[str, str]) -> int | None:
    value = labels.get(DEVICE_LABEL, "")
    return int(value) if value.isdigit() else None


def instant(
    store: Store, org_ids: Collection[int] | None, template: str, now_ms: int
) -> list[Ranked]:
    """Every device's value now (NaN dropped), in no particular order."""
    result = evaluate_instant(expr(template), now_ms, store, org_ids)
    rows = []
    for series in result.series:
        device_id = _device_id(series.labels)
        value = series.values[0] if series.values else math.nan
        if device_id is not None and math.isfinite(value):
            rows.append(Ranked(device_id, value, series.labels))
    return rows


def top(rows: list[Ranked], limit: int) -> list[Ranked]:
    return sorted(rows, key=lambda r: (-r.value, r.device_id, r.mountpoint))[:limit]


def attach_history(
    store: Store,
    org_ids: Collection[int] | None,
    template: str,
    rows: list[Ranked],
    now_ms: int,
) -> None:
    """Fill each row's ``history`` (the last hour) with one range query for all of them."""
    if not rows:
        return
    start = now_ms - SPARK_RANGE_MS
    ids = {r.device_id for r in rows}
    result = evaluate_range(expr(template, ids), start, now_ms, SPARK_STEP_MS, store, org_ids)
    steps = [start + i * SPARK_STEP_MS for i in range((now_ms - start) // SPARK_STEP_MS + 1)]
    by_key: dict[tuple[int | None, str], list[float]] = {}
    for series in result.series:
        points = dict(zip(series.timestamps, series.values, strict=True))
        key = (_device_id(series.labels), series.labels.get("mountpoint", ""))
        by_key[key] = [points.get(t, math.nan) for t in steps]
    for row in rows:
        row.history = by_key.get((row.device_id, row.mountpoint), [])
