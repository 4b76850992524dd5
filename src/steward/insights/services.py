"""What other apps ask of insights (the alerts app's ``anomaly`` and ``forecast`` conditions).

Plain functions over stored results: they never run a detector or a fit (the jobs do), so
an alert evaluation costs one indexed query. Tenancy: callers pass the organization or
device they already scoped; these functions add no scoping of their own beyond keeping
every lookup inside that organization.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from steward.insights.models import SIGNAL_PREFIX, DetectorState, Forecast
from steward.insights.scoring import series_key, signal_key
from steward.insights.window import Window
from steward.intel import ForecastStatus
from steward.tsdb.types import METRIC_NAME, Matcher, MatchOp


@dataclass(frozen=True)
class AnomalyState:
    """The latest judgement of one series (or derived signal).

    ``score`` is the detector's (0-1, 0.5 = alarm; damped inside an episode so one episode
    alarms once); ``raw_score`` is the same without the damping — use it for conditions
    that hold "for a duration". ``anomaly_rate`` is the % of this series' samples flagged
    in the last hour. ``last_anomaly`` is the last flagged sample (ts, pattern, observed,
    expected_low/high, raw_score) or None.
    """

    series_key: str
    metric: str
    labels: dict[str, str]
    device_id: int | None
    ts_ms: int
    score: float
    raw_score: float
    is_anomaly: bool
    observed: float | None
    expected_low: float | None
    expected_high: float | None
    pattern: str
    confidence: float
    span: int  # samples judged: 1, or a block whose mean ``observed`` is (detector format 8)
    anomaly_rate: float
    samples_seen: int  # in the last hour
    last_anomaly: dict[str, Any] | None
    updated_at: datetime

    @property
    def explanation(self) -> str:
        """One sentence: what was observed against what was expected."""
        if self.pattern == "normal":
            return "within the expected band"
        if self.observed is None or self.expected_low is None or self.expected_high is None:
            return self.pattern
        return explain(
            self.pattern, self.observed, self.expected_low, self.expected_high, self.span
        )


def explain(pattern: str, observed: float, low: float, high: float, span: int = 1) -> str:
    """ "level shift up: observed 80, expected 20 to 30", or for a judgement of a block's mean
    "level shift up over the last 12 samples: mean 41.2, expected 20.1 to 28.4"."""
    band = f"expected {low:.4g} to {high:.4g}"
    if span > 1:
        return f"{pattern} over the last {span} samples: mean {observed:.4g}, {band}"
    return f"{pattern}: observed {observed:.4g}, {band}"


def _state(row: DetectorState, now_ms: int | None = None) -> AnomalyState:
    v = row.last_verdict or {}
    window = Window.from_bytes(row.window)
    scored, flagged = window.totals(now_ms if now_ms is not None else int(v.get("ts", 0)))
    labels = (
        row.labels
        if not row.metric.startswith(SIGNAL_PREFIX)
        else {**row.labels, "steward_device": str(row.device_id)}
    )
    return AnomalyState(
        series_key=row.series_key,
        metric=row.metric,
        labels=labels,
        device_id=row.device_id,
        ts_ms=int(v.get("ts", row.cursor_ms)),
        score=float(v.get("score", row.last_score)),
        raw_score=float(v.get("raw_score", row.last_score)),
        is_anomaly=bool(v.get("is_anomaly", False)),
        observed=v.get("observed"),
        expected_low=v.get("expected_low"),
        expected_high=v.get("expected_high"),
        pattern=str(v.get("pattern", "normal")),
        confidence=float(v.get("confidence", 0.0)),
        span=int(v.get("span", 1)),
        anomaly_rate=100.0 * flagged / scored if scored else 0.0,
        samples_seen=scored,
        last_anomaly=v.get("anomaly"),
        updated_at=row.updated_at,
    )


_FIELDS = (
    "series_key",
    "metric",
    "labels",
    "device_id",
    "cursor_ms",
    "last_score",
    "last_verdict",
    "window",
    "updated_at",
)


def anomaly_state(
    org_id: int,
    matchers: Sequence[Matcher] | str,
    *,
    device_id: int | None = None,
    now_ms: int | None = None,
    limit: int = 1000,
) -> list[AnomalyState]:
    """Current anomaly state of the organization's series matching ``matchers``.

    ``matchers``: label matchers as the store's (``__name__`` narrows by metric with an
    index; the rest are applied to each row's labels), or one series key
    (``scoring.series_key(labels)``, or ``"signal:cpu:<device id>"`` for a derived signal).
    Ordered by score, highest first.
    """
    rows = DetectorState.objects.filter(organization_id=org_id).only(*_FIELDS)
    if isinstance(matchers, str):
        rows = rows.filter(series_key=matchers)
        return [_state(r, now_ms) for r in rows]
    if device_id is not None:
        rows = rows.filter(device_id=device_id)
    rest = []
    for m in matchers:
        if m.name == METRIC_NAME and m.op is MatchOp.EQ:
            rows = rows.filter(metric=m.value)
        else:
            rest.append(m)
    out = []
    for row in rows.order_by("-last_score", "id").iterator(chunk_size=2000):
        labels = row.labels or {}
        if all(m.matches(labels) for m in rest):
            out.append(_state(row, now_ms))
            if len(out) >= limit:
                break
    return out


def states_of(org_id: int, names: Collection[str] | None) -> Iterator[AnomalyState]:
    """The current state of every series of the metrics or derived signals ``names``
    ("cpu" means the signal; a metric name its stored series), or of all (None)."""
    rows = DetectorState.objects.filter(organization_id=org_id).only(*_FIELDS)
    if names is not None:
        rows = rows.filter(metric__in=[*names, *(SIGNAL_PREFIX + n for n in names)])
    for row in rows.iterator(chunk_size=2000):
        yield _state(row)


def series_anomaly(org_id: int, labels: dict[str, str]) -> AnomalyState | None:
    """The state of exactly one series, given its full label set."""
    found = anomaly_state(org_id, series_key(labels))
    return found[0] if found else None


def signal_anomaly(org_id: int, signal: str, device_id: int) -> AnomalyState | None:
    """The state of a derived signal ("cpu", "memory") of a device."""
    found = anomaly_state(org_id, signal_key(signal, device_id))
    return found[0] if found else None


def device_anomalies(
    org_id: int, device_id: int, *, min_score: float = 0.0, limit: int = 100
) -> list[AnomalyState]:
    """A device's series by current score (and those with a flagged sample in the hour)."""
    rows = (
        DetectorState.objects.filter(organization_id=org_id, device_id=device_id)
        .only(*_FIELDS)
        .order_by("-last_score", "id")
    )
    out = []
    for row in rows.iterator(chunk_size=2000):
        state = _state(row)
        if state.score >= min_score or state.raw_score >= min_score:
            out.append(state)
    out.sort(key=lambda s: (-max(s.score, s.anomaly_rate / 100.0), s.metric))
    return out[:limit]


