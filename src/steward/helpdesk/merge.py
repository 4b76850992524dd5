"""Merging a duplicate ticket into another."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from steward.helpdesk import services, slaclock
from steward.helpdesk.errors import HelpdeskError, InvalidState
from steward.helpdesk.models import (
    AlertRecord,
    Attachment,
    LinkedAlert,
    Reply,
    SearchDocument,
    Status,
    Ticket,
    TimeEntry,
    Via,
)
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Principal


def merge(
    principal: Principal | None, source: Ticket, target: Ticket, now: datetime | None = None
) -> Ticket:
    """Move replies, attachments, time, followers, devices, tags and alert links of
    ``source`` into ``target``; close ``source`` pointing at ``target``."""
    if principal is not None:
        principal.require(Capability.OPERATE, source.organization_id)
        principal.require(Capability.OPERATE, target.organization_id)
    if source.organization_id != target.organization_id:
        raise HelpdeskError("target_id: tickets of different organizations do not merge")
    if source.pk == target.pk:
        raise HelpdeskError("target_id: a ticket cannot merge into itself")
    if source.merged_into_id is not None:
        raise InvalidState("the ticket was already merged")
    if target.status == Status.CLOSED or target.merged_into_id is not None:
        raise InvalidState("the target ticket is closed")
    now = now or timezone.now()
    with transaction.atomic():
        Reply.objects.filter(ticket=source).update(ticket=target)
        SearchDocument.objects.filter(kind="reply", ticket=source).update(ticket=target)
        Attachment.objects.filter(ticket=source).update(ticket=target)
        TimeEntry.objects.filter(ticket=source).update(ticket=target)
        existing = set(target.linked_alerts.values_list("fingerprint", flat=True))
        for link in LinkedAlert.objects.filter(ticket=source):
            if link.fingerprint in existing:
                link.delete()
            else:
                link.ticket = target
                link.save()
        AlertRecord.objects.filter(ticket=source).update(ticket=target)
        followers = list(source.followers.all())
        if source.requester is not None and source.requester_id != target.requester_id:
            followers.append(source.requester)
        target.followers.add(*followers)
        target.devices.add(*source.devices.all())
        target.tags.add(*source.tags.all())
        if source.first_response_at and (
            target.first_response_at is None or source.first_response_at < target.first_response_at
        ):
            target.first_response_at = source.first_response_at
        target.save()
        source.merged_into = target
        source.save()
        services.add_reply(
            None,
            target,
            f"Ticket #{source.number} ({source.subject}) was merged into this ticket.",
            public=False,
            via=Via.SYSTEM,
            now=now,
        )
        services.add_reply(
            None,
            source,
            f"Merged into ticket #{target.number}.",
            public=False,
            via=Via.SYSTEM,
            now=now,
        )
        if source.status != Status.CLOSED:
            services._record_status(source, Status.CLOSED, now, getattr(principal, "user", None))
        slaclock.refresh(source, now)
        slaclock.refresh(target, now)
    return target
