"""Hand the insights jobs' results to the alert engine as ``Insight`` inputs.

The alerts app's ``anomaly``, ``forecast`` and ``disk_health`` conditions judge what these
jobs stored; this module turns stored rows into engine inputs after each run, and only for
what some rule of the organization reads (``hooks.wanted_insights``): an organization
without an anomaly rule costs one cached config read per run, not a query over every
detector state.

Labels: the device's engine labels (organization, site, device, tags) plus what identifies
the subject within the device — a series' own labels (``mountpoint``, ``cpu``...), or
``resource`` / ``disk`` — so one alert per filesystem or disk, with the labels a title
template names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from steward.alerting import Insight
from steward.alerts import hooks
from steward.insights import services
from steward.insights.models import SIGNAL_PREFIX, Forecast
from steward.insights.services import AnomalyState

log = logging.getLogger("steward.insights")


def _families(wanted: Iterable[str], kind: str) -> set[str]:
    prefix = f"{kind}:"
    return {name[len(prefix) :] for name in wanted if name.startswith(prefix)}


def anomaly_insight(org_id: int, state: AnomalyState) -> Insight | None:
    base = hooks.device_labels(org_id, state.device_id)
    if base is None:
        return None
    if state.metric.startswith(SIGNAL_PREFIX):
        subject = state.metric[len(SIGNAL_PREFIX) :]
        labels = {**base, "signal": subject}
    else:
        subject = state.metric
        labels = {**hooks.insight_labels(state.labels), **base}
    return Insight(
        "anomaly",
        subject,
        labels,
        state.ts_ms / 1000.0,
        score=state.raw_score,
        status=state.pattern,
        text=state.explanation,
    )


def feed_anomalies(org_id: int, now: float | None = None) -> int:
    """After a scoring run: the latest judgement of every series an anomaly rule reads.

    ``now`` is the engine's time (default: the clock); returns the number of inputs fed.
    """
    subjects = _families(hooks.wanted_insights(org_id), "anomaly")
    if not subjects:
        return 0
    names = None if "*" in subjects else subjects  # a signal ("cpu") or a metric name
    insights = []
    for state in services.states_of(org_id, names):
        found = anomaly_insight(org_id, state)
        if found is not None:
            insights.append(found)
    if insights:
        hooks.on_insights(org_id, insights, now)
    return len(insights)


def forecast_insight(org_id: int, fc: Forecast) -> Insight | None:
    base = hooks.device_labels(org_id, fc.device_id)
    if base is None:
        return None
    labels = {**base, "resource": fc.resource}
    if fc.labels.get("mountpoint"):
        labels["mountpoint"] = fc.labels["mountpoint"]
    if fc.labels.get("fstype"):
        labels["fstype"] = fc.labels["fstype"]
    text = f"{fc.headline}: {fc.reason}" if fc.reason else fc.headline
    return Insight(
        "forecast",
        fc.resource,
        labels,
        fc.as_of.timestamp(),
        status=str(fc.status),
        seconds=fc.seconds,
        lower=fc.lower,
        upper=fc.upper,
        text=text,
    )


def feed_forecasts(org_id: int, now: float | None = None) -> int:
    """After a forecast run: every stored forecast of the organization (when a rule asks)."""
    if not _families(hooks.wanted_insights(org_id), "forecast"):
        return 0
    insights = []
    for fc in Forecast.objects.filter(organization_id=org_id).iterator(chunk_size=2000):
        found = forecast_insight(org_id, fc)
        if found is not None:
            insights.append(found)
    if insights:
        hooks.on_insights(org_id, insights, now)
    return len(insights)
