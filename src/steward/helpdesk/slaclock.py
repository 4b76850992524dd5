"""The SLA clock of tickets: the pure ``steward.sla`` clock fed from the database.

``refresh()`` runs after every change of a ticket (status, priority, queue, reply) and
from the ``check_sla`` job: it recomputes the clock from the full status history, records
warning and breach events (once each, guarded by a unique constraint) and stores the next
deadline and the next instant worth checking, so the job reads only tickets that are due.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from steward.helpdesk import notify
from steward.helpdesk.models import SlaEvent, SlaPolicy, Ticket
from steward.helpdesk.models.tickets import ACTIVE_STATUSES
from steward.sla import ClockResult, evaluate
from steward.sla.calendar import Calendar, add_business_time
from steward.sla.clock import BREACHED, OK, WARNING

log = logging.getLogger("steward.helpdesk.sla")


def policy_for(ticket: Ticket) -> SlaPolicy | None:
    """The queue's policy, else the organization's default policy, else none."""
    if ticket.queue is not None and ticket.queue.sla_policy_id:
        return ticket.queue.sla_policy
    return SlaPolicy.objects.filter(organization_id=ticket.organization_id, is_default=True).first()


def clock(ticket: Ticket, now: datetime, calendar: Calendar | None = None) -> ClockResult | None:
    policy = ticket.sla_policy
    if policy is None:
        return None
    history = [(c.at, c.to_status) for c in ticket.status_changes.all()]
    return evaluate(
        calendar or policy.calendar(),
        created_at=ticket.created_at,
        history=history,
        now=now,
        first_response_seconds=policy.target_seconds(ticket.priority, "first_response"),
        resolution_seconds=policy.target_seconds(ticket.priority, "resolution"),
        first_response_at=ticket.first_response_at,
        paused_statuses=policy.paused_statuses,
        warn_ratio=policy.warn_percent / 100,
    )


def refresh(
    ticket: Ticket, now: datetime, calendar: Calendar | None = None, fresh: bool = True
) -> ClockResult | None:
    """Recompute the clock, record new warning/breach events, store the next deadlines.

    ``fresh`` drops a prefetched status history (the caller just changed it).
    """
    if fresh and hasattr(ticket, "_prefetched_objects_cache"):
        ticket._prefetched_objects_cache.pop("status_changes", None)
    if ticket.sla_policy_id is None:
        result = None
    else:
        calendar = calendar or ticket.sla_policy.calendar()
        result = clock(ticket, now, calendar)
    due = check = None
    if result is not None:
        ratio = ticket.sla_policy.warn_percent / 100
        checks = []
        for target in result.targets:
            if target.state == BREACHED:
                _record(ticket, target.name, SlaEvent.BREACH, target.due_at, now)
            elif target.state == WARNING:
                _record(ticket, target.name, SlaEvent.WARNING, target.due_at, now)
            if target.state in (OK, WARNING) and target.due_at is not None:
                checks.append(target.due_at)
                if target.state == OK:
                    warn_in = ratio * target.target_seconds - target.elapsed_seconds
                    checks.append(add_business_time(calendar, now, warn_in))
        due, check = result.next_due_at, min(checks) if checks else None
    if (due, check) != (ticket.sla_next_due_at, ticket.sla_next_check_at):
        Ticket.objects.filter(pk=ticket.pk).update(sla_next_due_at=due, sla_next_check_at=check)
        ticket.sla_next_due_at, ticket.sla_next_check_at = due, check
    return result


def _record(ticket: Ticket, target: str, kind: str, due_at, now: datetime) -> None:
    if (
        kind == SlaEvent.WARNING
        and SlaEvent.objects.filter(ticket=ticket, target=target, kind=SlaEvent.BREACH).exists()
    ):
        return
    try:
        with transaction.atomic():
            _, created = SlaEvent.objects.get_or_create(
                ticket=ticket, target=target, kind=kind, defaults={"due_at": due_at, "at": now}
            )
    except IntegrityError:  # a concurrent worker recorded it first
        return
    if not created:
        return
    recipients = {ticket.assignee_id, *ticket.followers.values_list("pk", flat=True)}
    notify.notify(
        notify.Event(
            f"sla_{kind}",
            ticket.organization_id,
            ticket.pk,
            tuple(u for u in recipients if u),
            {"target": target, "due_at": due_at.isoformat() if due_at else None},
        )
    )
    log.warning("SLA %s: %s of ticket %s (due %s)", kind, target, ticket.pk, due_at)


def check_sla(now: datetime | None = None) -> int:
    """Worker job: refresh the tickets whose next warning or breach instant has come.

    Idempotent: events are unique per (ticket, target, kind); running it twice, or on two
    workers, records and notifies each event once.
    """
    now = now or timezone.now()
    calendars: dict[int, Calendar] = {}
    due = (
        Ticket.objects.filter(status__in=ACTIVE_STATUSES, sla_policy__isnull=False)
        .filter(Q(sla_next_check_at__lte=now))
        .select_related("sla_policy")
        .prefetch_related("status_changes", "sla_policy__holidays")
    )
    before = SlaEvent.objects.count()
    for ticket in due.iterator(chunk_size=500):
        policy = ticket.sla_policy
        if policy.pk not in calendars:
            calendars[policy.pk] = policy.calendar()
        refresh(ticket, now, calendars[policy.pk], fresh=False)
    return SlaEvent.objects.count() - before


def refresh_policy(policy: SlaPolicy, now: datetime | None = None) -> int:
    """After a calendar or target change: recompute every active ticket under the policy."""
    now = now or timezone.now()
    calendar = policy.calendar()
    tickets = Ticket.objects.filter(sla_policy=policy, status__in=ACTIVE_STATUSES)
    count = 0
    for ticket in tickets.prefetch_related("status_changes").iterator(chunk_size=500):
        ticket.sla_policy = policy
        refresh(ticket, now, calendar, fresh=False)
        count += 1
    return count
