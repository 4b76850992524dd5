"""The alert -> ticket hook. The alert engine calls ``on_alert_event()`` on every change.

Rules: at most one active ticket per alert fingerprint (the alert record's row lock
serializes concurrent events of one alert); a policy (by rule name, else by severity, else
a catch-all) decides whether and when a ticket opens: at once, or by the
``open_alert_tickets`` job once the alert has fired ``open_after_minutes``. Each state
change adds an internal note; when the alert resolves, the ticket resolves too unless a
human has replied publicly (then a person owns the conversation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from steward.helpdesk import services
from steward.helpdesk.models import (
    AlertRecord,
    AlertTicketPolicy,
    LinkedAlert,
    Reply,
    Source,
    Status,
    Ticket,
    Via,
)
from steward.helpdesk.models.tickets import ACTIVE_STATUSES
from steward.inventory.models import Device

log = logging.getLogger("steward.helpdesk.alerts")

FIRING, RESOLVED, ACKNOWLEDGED = "firing", "resolved", "acknowledged"
STATES = (FIRING, RESOLVED, ACKNOWLEDGED)


@dataclass(frozen=True)
class AlertEvent:
    organization_id: int
    fingerprint: str
    rule_name: str
    severity: str
    state: str  # firing, resolved, acknowledged
    title: str
    description: str = ""
    device_id: int | None = None
    started_at: datetime | None = None
    labels: dict[str, Any] = field(default_factory=dict)
    url: str = ""


def policy_for(organization_id: int, rule_name: str, severity: str) -> AlertTicketPolicy | None:
    """Rule-name policies win over severity policies, which win over catch-alls."""
    best, best_score = None, -1
    for policy in AlertTicketPolicy.objects.filter(organization_id=organization_id, enabled=True):
        if policy.rule_name and policy.rule_name != rule_name:
            continue
        if policy.severity and policy.severity != severity:
            continue
        score = (2 if policy.rule_name else 0) + (1 if policy.severity else 0)
        if score > best_score:
            best, best_score = policy, score
    return best


def active_ticket(organization_id: int, fingerprint: str) -> Ticket | None:
    return (
        Ticket.objects.filter(
            organization_id=organization_id,
            linked_alerts__fingerprint=fingerprint,
            status__in=ACTIVE_STATUSES,
            merged_into__isnull=True,
        )
        .order_by("-created_at")
        .first()
    )


def human_replied(ticket: Ticket) -> bool:
    return (
        Reply.objects.filter(ticket=ticket, public=True, author__isnull=False)
        .exclude(via=Via.SYSTEM)
        .exists()
    )


def _lock_record(event: AlertEvent, now: datetime) -> tuple[AlertRecord, str | None]:
    """The alert's record, row-locked for this transaction; and its previous state."""
    try:
        with transaction.atomic():
            AlertRecord.objects.get_or_create(
                organization_id=event.organization_id,
                fingerprint=event.fingerprint,
                defaults={"state": "", "started_at": event.started_at or now},
            )
    except IntegrityError:
        pass  # created concurrently
    record = AlertRecord.objects.select_for_update().get(
        organization_id=event.organization_id, fingerprint=event.fingerprint
    )
    return record, record.state or None


def on_alert_event(event: AlertEvent, now: datetime | None = None) -> Ticket | None:
    """Record the event; open, annotate or resolve the alert's ticket. Returns the ticket."""
    if event.state not in STATES:
        raise ValueError(f"state: expected one of {', '.join(STATES)}")
    now = now or timezone.now()
    with transaction.atomic():
        record, previous = _lock_record(event, now)
        device = None
        if event.device_id is not None:
            device = Device.objects.filter(
                pk=event.device_id, organization_id=event.organization_id
            ).first()
        if event.state == FIRING and previous in (None, RESOLVED):
            record.started_at = event.started_at or now
        record.rule_name = event.rule_name[:200]
        record.severity = event.severity[:20]
        record.state = event.state
        record.title = event.title[:255]
        record.description = event.description
        record.device = device
        record.labels = event.labels
        record.url = event.url[:500]
        record.updated_at = now
        ticket = active_ticket(event.organization_id, event.fingerprint)
        if ticket is not None:
            if previous != event.state:
                _note(ticket, f"Alert **{event.state}**: {event.title}", now)
            if event.state == RESOLVED and not human_replied(ticket):
                services.set_status(None, ticket, Status.RESOLVED, now)
        elif event.state == FIRING:
            policy = policy_for(event.organization_id, event.rule_name, event.severity)
            wait = timedelta(minutes=policy.open_after_minutes) if policy else None
            if policy is not None and record.started_at + wait <= now:
                ticket = _open(record, policy, now)
        record.ticket = ticket or record.ticket
        record.save()
    return ticket


def _note(ticket: Ticket, text: str, now: datetime) -> None:
    services.add_reply(None, ticket, text, public=False, via=Via.SYSTEM, now=now)


def _open(record: AlertRecord, policy: AlertTicketPolicy, now: datetime) -> Ticket:
    lines = [record.description or "", ""]
    if record.device_id:
        lines.append(f"- Device: {record.device}")
    lines.append(f"- Rule: {record.rule_name}")
    lines.append(f"- Severity: {record.severity}")
    lines.append(f"- Firing since: {record.started_at.isoformat()}")
    if record.labels:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(record.labels.items()))
        lines.append(f"- Labels: {labels}")
    if record.url:
        lines.append(f"- Alert: <{record.url}>")
    ticket = services.create_ticket(
        None,
        record.organization_id,
        subject=f"[{record.severity or 'alert'}] {record.title or record.rule_name}",
        description="\n".join(lines).strip(),
        priority_override=policy.priority,
        queue_id=policy.queue_id,
        device_ids=[record.device_id] if record.device_id else [],
        source=Source.ALERT,
        now=now,
    )
    LinkedAlert.objects.create(
        ticket=ticket, fingerprint=record.fingerprint, alert_id=str(record.pk), linked_at=now
    )
    log.info("alert %s opened ticket %s", record.fingerprint, ticket.pk)
    return ticket


def open_alert_tickets(now: datetime | None = None) -> int:
    """Worker job: open tickets for alerts that have now fired long enough."""
    now = now or timezone.now()
    opened = 0
    firing = AlertRecord.objects.filter(state=FIRING).values_list("pk", flat=True)
    for pk in list(firing):
        with transaction.atomic():
            record = AlertRecord.objects.select_for_update().get(pk=pk)
            if record.state != FIRING:
                continue
            if active_ticket(record.organization_id, record.fingerprint) is not None:
                continue
            policy = policy_for(record.organization_id, record.rule_name, record.severity)
            if policy is None:
                continue
            if record.started_at + timedelta(minutes=policy.open_after_minutes) > now:
                continue
            record.ticket = _open(record, policy, now)
            record.save()
            opened += 1
    return opened
