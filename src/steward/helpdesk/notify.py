"""Help desk events for people: recorded in an outbox and logged.

``notify()`` is the single exit point; the notification engine (email, chat) will deliver
the ``Notification`` rows it writes and stamp ``delivered_at``. Writing inside the caller's
transaction means a rolled-back change never notifies anybody (an outbox, rather than
sending from the request).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from steward.helpdesk.models import Notification

log = logging.getLogger("steward.helpdesk.notify")


@dataclass(frozen=True)
class Event:
    kind: str  # ticket_created, reply_added, mentioned, assigned, status_changed, sla_*
    organization_id: int
    ticket_id: int | None = None
    recipients: tuple[int, ...] = ()  # user ids
    payload: dict[str, Any] = field(default_factory=dict)


def notify(event: Event) -> Notification:
    recipients = sorted(set(event.recipients))
    row = Notification.objects.create(
        organization_id=event.organization_id,
        kind=event.kind,
        ticket_id=event.ticket_id,
        recipients=recipients,
        payload=event.payload,
    )
    log.info("helpdesk event %s ticket=%s recipients=%s", event.kind, event.ticket_id, recipients)
    # Email: queued in this same transaction (a rolled-back change mails nobody) and sent by
    # the worker job ``send_ticket_email``. A failure to compose mail must not undo the
    # ticket change: it runs in a savepoint and is logged with its traceback.
    from steward.helpdesk.email import outbound

    try:
        with transaction.atomic():
            outbound.queue_for(row)
    except Exception:
        log.exception("helpdesk event %s ticket=%s: queueing email failed", event.kind, row.pk)
    return row
