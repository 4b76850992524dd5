"""Alerts: list (one filter definition, shared with the CLI), detail, timeline, and the
operator actions, which go through the engine (its state is the source of truth).

Acknowledge, snooze and mute need *operate* (technicians); viewers read.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from steward.alerting import AlertingError
from steward.alerts import runtime
from steward.alerts.models import Alert, AlertEvent
from steward.api.errors import ApiError, bad_request
from steward.api.pagination import Page, paginate
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import get_for, scoped

router = Router(tags=["alerts"])
# A label name becomes a JSON key lookup: no "__" (it would chain ORM lookups).
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$")


class AlertOut(Schema):
    id: int
    organization_id: int
    fingerprint: str
    rule_id: int | None
    rule_name: str
    labels: dict[str, str]
    status: str
    phase: str
    severity: str
    title: str
    description: str
    value: str
    site_id: int | None
    device_id: int | None
    started_at: datetime
    firing_since: datetime | None
    resolved_at: datetime | None
    acknowledged_by: str
    acknowledged_at: datetime | None
    ack_note: str
    snoozed_until: datetime | None
    muted_until_resolved: bool
    updated_at: datetime

    @staticmethod
    def of(a: Alert) -> AlertOut:
        return AlertOut(
            id=a.pk, organization_id=a.organization_id, fingerprint=a.fingerprint,
            rule_id=a.rule_id, rule_name=a.rule_name, labels=a.labels, status=a.status,
            phase=a.phase, severity=a.severity, title=a.title, description=a.description,
            value=a.value, site_id=a.site_id, device_id=a.device_id, started_at=a.started_at,
            firing_since=a.firing_since, resolved_at=a.resolved_at,
            acknowledged_by=a.acknowledged_by, acknowledged_at=a.acknowledged_at,
            ack_note=a.ack_note, snoozed_until=a.snoozed_until,
            muted_until_resolved=a.muted_until_resolved, updated_at=a.updated_at,
        )  # fmt: skip


class EventOut(Schema):
    at: datetime
    from_phase: str
    to_phase: str
    reason: str


class AlertFilter(Schema):
    organization_id: int | None = None
    site_id: int | None = None
    device_id: int | None = None
    severity: str = ""
    status: str = Field(
        "",
        description="pending, firing, resolved, or a phase "
        "(acknowledged, snoozed, muted, flapping); 'active' = pending+firing",
    )
    label: list[str] = Field([], description="name=value (repeatable)")
    limit: int = 100
    offset: int = 0


def filter_alerts(qs: QuerySet[Alert], f: AlertFilter) -> QuerySet[Alert]:
    if f.organization_id is not None:
        qs = qs.filter(organization_id=f.organization_id)
    if f.site_id is not None:
        qs = qs.filter(site_id=f.site_id)
    if f.device_id is not None:
        qs = qs.filter(device_id=f.device_id)
    if f.severity:
        qs = qs.filter(severity__in=f.severity.split(","))
    if f.status == "active":
        qs = qs.filter(status__in=["pending", "firing"])
    elif f.status in ("pending", "firing", "resolved"):
        qs = qs.filter(status=f.status)
    elif f.status:
        qs = qs.filter(phase__in=f.status.split(","))
    for item in f.label:
        name, sep, value = item.partition("=")
        if not sep or not _LABEL.match(name):
            raise bad_request("label: expected name=value (name: letters, digits, _)")
        qs = qs.filter(**{f"labels__{name}": value})
    return qs


@router.get("/alerts", response=Page[AlertOut])
def list_alerts(request, filters: Query[AlertFilter]):
    qs = filter_alerts(scoped(Alert.objects.all(), request.auth), filters)
    return paginate(qs, filters.limit, filters.offset, AlertOut.of)


@router.get("/alerts/{alert_id}", response=AlertOut)
def get_alert(request, alert_id: int):
    return AlertOut.of(get_for(Alert.objects, request.auth, pk=alert_id))


@router.get("/alerts/{alert_id}/events", response=list[EventOut])
def alert_events(request, alert_id: int):
    alert = get_for(Alert.objects, request.auth, pk=alert_id)
    return list(AlertEvent.objects.filter(alert=alert).order_by("at", "id"))


class AckIn(Schema):
    note: str = Field("", max_length=2000)


class SnoozeIn(Schema):
    minutes: int | None = Field(None, ge=1, le=60 * 24 * 30)
    until: datetime | None = None


def operate(request, alert_id: int, op: Any) -> AlertOut:
    alert = get_for(Alert.objects, request.auth, Capability.OPERATE, pk=alert_id)
    who = request.auth.user.email
    try:
        runtime.run(alert.organization_id, lambda engine, now: op(engine, alert.fingerprint,
                                                                  who, now))  # fmt: skip
    except AlertingError as exc:
        raise ApiError(409, "invalid_state", str(exc)) from None
    return AlertOut.of(Alert.objects.get(pk=alert.pk))


@router.post("/alerts/{alert_id}/ack", response=AlertOut)
def ack(request, alert_id: int, body: AckIn):
    return operate(
        request, alert_id, lambda e, fp, who, now: e.acknowledge(fp, who, now, body.note)
    )


@router.post("/alerts/{alert_id}/unack", response=AlertOut)
def unack(request, alert_id: int):
    return operate(request, alert_id, lambda e, fp, who, now: e.unacknowledge(fp, who, now))


@router.post("/alerts/{alert_id}/snooze", response=AlertOut)
def snooze(request, alert_id: int, body: SnoozeIn):
    if body.until is not None:
        until = body.until.timestamp()
    elif body.minutes is not None:
        until = (timezone.now() + timedelta(minutes=body.minutes)).timestamp()
    else:
        raise bad_request("give minutes or until")
    return operate(request, alert_id, lambda e, fp, who, now: e.snooze(fp, until, who, now))


@router.post("/alerts/{alert_id}/unsnooze", response=AlertOut)
def unsnooze(request, alert_id: int):
    return operate(request, alert_id, lambda e, fp, who, now: e.unsnooze(fp, who, now))


@router.post("/alerts/{alert_id}/mute", response=AlertOut)
def mute(request, alert_id: int):
    """Mute until resolved: no notification for the rest of this episode."""
    return operate(request, alert_id, lambda e, fp, who, now: e.mute_until_resolved(fp, who, now))


@router.post("/alerts/{alert_id}/unmute", response=AlertOut)
def unmute(request, alert_id: int):
    return operate(request, alert_id, lambda e, fp, who, now: e.unmute(fp, who, now))
