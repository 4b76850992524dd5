"""Failure risk of every disk that reports SMART data, from the stored ``smartctl_*`` series.

The agent sends each disk's SMART data as metrics (docs/disk-health.md); this job reads the
latest value of each series of each disk plus a week of the counters whose growth matters
(reallocated, pending and uncorrectable sectors, timeouts, CRC and NVMe media errors), scores
the disk with ``steward.intel.smart.assess_metrics`` and hands the verdict, with its reasons in
words, to the alert engine (the ``disk_health`` condition; the default pack's "Disk failing"
rule). Two store reads per organization whatever the number of disks.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from steward.alerting import Insight
from steward.alerts import hooks
from steward.intel.smart import DiskHealth, assess_metrics, snapshot_from_metrics
from steward.tsdb.types import DAY_MS, DEVICE_LABEL, METRIC_NAME, MINUTE_MS, Matcher, MatchOp, Store

# The agent refreshes SMART data every 10 minutes and re-sends it every minute.
LATEST_WINDOW_MS = 30 * MINUTE_MS
HISTORY_WINDOW_MS = 8 * DAY_MS
BUCKET_S = 6 * 3600.0  # one history point per 6 hours is plenty to see a week's growth
# Every family the agent sends per disk: smartctl_exporter's ``smartctl_device_*`` and its
# SAS/SCSI ones, which it names without ``device_``.
SMART_SERIES = Matcher(
    METRIC_NAME,
    MatchOp.RE,
    "smartctl_(device_.*|scsi_.*|(read|write|verify)_total_uncorrected_errors)",
)
# Only the counters whose growth is scored (see steward.intel.smart._GROWTH): ~7 series a
# disk instead of ~120, so a week of history stays cheap.
HISTORY_SERIES = (
    Matcher(
        METRIC_NAME,
        MatchOp.RE,
        "smartctl_device_(attribute|media_errors|available_spare|percentage_used)",
    ),
    Matcher("attribute_id", MatchOp.RE, "|5|187|188|197|198|199"),
    Matcher("attribute_value_type", MatchOp.RE, "|raw"),
)

log = logging.getLogger("steward.insights")

Key = tuple[int, str]  # (steward device id, disk)
Row = tuple[str, Mapping[str, str], float]


@dataclass(frozen=True)
class DiskVerdict:
    device_id: int
    disk: str
    health: DiskHealth


def _key(labels: Mapping[str, str]) -> Key | None:
    device = labels.get(DEVICE_LABEL, "")
    disk = labels.get("device", "")
    if not device.isdigit() or not disk:
        return None
    return int(device), disk


def assess_organization(
    store: Store, org_id: int, now_ms: int, device_id: int | None = None
) -> list[DiskVerdict]:
    """The health of every disk of the organization (or of one of its devices) that sent
    SMART data recently."""
    only = [] if device_id is None else [Matcher(DEVICE_LABEL, MatchOp.EQ, str(device_id))]
    latest: dict[Key, list[Row]] = defaultdict(list)
    window_start = now_ms - LATEST_WINDOW_MS
    for series in store.select([org_id], [SMART_SERIES, *only], window_start, now_ms):
        key = _key(series.labels)
        values = [v for v in series.values if v == v]
        if key is not None and values:
            latest[key].append((series.labels[METRIC_NAME], series.labels, float(values[-1])))
    if not latest:
        return []
    by_time: dict[Key, dict[int, list[Row]]] = defaultdict(lambda: defaultdict(list))
    start = now_ms - HISTORY_WINDOW_MS
    for series in store.select([org_id], [*HISTORY_SERIES, *only], start, now_ms):
        key = _key(series.labels)
        if key not in latest:
            continue
        name = series.labels[METRIC_NAME]
        for ts, value in zip(series.timestamps, series.values, strict=True):
            if value == value:
                bucket = int(ts) // int(BUCKET_S * 1000)
                by_time[key][bucket].append((name, series.labels, float(value)))
    out = []
    for key, rows in sorted(latest.items()):
        try:
            history = []
            for bucket, points in sorted(by_time.get(key, {}).items()):
                history.append((bucket * BUCKET_S, snapshot_from_metrics(points).counters()))
            health = assess_metrics(rows, history or None, now=now_ms / 1000.0)
        except Exception:
            # Series the assessment cannot take (a value no disk reports: +Inf) make this
            # disk's verdict unknown, not every other disk's of the organization.
            log.exception("cannot assess disk %s of device %s", key[1], key[0])
            continue
        out.append(DiskVerdict(key[0], key[1], health))
    return out


def store_now_ms(store: Store) -> int:
    """Now by the store's clock (tests freeze it), else the wall clock."""
    clock = getattr(store, "clock", None)
    return int(clock()) if callable(clock) else int(time.time() * 1000)


def assess_device(store: Store, org_id: int, device_id: int) -> list[DiskVerdict]:
    """One device's disks, now (the API and the device page)."""
    return assess_organization(store, org_id, store_now_ms(store), device_id=device_id)


def insight(org_id: int, verdict: DiskVerdict, now: float) -> Insight | None:
    base = hooks.device_labels(org_id, verdict.device_id)
    if base is None:
        return None
    health = verdict.health
    labels = {**base, "disk": verdict.disk}
    if health.model:
        labels["model"] = health.model
    return Insight(
        "disk_health",
        verdict.disk,
        labels,
        now,
        score=health.score,
        status=health.level.value,
        text=health.alert_text,
    )


def run(store: Store, org_id: int, now_ms: int | None = None) -> list[DiskVerdict]:
    """Assess the organization's disks and feed the verdicts to its disk-health rules."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    wanted = hooks.wanted_insights(org_id)
    if not any(name.startswith("disk_health:") for name in wanted):
        return []
    verdicts = assess_organization(store, org_id, now_ms)
    found = [i for v in verdicts if (i := insight(org_id, v, now_ms / 1000.0)) is not None]
    if found:
        hooks.on_insights(org_id, found, now_ms / 1000.0)
    return verdicts
