"""What the fleet overview asks the store, as PromQL evaluated in-process.

Each ranking is one instant query over the whole fleet (one value per device or per
filesystem), ranked here, plus one range query for the sparklines of the rows shown —
a fixed number of evaluations whatever the number of devices, never one per device.
The caller passes the organizations the viewer may read (``org_ids``); the store applies
them to every read.

At 1,000 devices the rankings read ~400,000 samples (the CPU one alone: 5 minutes of the
idle counter of every core), about a second of work, so ``cached_snapshot`` keeps the
result for ``CACHE_SECONDS`` per *scope* — the exact set of organizations read (or all of
them, for staff) — and per store: viewers of the same scope share it, nobody ever gets a
snapshot computed for another scope.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
import weakref
from collections.abc import Collection
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import close_old_connections

from steward.promql import evaluate_instant, evaluate_range
from steward.tsdb.types import DEVICE_LABEL, Store

log = logging.getLogger("steward.console")

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

RANKINGS = (("cpu", CPU_BUSY), ("memory", MEMORY_USED), ("filesystems", FS_USED))
WARNING, CRITICAL = 85.0, 95.0  # % used/busy, as the agent's default thresholds
# Agents report every 10 s: a snapshot is at most three rounds behind.
CACHE_SECONDS = 30
STALE_SECONDS = 300  # served while a fresher one is computed in the background
# A scope without a snapshot to serve gets one computed in the background; the request
# waits this long for it, then the page says the figures are being gathered and reloads
# itself. The first snapshot of 1,000 devices took 13-30 s on a loaded 2-core machine.
FIRST_WAIT_SECONDS = 2.0
CACHE_PREFIX = "steward.console.fleet"


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


@dataclass
class Snapshot:
    """What the fleet page shows from the store, for one scope at one time."""

    at_ms: int
    sections: dict[str, list[Ranked]]  # "cpu", "memory", "filesystems": top rows + history
    means: dict[str, float | None]  # "cpu", "memory": over every device of the scope
    full_count: int  # filesystems at or above WARNING
    reporting: int  # devices with a node_load1 sample in the lookback window
    compute_ms: float = 0.0


def snapshot(store: Store, org_ids: Collection[int] | None, now_ms: int, limit: int) -> Snapshot:
    """Rank every device of ``org_ids`` now: one instant evaluation per ranking, one range
    evaluation for the sparklines of the ``limit`` rows shown of each."""
    started = time.perf_counter()
    sections: dict[str, list[Ranked]] = {}
    means: dict[str, float | None] = {}
    full_count = 0
    for key, template in RANKINGS:
        rows = instant(store, org_ids, template, now_ms)
        sections[key] = top(rows, limit)
        attach_history(store, org_ids, template, sections[key], now_ms)
        means[key] = sum(r.value for r in rows) / len(rows) if rows else None
        if key == "filesystems":
            full_count = sum(1 for r in rows if r.value >= WARNING)
    reporting = len(instant(store, org_ids, REPORTING, now_ms))
    elapsed = (time.perf_counter() - started) * 1000
    return Snapshot(now_ms, sections, means, full_count, reporting, elapsed)


# One random token per store object: a snapshot of one store is never served for another
# (tests and benchmarks swap stores; ids of dead objects are reused, tokens are not).
_store_tokens: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def cache_key(store: Store, org_ids: Collection[int] | None) -> str:
    """The cache key of a scope: every organization id read, sorted, or "all" (staff)."""
    try:
        token = _store_tokens.get(store) or _store_tokens.setdefault(store, uuid.uuid4().hex)
    except TypeError:  # not weakly referenceable: the object's id (alive while it is used)
        token = f"id{id(store)}"
    scope = "all" if org_ids is None else ",".join(str(i) for i in sorted(set(org_ids)))
    return f"{CACHE_PREFIX}:{token}:{scope or 'none'}"


def _servable(found: object, now_ms: int) -> Snapshot | None:
    """``found`` if it is a snapshot young enough to serve at ``now_ms``."""
    if isinstance(found, Snapshot) and 0 <= now_ms - found.at_ms < STALE_SECONDS * 1000:
        return found
    return None


def cached_snapshot(
    store: Store, org_ids: Collection[int] | None, now_ms: int, limit: int
) -> tuple[Snapshot | None, bool]:
    """The scope's snapshot and whether it came from the cache; None while the first
    one is being computed.

    Younger than ``CACHE_SECONDS``: served as is. Older, but younger than
    ``STALE_SECONDS``: served as is too, while one background thread computes its
    successor (stale-while-revalidate), so no viewer waits the second a cold snapshot
    takes once somebody has opened the page in the last few minutes. Older or missing:
    computed by that thread while the request waits up to ``FIRST_WAIT_SECONDS``; a
    request that stops waiting gets None (the page shows that the figures are being
    gathered and reloads), and later requests wait for the same thread instead of
    starting their own. A computation that fails is repeated in the request, so its
    error is not hidden behind a page that reloads for ever.
    """
    key = cache_key(store, org_ids)
    found = _servable(cache.get(key), now_ms)
    if found is not None:
        if now_ms - found.at_ms >= CACHE_SECONDS * 1000:
            _refresh_soon(key, store, org_ids, now_ms, limit)
        return found, True
    worker = _refresh_soon(key, store, org_ids, now_ms, limit)
    worker.join(FIRST_WAIT_SECONDS)
    # Any snapshot not older than this request's clock allows (the worker may have
    # started earlier, for a request of a moment ago).
    done = _servable(cache.get(key), now_ms)
    if done is not None:
        return done, False
    if worker.is_alive():
        return None, False
    snap = snapshot(store, org_ids, now_ms, limit)
    cache.set(key, snap, STALE_SECONDS)
    return snap, False


_refreshing: dict[str, threading.Thread] = {}
_refresh_lock = threading.Lock()


def _refresh_soon(
    key: str, store: Store, org_ids: Collection[int] | None, now_ms: int, limit: int
) -> threading.Thread:
    """Compute the scope's next snapshot in a thread (one at a time per scope): the
    thread, started now or already running."""

    def work() -> None:
        try:
            cache.set(key, snapshot(store, org_ids, now_ms, limit), STALE_SECONDS)
        except Exception:
            log.exception("refreshing the fleet snapshot %s failed", key)
        finally:
            with _refresh_lock:
                _refreshing.pop(key, None)
            close_old_connections()

    with _refresh_lock:
        running = _refreshing.get(key)
        if running is not None:
            return running
        thread = _refreshing[key] = threading.Thread(
            target=work, name="fleet-snapshot", daemon=True
        )
        thread.start()  # under the lock: a second caller may join it at once
    return thread


def wait_for_refreshes(timeout: float = 30.0) -> None:
    """Block until background refreshes have finished (tests, benchmarks)."""
    with _refresh_lock:
        threads = list(_refreshing.values())
    for thread in threads:
        thread.join(timeout)
