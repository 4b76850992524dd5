"""What the staff help desk pages share: who may use them, fetching a ticket, the clock.

Staff pages are for members with VIEW somewhere (viewer and up); everybody else — a
requester, a person without membership — gets a 404, as for any page they cannot know
about, and uses the portal instead. Tickets come through ``helpdesk.visibility`` (the one
visibility rule) narrowed by the console's organization switcher.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from steward.console.common import console_view, in_current_org, principal
from steward.helpdesk import slaclock
from steward.helpdesk.errors import HelpdeskError
from steward.helpdesk.models import Ticket
from steward.helpdesk.visibility import get_ticket, is_staff_in, visible_tickets
from steward.sla import ClockResult
from steward.sla.calendar import Calendar
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Forbidden, NotFound


def is_staff(request: HttpRequest) -> bool:
    """Whether the user may use the staff pages: VIEW in at least one organization."""
    return principal(request).organization_ids(Capability.VIEW) != []


def staff_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``console_view`` for staff pages: 404 unless the user holds VIEW somewhere."""

    @console_view
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_staff(request):
            raise Http404
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None

    return wrapper


def list_queryset() -> QuerySet[Ticket]:
    """Tickets as lists show them, with what the SLA clock reads, in a constant number of
    queries (the clock needs each ticket's status history and its policy's holidays)."""
    return (
        Ticket.objects.select_related(
            "organization", "requester", "assignee", "queue", "sla_policy"
        )
        .prefetch_related("status_changes", "sla_policy__holidays")
        .defer("description")
    )


def staff_tickets(request: HttpRequest, queryset: QuerySet[Ticket] | None = None):
    """Tickets the user may see as staff, narrowed to the switcher's organization."""
    qs = visible_tickets(principal(request), queryset)
    return in_current_org(request, qs, Capability.VIEW)


def staff_ticket(
    request: HttpRequest,
    pk: int,
    capability: Capability = Capability.VIEW,
    queryset: QuerySet[Ticket] | None = None,
) -> Ticket:
    """One ticket for a staff page: 404 unless the user is staff in its organization
    (a requester's own ticket is only shown in the portal)."""
    who = principal(request)
    ticket = get_ticket(who, pk, queryset=queryset)
    if not is_staff_in(who, ticket.organization_id):
        raise NotFound
    if capability is not Capability.VIEW:
        who.require(capability, ticket.organization_id)
    return ticket


class Clocks:
    """The SLA clock of many tickets, reading each policy's calendar once."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.calendars: dict[int, Calendar] = {}

    def of(self, ticket: Ticket) -> ClockResult | None:
        policy = ticket.sla_policy
        if policy is None:
            return None
        if policy.pk not in self.calendars:
            self.calendars[policy.pk] = policy.calendar()
        return slaclock.clock(ticket, self.now, self.calendars[policy.pk])


def error_text(exc: HelpdeskError | Forbidden) -> str:
    """A service's refusal as a sentence ("subject: may not be blank" -> "Subject: ...")."""
    text = str(getattr(exc, "detail", "") or exc) or "That is not allowed."
    text = text.replace("_id:", ":").replace("_", " ")
    return text[:1].upper() + text[1:]