def forecast_for(device_id: int, resource: str) -> Forecast | None:
    """The stored forecast of one resource of a device ("filesystem /var", "memory")."""
    return Forecast.objects.filter(device_id=device_id, resource=resource).first()


def forecasts_of(device_id: int) -> list[Forecast]:
    return list(Forecast.objects.filter(device_id=device_id).order_by("kind", "resource"))


def forecast_within(
    forecast: Forecast | None,
    within_s: float,
    *,
    bound: str = "estimate",
    now: datetime | None = None,
) -> bool:
    """Does ``forecast`` say the resource runs out within ``within_s`` seconds of now?

    ``bound``: "estimate" (the fitted crossing), "early" (the early edge of the
    ``confidence`` interval: warns sooner) or "late" (the late edge: only when even the
    slow case runs out in time). Time already passed since ``as_of`` is subtracted.
    ``ALREADY_CROSSED`` is always within; NO_TREND, BEYOND_HORIZON and
    INSUFFICIENT_DATA never are.
    """
    if forecast is None:
        return False
    if forecast.status == ForecastStatus.ALREADY_CROSSED:
        return True
    if forecast.status != ForecastStatus.CROSSING:
        return False
    lower, upper = forecast.interval()
    seconds = {"estimate": forecast.seconds, "early": lower, "late": upper}[bound]
    if seconds is None:
        return False
    elapsed = ((now or timezone.now()) - forecast.as_of).total_seconds()
    return seconds - elapsed <= within_s
