"""Putting messages on the delivery log: ``enqueue`` one channel, or a whole organization.

Rows written inside the caller's transaction are invisible to workers until it commits,
and nothing is dispatched before that either: the wake-up (and, for ``send_now``, the
immediate attempt) is registered with ``transaction.on_commit``, so a rolled-back request
notifies nobody (STYLE #12).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from steward.notify.message import Message
from steward.notify.models import Channel, Delivery

# Set after a commit that queued deliveries; a worker loop may wait on it to start early.
queued = threading.Event()


def enqueue(channel: Channel, message: Message) -> Delivery | None:
    """Queue ``message`` for ``channel``; ``None`` if the channel is disabled.

    Idempotent per (channel, ``message.idempotency_key``): a second call returns the
    existing delivery, whatever its status, and sends nothing more.
    """
    if not channel.enabled:
        return None
    delivery, created = Delivery.objects.get_or_create(
        channel=channel,
        idempotency_key=message.idempotency_key[:200],
        defaults={
            "event_kind": message.event_kind[:100],
            "severity": message.severity.value,
            "subject": message.subject[:255],
            "payload": message.as_dict(),
            "max_attempts": channel.max_attempts,
            "next_attempt_at": timezone.now(),
        },
    )
    if created:
        transaction.on_commit(queued.set)
    return delivery


def enabled_channels(organization_id: int, exclude: Iterable[int] = ()):
    return Channel.objects.filter(organization_id=organization_id, enabled=True).exclude(
        pk__in=list(exclude)
    )


def notify_organization(
    organization_id: int, message: Message, exclude: Iterable[int] = ()
) -> list[Delivery]:
    """Queue ``message`` to every enabled channel of the organization."""
    deliveries = [enqueue(c, message) for c in enabled_channels(organization_id, exclude)]
    return [d for d in deliveries if d is not None]
