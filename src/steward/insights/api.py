"""API: a device's forecasts, anomalies and disk health (read-only; VIEW in the device's
organization)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema

from steward.insights import disk_health, services
from steward.insights.models import Forecast
from steward.inventory.models import Device
from steward.tenancy.scoping import get_for

router = Router(tags=["insights"])


class ForecastOut(Schema):
    resource: str
    kind: str
    labels: dict[str, str]
    status: str
    seconds: float | None
    lower: float | None
    upper: float | None  # null with status "crossing": the late edge is unbounded
    confidence: float
    slope: float
    model: str
    points_used: int
    current: float | None
    capacity: float | None
    as_of: datetime
    computed_at: datetime
    summary: str
    reason: str

    @staticmethod
    def of(f: Forecast) -> ForecastOut:
        return ForecastOut(
            resource=f.resource,
            kind=f.kind,
            labels=f.labels,
            status=f.status,
            seconds=f.seconds,
            lower=f.lower,
            upper=f.upper,
            confidence=f.confidence,
            slope=f.slope,
            model=f.model,
            points_used=f.points_used,
            current=f.current,
            capacity=f.capacity,
            as_of=f.as_of,
            computed_at=f.computed_at,
            summary=f.headline,
            reason=f.reason,
        )


class AnomalyOut(Schema):
    series_key: str
    metric: str
    labels: dict[str, str]
    ts_ms: int
    score: float
    raw_score: float
    is_anomaly: bool
    observed: float | None
    expected_low: float | None
    expected_high: float | None
    pattern: str
    confidence: float
    span: int  # samples judged: 1, or the block whose mean "observed" is
    anomaly_rate: float  # % of the last hour's samples flagged
    explanation: str
    last_anomaly: dict[str, Any] | None

    @staticmethod
    def of(s: services.AnomalyState) -> AnomalyOut:
        return AnomalyOut(
            series_key=s.series_key,
            metric=s.metric,
            labels=s.labels,
            ts_ms=s.ts_ms,
            score=s.score,
            raw_score=s.raw_score,
            is_anomaly=s.is_anomaly,
            observed=s.observed,
            expected_low=s.expected_low,
            expected_high=s.expected_high,
            pattern=s.pattern,
            confidence=s.confidence,
            span=s.span,
            anomaly_rate=s.anomaly_rate,
            explanation=s.explanation,
            last_anomaly=s.last_anomaly,
        )


@router.get("/devices/{device_id}/forecasts", response=list[ForecastOut])
def device_forecasts(request, device_id: int):
    device = get_for(Device.objects, request.auth, pk=device_id)
    return [ForecastOut.of(f) for f in services.forecasts_of(device.pk)]


@router.get("/devices/{device_id}/anomalies", response=list[AnomalyOut])
def device_anomalies(request, device_id: int, min_score: float = 0.0, limit: int = 100):
    """The device's series by current score; ``min_score`` filters (score or raw score)."""
    device = get_for(Device.objects, request.auth, pk=device_id)
    limit = max(1, min(limit, 1000))
    states = services.device_anomalies(
        device.organization_id, device.pk, min_score=min_score, limit=limit
    )
    return [AnomalyOut.of(s) for s in states]


class DiskFindingOut(Schema):
    code: str  # stable, e.g. "counter_5" (reallocated sectors), "trend_197", "smart_failed"
    text: str
    weight: float


class DiskHealthOut(Schema):
    disk: str  # the agent's device label: "sda", "nvme0"
    level: str  # unknown, ok, watch, warning, critical
    score: float  # 0..1 (a heuristic risk, see docs/disk-health.md)
    model: str
    serial: str
    summary: str
    findings: list[DiskFindingOut]


@router.get("/devices/{device_id}/disk-health", response=list[DiskHealthOut])
def device_disk_health(request, device_id: int):
    """Failure risk of each disk that sent SMART data in the last 30 minutes, with reasons."""
    from steward.metrics.store import get_store

    device = get_for(Device.objects, request.auth, pk=device_id)
    verdicts = disk_health.assess_device(get_store(), device.organization_id, device.pk)
    return [
        DiskHealthOut(
            disk=v.disk,
            level=v.health.level.value,
            score=round(v.health.score, 3),
            model=v.health.model,
            serial=v.health.serial,
            summary=v.health.alert_text,
            findings=[
                DiskFindingOut(code=f.code, text=f.text, weight=f.weight) for f in v.health.findings
            ],
        )
        for v in verdicts
    ]
