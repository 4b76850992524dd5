"""Time until each filesystem of a device is full and until its memory runs out.

Per organization, four store reads whatever the number of devices (filesystem free space
and size, available and total memory), then ``steward.intel.time_to_threshold`` per
resource on free bytes falling to 0 (``direction=-1``):

* filesystems: the last ``FS_WINDOW_MS`` (3 days) of 1-minute rollups, averaged into
  10-minute points (432 points: the fit costs ~5 ms, and clean-ups still show as one
  step, which the forecaster cuts at);
* memory: the last ``MEM_WINDOW_MS`` (6 hours) of 1-minute rollups: a leak is "available
  memory falling steadily for hours"; a longer window would mix in the daily cycle.

Results are upserted into ``Forecast`` (one row per device and resource); rows of
resources not seen for ``STALE_AFTER`` are deleted (an unmounted filesystem).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from steward.insights import present
from steward.insights.models import Forecast, ResourceKind
from steward.intel import ForecastStatus, time_to_threshold
from steward.inventory.models import Device
from steward.tsdb.types import (
    DAY_MS,
    DEVICE_LABEL,
    HOUR_MS,
    METRIC_NAME,
    MINUTE_MS,
    Matcher,
    MatchOp,
    SeriesData,
    Store,
    Tier,
)

CONFIDENCE = 0.8
FS_WINDOW_MS = 3 * DAY_MS
FS_STEP_MS = 10 * MINUTE_MS
MEM_WINDOW_MS = 6 * HOUR_MS
MEM_STEP_MS = MINUTE_MS
STALE_AFTER = timedelta(days=1)
PSEUDO_FS = "tmpfs|devtmpfs|overlay|squashfs|ramfs"  # as the fleet overview


@dataclass
class ForecastResult:
    resources: int = 0
    crossing: int = 0
    deleted: int = 0
    seconds: float = 0.0


def _device(labels: dict[str, str]) -> int | None:
    value = labels.get(DEVICE_LABEL, "")
    return int(value) if value.isdigit() else None


def _resample(series: SeriesData, step_ms: int) -> tuple[list[float], list[float]]:
    """Bucket averages (NaN and infinities skipped: the fit refuses them, and the whole
    organization's run with it) at each bucket's last sample time, in seconds."""
    buckets = _buckets(series, step_ms)
    keys = sorted(buckets)
    return [buckets[k][0] for k in keys], [buckets[k][1] for k in keys]


def _buckets(series: SeriesData, step_ms: int) -> dict[int, tuple[float, float]]:
    """Bucket number -> (last sample time in seconds, average of its finite values)."""
    sums: dict[int, list[float]] = {}
    ts = series.timestamps
    vs = series.values
    for t, v in zip(
        getattr(ts, "tolist", lambda: ts)(), getattr(vs, "tolist", lambda: vs)(), strict=True
    ):
        if not math.isfinite(v):
            continue
        slot = sums.setdefault(t // step_ms, [0.0, 0.0, 0.0])
        slot[0] += v
        slot[1] += 1.0
        slot[2] = t
    return {k: (v[2] / 1000.0, v[0] / v[1]) for k, v in sums.items()}


def _free_at_current_size(
    series: SeriesData, step_ms: int, size_series: SeriesData | None
) -> tuple[list[float], list[float], float | None]:
    """Free bytes as they would have been at the filesystem's current size, and that size.

    A filesystem that was grown (or shrunk) shows a jump in free space that is not a
    clean-up: the forecaster would take it for one and, after a few clean-ups, follow the
    levels reached at the old size.  Free space is ``size - used``; keeping ``used`` and
    putting in today's size makes the resize vanish from the history.
    """
    free = _buckets(series, step_ms)
    keys = sorted(free)
    ts, values = [free[k][0] for k in keys], [free[k][1] for k in keys]
    sizes = {} if size_series is None else _buckets(size_series, step_ms)
    current = None if size_series is None else _last(size_series)
    if not sizes or current is None:
        return ts, values, current
    known = sorted(sizes)
    adjusted = []
    j, size = 0, sizes[known[0]][1]  # before the first size sample: the earliest size
    for key, value in zip(keys, values, strict=True):
        while j < len(known) and known[j] <= key:
            size = sizes[known[j]][1]
            j += 1
        adjusted.append(value + (current - size))
    return ts, adjusted, current


def _last(series: SeriesData) -> float | None:
    values = [v for v in series.values if math.isfinite(v)]
    return float(values[-1]) if values else None


def _select(store: Store, org_id: int, name: str, start: int, end: int, *extra: Matcher) -> list:
    matchers = [Matcher(METRIC_NAME, MatchOp.EQ, name), *extra]
    return store.select([org_id], matchers, start, end, Tier.MINUTE)


def _reason(kind: str, what: str, fc: Any, current: float | None, capacity: float | None) -> str:
    free = present.size(current)
    of = f" of {present.size(capacity)}" if capacity else ""
    window = "3 days" if kind == ResourceKind.FILESYSTEM else "6 hours"
    if fc.status == ForecastStatus.CROSSING:
        per_day = present.size(-fc.slope * 86_400)
        return (
            f"{free}{of} free, falling by {per_day}/day ({fc.model} fit of "
            f"{fc.points_used} points, {round(fc.confidence * 100)} % interval)"
        )
    if fc.status == ForecastStatus.ALREADY_CROSSED:
        return f"{free}{of} free: the fitted level is at the limit"
    if fc.status == ForecastStatus.BEYOND_HORIZON:
        return f"{free}{of} free, falling too slowly to run out within the forecast horizon"
    if fc.status == ForecastStatus.INSUFFICIENT_DATA:
        if fc.model == "cycle peaks":  # points_used counts the clean-ups, not samples
            return (
                f"{fc.points_used} clean-ups in the last {window}; a trend of the levels "
                "before each clean-up needs 3"
            )
        points = "1 point" if fc.points_used == 1 else f"{fc.points_used} points"
        return f"{points} since the last clean-up or step; a forecast needs more"
    return f"{free}{of} free, no significant downward trend over the last {window}"


def forecast_organization(store: Store, org_id: int, now_ms: int) -> ForecastResult:
    """Compute and store every forecast of one organization's devices."""
    started = time.perf_counter()
    result = ForecastResult()
    real_fs = Matcher("fstype", MatchOp.NRE, PSEUDO_FS)
    fs_start = now_ms - FS_WINDOW_MS
    mem_start = now_ms - MEM_WINDOW_MS
    inputs: list[
        tuple[int, str, str, dict[str, str], SeriesData, SeriesData | float | None, int]
    ] = []
    # Over the whole window (not only the latest value): a resize must not read as a clean-up.
    sizes = {
        (_device(s.labels), s.labels.get("mountpoint", "")): s
        for s in _select(store, org_id, "node_filesystem_size_bytes", fs_start, now_ms, real_fs)
    }
    for s in _select(store, org_id, "node_filesystem_avail_bytes", fs_start, now_ms, real_fs):
        device_id = _device(s.labels)
        mount = s.labels.get("mountpoint", "")
        if device_id is None or not mount:
            continue
        labels = {k: s.labels[k] for k in ("mountpoint", "device", "fstype") if k in s.labels}
        inputs.append(
            (
                device_id,
                f"filesystem {mount}",
                ResourceKind.FILESYSTEM,
                labels,
                s,
                sizes.get((device_id, mount)),
                FS_STEP_MS,
            )
        )
    totals = {
        _device(s.labels): _last(s)
        for s in _select(store, org_id, "node_memory_MemTotal_bytes", now_ms - HOUR_MS, now_ms)
    }
    for s in _select(store, org_id, "node_memory_MemAvailable_bytes", mem_start, now_ms):
        device_id = _device(s.labels)
        if device_id is not None:
            inputs.append(
                (
                    device_id,
                    "memory",
                    ResourceKind.MEMORY,
                    {},
                    s,
                    totals.get(device_id),
                    MEM_STEP_MS,
                )
            )

    known = set(
        Device.objects.filter(organization_id=org_id, pk__in={i[0] for i in inputs}).values_list(
            "pk", flat=True
        )
    )
    existing = {
        (f.device_id, f.resource): f for f in Forecast.objects.filter(organization_id=org_id)
    }
    computed_at = timezone.now()
    new: list[Forecast] = []
    changed: list[Forecast] = []
    for device_id, resource, kind, labels, series, size, step in inputs:
        if device_id not in known:
            continue
        if kind == ResourceKind.FILESYSTEM:
            size_series = size if isinstance(size, SeriesData) else None
            ts, values, capacity = _free_at_current_size(series, step, size_series)
        else:
            ts, values = _resample(series, step)
            capacity = size if isinstance(size, float | int) else None
        if not ts:
            continue
        fc = time_to_threshold(ts, values, 0.0, confidence=CONFIDENCE, direction=-1)
        current = values[-1]
        upper = fc.upper if fc.upper is None or fc.upper != float("inf") else None
        fields: dict[str, Any] = {
            "kind": kind,
            "labels": labels,
            "status": fc.status.value,
            "seconds": fc.seconds,
            "lower": fc.lower,
            "upper": upper,
            "confidence": fc.confidence,
            "slope": fc.slope,
            "model": fc.model,
            "points_used": fc.points_used,
            "current": current,
            "capacity": capacity,
            "as_of": datetime.fromtimestamp(ts[-1], UTC),
            "computed_at": computed_at,
            "reason": _reason(kind, resource, fc, current, capacity)[:500],
        }
        row = existing.get((device_id, resource))
        if row is None:
            new.append(
                Forecast(organization_id=org_id, device_id=device_id, resource=resource, **fields)
            )
        else:
            for name, value in fields.items():
                setattr(row, name, value)
            changed.append(row)
        result.resources += 1
        result.crossing += fc.status == ForecastStatus.CROSSING
    update_sql, update_params = _updates(changed)  # prepared before the write lock
    with transaction.atomic():
        Forecast.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
        if update_params:
            with connection.cursor() as cursor:
                cursor.executemany(update_sql, update_params)
        result.deleted, _ = Forecast.objects.filter(
            organization_id=org_id, computed_at__lt=computed_at - STALE_AFTER
        ).delete()
    result.seconds = time.perf_counter() - started
    return result


def _updates(rows: list[Forecast]) -> tuple[str, list[tuple[Any, ...]]]:
    """One ``UPDATE ... WHERE id = %s`` and its parameters per row, for ``executemany``.

    Not ``bulk_update``: its ``CASE WHEN`` statements took ~7 s of Python for the 3,500
    forecasts of 1,000 simulated devices (20-30 s on a busy machine), inside the
    transaction, and SQLite's write lock was held the whole time: every heartbeat
    waited, and most of the fleet was recorded offline. The parameters are prepared by
    each field (``get_db_prep_save``: JSON, datetimes) before the transaction starts.
    """
    fields = [Forecast._meta.get_field(name) for name in fields_of_forecast()]
    q = connection.ops.quote_name
    assignments = ", ".join(f"{q(f.column)} = %s" for f in fields)  # type: ignore[union-attr]
    sql = f"UPDATE {q(Forecast._meta.db_table)} SET {assignments} WHERE {q('id')} = %s"  # noqa: S608 - names are the model's
    params = [
        (
            *(f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields),  # type: ignore[union-attr]
            row.pk,
        )
        for row in rows
    ]
    return sql, params


def fields_of_forecast() -> tuple[str, ...]:
    return (
        "kind",
        "labels",
        "status",
        "seconds",
        "lower",
        "upper",
        "confidence",
        "slope",
        "model",
        "points_used",
        "current",
        "capacity",
        "as_of",
        "computed_at",
        "reason",
    )
