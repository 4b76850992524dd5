"""The chart of an alert's metric around the event: PromQL built server side.

An alert's labels are the series' own labels plus the device's (``organization``, ``site``,
``device`` = host name, ``tags``) and the rule's; the stored series carry the device as
``steward_device`` = its id. The derived ratios of the default pack
(``steward.alerts.derive``) are computed on arrival and not stored, so they are charted
from the node_exporter series they derive from, with the same formulas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from steward.alerts.models import Alert

# Labels the engine adds to every input (docs/alerts.md "Labels"): not series labels.
BASE_LABELS = frozenset({"organization", "site", "device", "tags", "alertname", "severity",
                         "alertsource", "routed", "check_type", "target"})  # fmt: skip
TARGET_POINTS = 300
MIN_STEP_S = 10

# Derived metric -> (PromQL with {sel} for the device selector, unit, axis max).
DERIVED = {
    "steward_filesystem_used_ratio": (
        "1 - node_filesystem_avail_bytes{{{sel}}} / node_filesystem_size_bytes{{{sel}}}",
        "plain",
    ),
    "steward_memory_available_ratio": (
        "node_memory_MemAvailable_bytes{{{sel}}} / node_memory_MemTotal_bytes{{{sel}}}",
        "plain",
    ),
    "steward_swap_used_ratio": (
        "1 - node_memory_SwapFree_bytes{{{sel}}} / node_memory_SwapTotal_bytes{{{sel}}}",
        "plain",
    ),
    "steward_load_per_core": (
        "node_load1{{{sel}}} / scalar(count(count by (cpu) (node_cpu_seconds_total{{{sel}}})))",
        "plain",
    ),
    "steward_cpu_busy_ratio": (
        '1 - avg(rate(node_cpu_seconds_total{{{sel},mode="idle"}}[$__rate_interval]))',
        "plain",
    ),
}


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    queries: tuple[Query, ...]
    threshold: float | None = None


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    step: int

    @property
    def start_s(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_s(self) -> int:
        return int(self.end.timestamp())


def window(alert: Alert, now: datetime | None = None) -> Window:
    """From an hour before the alert started to an hour after it resolved (or now)."""
    now = now or timezone.now()
    start = (alert.firing_since or alert.started_at) - timedelta(hours=1)
    start = min(start, alert.started_at - timedelta(hours=1))
    end = min(now, (alert.resolved_at or now) + timedelta(hours=1))
    span = max(60.0, (end - start).total_seconds())
    step = max(MIN_STEP_S, int(span / TARGET_POINTS))
    return Window(start, end, step)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _selector(pairs: dict[str, str]) -> str:
    return ",".join(f"{k}={_quote(v)}" for k, v in sorted(pairs.items()))


def series_labels(alert: Alert, rule_labels: dict[str, str] | None = None) -> dict[str, str]:
    """The alert's labels that come from the series itself (mountpoint, ...)."""
    skip = BASE_LABELS | set(rule_labels or {})
    return {k: str(v) for k, v in (alert.labels or {}).items() if k not in skip}


def metric_charts(alert: Alert) -> list[Chart]:
    """Charts for a metric rule's alert; [] when the rule is not a metric rule."""
    rule = alert.rule
    if rule is None or alert.device_id is None:
        return []
    cond = rule.condition or {}
    metric = str(cond.get("metric") or "")
    if cond.get("kind") not in ("threshold", "absence") or not metric:
        return []
    pairs = {"steward_device": str(alert.device_id),
             **series_labels(alert, rule.labels)}  # fmt: skip
    threshold = cond.get("threshold") if cond.get("kind") == "threshold" else None
    if metric in DERIVED:
        template, unit = DERIVED[metric]
        # Derived from whole-device series: only the mount point narrows a filesystem.
        narrowed = {"steward_device": pairs["steward_device"]}
        if "mountpoint" in pairs:
            narrowed["mountpoint"] = pairs["mountpoint"]
        expr = template.format(sel=_selector(narrowed))
    else:
        unit = "plain"
        expr = f"{metric}{{{_selector(pairs)}}}"
    return [Chart(metric, unit, (Query(expr, alert.labels.get("mountpoint", "") or metric),),
                  threshold)]  # fmt: skip


def check_charts(alert: Alert) -> list[Chart]:
    """Status (0 ok .. 3 unknown) and latency of the check behind a check alert."""
    name = (alert.labels or {}).get("check")
    if not name:
        return []
    pairs = {"check": name}
    if alert.device_id is not None:
        pairs["steward_device"] = str(alert.device_id)
    sel = _selector(pairs)
    return [
        Chart("Check status (0 OK · 1 warning · 2 critical · 3 unknown)", "plain",
              (Query(f"steward_check_status{{{sel}}}", "status"),)),
        Chart("Check latency (ms)", "plain",
              (Query(f"steward_check_latency_ms{{{sel}}}", "latency ms"),)),
    ]  # fmt: skip
