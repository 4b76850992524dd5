"""The ticket list's filters: one definition for the API and the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from steward.helpdesk import search
from steward.helpdesk.models import Status, Ticket
from steward.helpdesk.models.tickets import ACTIVE_STATUSES
from steward.tenancy.scoping import Principal

SORTS = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "-updated": ("-updated_at", "-id"),
    "priority": ("priority", "-created_at", "-id"),
    "due": ("sla_next_due_at", "-id"),
    "number": ("organization_id", "number"),
}


@dataclass
class TicketFilter:
    status: str = ""  # one status, several comma-separated, or "active"
    assignee: str = ""  # "me", "unassigned" or a user id
    requester: str = ""  # "me" or a user id
    queue_id: int | None = None
    category_id: int | None = None
    priority: str = ""
    q: str = ""
    breaching_soon: bool = False
    within_minutes: int = 60
    organization_id: int | None = None
    sort: str = "-created"

    def apply(
        self, queryset: QuerySet[Ticket], principal: Principal, now: datetime
    ) -> QuerySet[Ticket]:
        qs = queryset
        if self.status == "active":
            qs = qs.filter(status__in=ACTIVE_STATUSES)
        elif self.status:
            wanted = [s for s in self.status.split(",") if s in Status.__members__.values()]
            qs = qs.filter(status__in=wanted)
        qs = _person(qs, "assignee", self.assignee, principal)
        qs = _person(qs, "requester", self.requester, principal)
        if self.queue_id is not None:
            qs = qs.filter(queue_id=self.queue_id)
        if self.category_id is not None:
            qs = qs.filter(category_id=self.category_id)
        if self.priority:
            qs = qs.filter(priority__in=self.priority.upper().split(","))
        if self.organization_id is not None:
            qs = qs.filter(organization_id=self.organization_id)
        if self.breaching_soon:
            horizon = now + timedelta(minutes=max(1, min(self.within_minutes, 7 * 24 * 60)))
            qs = qs.filter(
                status__in=ACTIVE_STATUSES, sla_next_due_at__gt=now, sla_next_due_at__lte=horizon
            )
        if self.q.strip():
            if self.q.strip().lstrip("#").isdigit():
                number = int(self.q.strip().lstrip("#"))
                ids = search.matching_ticket_ids(principal, self.q)
                qs = (
                    qs.filter(Q(number=number) | Q(pk__in=ids)) if ids else qs.filter(number=number)
                )
            else:
                ids = search.matching_ticket_ids(principal, self.q)
                qs = qs.filter(pk__in=ids) if ids is not None else qs
        return qs.order_by(*SORTS.get(self.sort, SORTS["-created"]))


def _person(qs: QuerySet[Ticket], field: str, value: str, principal: Principal):
    if not value:
        return qs
    if value == "me":
        return qs.filter(**{f"{field}_id": principal.user.pk})
    if value == "unassigned" and field == "assignee":
        return qs.filter(assignee__isnull=True)
    if value.isdigit():
        return qs.filter(**{f"{field}_id": int(value)})
    return qs.none()
