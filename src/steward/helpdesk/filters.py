"""The ticket list's filters: one definition for the API and the console."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from steward.helpdesk import search
from steward.helpdesk.models import SlaEvent, Status, Ticket
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
    breached: bool = False  # an SLA target was missed (any status; views add "active")
    organization_id: int | None = None
    sort: str = "-created"

    # Set by ``apply``: false when ``q`` matched more documents than search ranks, so the
    # list holds the tickets of the newest matches and its count is a lower bound.
    complete: bool = field(default=True, init=False, compare=False)

    def apply(
        self, queryset: QuerySet[Ticket], principal: Principal, now: datetime
    ) -> QuerySet[Ticket]:
        where = self.conditions(principal, now)
        qs = queryset.filter(where)
        text = self.q.strip()
        if text:
            # The full-text side sees the same conditions on each document's ticket, so
            # its window of newest matches holds only tickets this list shows.
            matches = search.matching_tickets(principal, text, where=_on_ticket(where))
            ids = matches.ids if matches is not None else None
            self.complete = matches is None or matches.complete
            number = text.lstrip("#")
            if number.isdigit():
                qs = qs.filter(Q(number=int(number)) | Q(pk__in=ids or []))
            elif ids is not None:
                qs = qs.filter(pk__in=ids)
        return qs.order_by(*SORTS.get(self.sort, SORTS["-created"]))

    def conditions(self, principal: Principal, now: datetime) -> Q:
        """Every filter but ``q``, as one condition on tickets."""
        where = Q()
        if self.status == "active":
            where &= Q(status__in=ACTIVE_STATUSES)
        elif self.status:
            wanted = [s for s in self.status.split(",") if s in Status.__members__.values()]
            where &= Q(status__in=wanted)
        where &= _person("assignee", self.assignee, principal)
        where &= _person("requester", self.requester, principal)
        if self.queue_id is not None:
            where &= Q(queue_id=self.queue_id)
        if self.category_id is not None:
            where &= Q(category_id=self.category_id)
        if self.priority:
            where &= Q(priority__in=self.priority.upper().split(","))
        if self.organization_id is not None:
            where &= Q(organization_id=self.organization_id)
        if self.breaching_soon:
            horizon = now + timedelta(minutes=max(1, min(self.within_minutes, 7 * 24 * 60)))
            where &= Q(
                status__in=ACTIVE_STATUSES, sla_next_due_at__gt=now, sla_next_due_at__lte=horizon
            )
        if self.breached:
            where &= breached()
        return where


def breached() -> Q:
    """Tickets with a recorded SLA breach (an ``SlaEvent`` of kind breach, any target).

    A subquery on ids rather than a join (a ticket may have breached both targets) or an
    ``Exists`` (``_on_ticket`` moves plain lookups only)."""
    return Q(pk__in=SlaEvent.objects.filter(kind=SlaEvent.BREACH).values("ticket_id"))


def _person(field_name: str, value: str, principal: Principal) -> Q:
    if not value:
        return Q()
    if value == "me":
        return Q(**{f"{field_name}_id": principal.user.pk})
    if value == "unassigned" and field_name == "assignee":
        return Q(assignee__isnull=True)
    if value.isdigit():
        return Q(**{f"{field_name}_id": int(value)})
    return Q(pk__in=[])


def _on_ticket(where: Q) -> Q | None:
    """The same condition on a search document's ticket (``ticket__`` + each lookup)."""
    if not where:
        return None
    moved = Q()
    moved.connector, moved.negated = where.connector, where.negated
    for child in where.children:
        if isinstance(child, Q):
            moved.children.append(_on_ticket(child) or Q())
        else:
            moved.children.append((f"ticket__{child[0]}", child[1]))
    return moved
