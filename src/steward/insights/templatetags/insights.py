"""``{% load insights %}{% device_forecasts device %}``: the device page's Forecasts panel.

The device was fetched by the page's view through ``tenancy.scoping``; its forecasts
belong to it, so no further scoping is needed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django import template

from steward.insights import services
from steward.insights.models import SIGNAL_PREFIX
from steward.intel import ForecastStatus

register = template.Library()
SOON_S = 7 * 86_400  # a crossing within a week is shown as a warning
URGENT_S = 86_400


@dataclass
class ForecastRow:
    what: str
    headline: str
    reason: str
    level: str  # "", "warning", "critical"
    status: str
    computed_at: Any


def _level(status: str, seconds: float | None) -> str:
    if status == ForecastStatus.ALREADY_CROSSED:
        return "critical"
    if status == ForecastStatus.CROSSING and seconds is not None:
        return "critical" if seconds <= URGENT_S else "warning" if seconds <= SOON_S else ""
    return ""


@register.inclusion_tag("console/metrics/device_forecasts.html")
def device_forecasts(device: Any) -> dict[str, Any]:
    rows = []
    for f in services.forecasts_of(device.pk):
        rows.append(
            ForecastRow(
                what=f.what,
                headline=f.headline,
                reason=f.reason,
                level=_level(f.status, f.seconds),
                status=f.status,
                computed_at=f.computed_at,
            )
        )
    return {"forecasts": rows, "device": device}


@dataclass
class DiskRow:
    disk: str
    ident: str
    level: str
    css: str  # status class: online (ok), warning (watch/warning), offline (critical)
    reasons: list[str]


_DISK_CSS = {"ok": "online", "watch": "warning", "warning": "warning", "critical": "critical"}


@register.inclusion_tag("console/metrics/device_disks.html")
def device_disks(device: Any) -> dict[str, Any]:
    """The Disk health panel: each disk's SMART level and reasons, scored now."""
    from steward.insights import disk_health
    from steward.metrics.store import get_store

    verdicts = disk_health.assess_device(get_store(), device.organization_id, device.pk)
    rows = [
        DiskRow(
            disk=v.disk,
            ident=", ".join(p for p in (v.health.model, v.health.serial) if p),
            level=v.health.level.value,
            css=_DISK_CSS.get(v.health.level.value, ""),
            reasons=v.health.reasons,
        )
        for v in verdicts
    ]
    return {"disks": rows, "device": device}


# labels every series of a device shares: not worth a column
_COMMON_LABELS = frozenset({"__name__", "instance", "job", "steward_device", "steward_org"})
_SIGNAL_NAMES = {"cpu": "CPU busy (% of all cores)", "memory": "memory used"}
ANOMALY_ROWS = 10


@dataclass
class AnomalyRow:
    metric: str
    labels: str  # "cpu=0, mode=user"
    rate: float  # % of the samples of the last hour flagged
    now: str  # "normal", or the current state's explanation
    now_level: str  # "", "warning" (undamped score at or above the alarm level)
    last: str  # the last onset's explanation, "" for none
    last_at: Any  # datetime of the last onset, or None


def _anomaly_row(state: services.AnomalyState) -> AnomalyRow:
    if state.metric.startswith(SIGNAL_PREFIX):
        signal = state.metric.removeprefix(SIGNAL_PREFIX)
        metric, labels = _SIGNAL_NAMES.get(signal, signal), ""
    else:
        metric = state.metric
        labels = ", ".join(
            f"{k}={v}" for k, v in sorted(state.labels.items()) if k not in _COMMON_LABELS
        )
    onset = state.last_anomaly or {}
    last, last_at = "", None
    if onset.get("observed") is not None and onset.get("expected_low") is not None:
        last = services.explain(
            onset.get("pattern", ""),
            onset["observed"],
            onset["expected_low"],
            onset.get("expected_high", onset["expected_low"]),
            int(onset.get("span", 1)),
        )
        last_at = datetime.fromtimestamp(onset["ts"] / 1000, UTC)
    alarming = state.raw_score >= 0.5
    return AnomalyRow(
        metric=metric,
        labels=labels,
        rate=state.anomaly_rate,
        now=state.explanation if alarming else "normal",
        now_level="warning" if alarming else "",
        last=last,
        last_at=last_at,
    )


@register.inclusion_tag("console/metrics/device_anomalies.html")
def device_anomalies(device: Any) -> dict[str, Any]:
    """The Anomalies panel: the device's anomaly rate over the last hour (flagged samples
    of all its series, as Netdata's host anomaly rate), and the series that were unusual
    in that hour or are now, most unusual first."""
    states = services.device_anomalies(device.organization_id, device.pk, limit=100_000)
    scored = sum(s.samples_seen for s in states)
    flagged = sum(s.anomaly_rate * s.samples_seen / 100.0 for s in states)
    unusual = [s for s in states if s.anomaly_rate > 0.0 or s.raw_score >= 0.5]
    unusual.sort(key=lambda s: (-s.anomaly_rate, -s.raw_score, s.metric))
    return {
        "device": device,
        "series": len(states),
        "rate": 100.0 * flagged / scored if scored else None,
        "rows": [_anomaly_row(s) for s in unusual[:ANOMALY_ROWS]],
        "more": max(len(unusual) - ANOMALY_ROWS, 0),
    }
