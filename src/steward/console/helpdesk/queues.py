"""The ticket list: saved views ("Mine", "Unassigned", ...), per-queue lists, filters,
search, and bulk actions on the selected rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from steward.console.common import principal, shows_organization
from steward.console.core.redirects import safe_next
from steward.console.helpdesk import choices, presenters
from steward.console.helpdesk.common import (
    Clocks,
    error_text,
    list_queryset,
    staff_ticket,
    staff_tickets,
    staff_view,
)
from steward.helpdesk import services
from steward.helpdesk.errors import HelpdeskError
from steward.helpdesk.filters import SORTS, TicketFilter
from steward.helpdesk.models import Queue, Status, Ticket
from steward.helpdesk.models.tickets import ACTIVE_STATUSES
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Forbidden, NotFound

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50
# "Breaching soon": a running SLA deadline within the next four hours (half a working
# day: enough to plan around, short enough to stay a short list).
BREACHING_MINUTES = 240
MAX_BULK = 200


@dataclass(frozen=True)
class View:
    key: str
    title: str
    preset: dict
    sort: str = "-created"
    empty: str = "No tickets here."


VIEWS: dict[str, View] = {
    "mine": View(
        "mine",
        "My tickets",
        {"assignee": "me", "status": "active"},
        "priority",
        "Nothing assigned to you is open. Pick one from Unassigned.",
    ),
    "unassigned": View(
        "unassigned",
        "Unassigned",
        {"assignee": "unassigned", "status": "active"},
        "created",
        "Every open ticket has someone working on it.",
    ),
    "breaching": View(
        "breaching",
        "Breaching soon",
        {"breaching_soon": True, "within_minutes": BREACHING_MINUTES},
        "due",
        "No SLA deadline falls in the next four hours.",
    ),
    "breached": View(
        "breached",
        "SLA breached",
        {"breached": True, "status": "active"},
        "priority",
        "No open ticket has missed an SLA target.",
    ),
    "open": View("open", "All open", {"status": "active"}, "-created", "No open tickets."),
    "all": View("all", "All tickets", {}, "-created", "No tickets yet."),
}
# The views the sidebar (and the dashboard) count: open tickets only.
COUNTED = ("open", "mine", "unassigned", "breaching", "breached")


@dataclass(frozen=True)
class Row:
    ticket: Ticket
    sla: presenters.Badge
    updated: str  # "5m ago": compact, the column is narrow


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _filters(request: HttpRequest, view: View, queue: Queue | None) -> TicketFilter:
    get = request.GET
    sort = get.get("sort", "")
    filters = TicketFilter(
        status=get.get("status", "") or view.preset.get("status", ""),
        assignee=get.get("assignee", "") or view.preset.get("assignee", ""),
        priority=get.get("priority", ""),
        category_id=_int(get.get("category")),
        q=get.get("q", "").strip()[:200],
        breaching_soon=view.preset.get("breaching_soon", False),
        within_minutes=view.preset.get("within_minutes", 60),
        breached=view.preset.get("breached", False),
        sort=sort if sort in SORTS else view.sort,
    )
    if queue is not None:
        filters.queue_id = queue.pk
    return filters


def view_counts(request: HttpRequest, now: datetime) -> dict[str, int]:
    """Open tickets per counted view (``COUNTED``), in one query: the numbers the sidebar
    and the dashboard show for the lists they link to. Each count uses its view's own
    preset conditions, so it is the number of rows the view lists when no filter is set."""
    who = principal(request)
    active = staff_tickets(request).filter(status__in=ACTIVE_STATUSES)
    return active.aggregate(
        **{
            key: Count("pk", filter=TicketFilter(**VIEWS[key].preset).conditions(who, now))
            for key in COUNTED
        }
    )


def _counts(request: HttpRequest, now: datetime) -> dict:
    """Open tickets per view and per queue: two queries however many tickets exist."""
    counts = view_counts(request, now)
    active = staff_tickets(request).filter(status__in=ACTIVE_STATUSES)
    per_queue = dict(
        active.exclude(queue__isnull=True)
        .order_by()
        .values_list("queue_id")
        .annotate(n=Count("pk"))
        .values_list("queue_id", "n")
    )
    return {"views": counts, "queues": per_queue}


def sidebar(request: HttpRequest, current: str, now: datetime | None = None) -> dict:
    """Context for the help desk's own sidebar (views with counts, queues, KB, reports)."""
    counts = _counts(request, now or timezone.now())
    queues = list(choices.queues(request))
    for q in queues:
        q.open_count = counts["queues"].get(q.pk, 0)  # type: ignore[attr-defined]
        q.is_current = current == f"queue-{q.pk}"  # type: ignore[attr-defined]
    return {
        "hd_current": current,
        "hd_counts": counts["views"],
        "hd_queues": queues,
        "hd_views": [v for v in VIEWS.values()],
        "hd_can_operate": principal(request).organization_ids(Capability.OPERATE) != [],
        "hd_can_manage": principal(request).organization_ids(Capability.MANAGE) != [],
    }


def _page_size(request: HttpRequest) -> int:
    raw = request.GET.get("per_page", "")
    return int(raw) if raw.isdigit() and int(raw) in PAGE_SIZES else DEFAULT_PAGE_SIZE


@staff_view
def ticket_list(request: HttpRequest, view: str = "open", queue_id: int | None = None):
    now = timezone.now()
    queue = None
    if queue_id is not None:
        queue = choices.queues(request).filter(pk=queue_id).first()
        if queue is None:
            raise Http404
        spec = View(f"queue-{queue.pk}", queue.name, {"status": "active"}, "-created")
    elif view in VIEWS:
        spec = VIEWS[view]
    else:
        raise Http404
    filters = _filters(request, spec, queue)
    who = principal(request)
    tickets = filters.apply(staff_tickets(request, list_queryset()), who, now)
    page = Paginator(tickets, _page_size(request)).get_page(request.GET.get("page"))
    clocks = Clocks(now)
    rows = [
        Row(
            t,
            presenters.ticket_badge(clocks.of(t), now),
            presenters.ago(t.updated_at, now),
        )
        for t in page
    ]
    extra = {k: v for k, v in request.GET.items() if k in ("q", "status", "priority", "category")}
    return render(
        request,
        "console/helpdesk/list.html",
        {
            **sidebar(request, spec.key, now),
            "view": spec,
            "queue": queue,
            "page_obj": page,
            "rows": rows,
            "filters": filters,
            "filtered": any(v for v in extra.values()),
            "sort": request.GET.get("sort", "") or spec.sort,
            "statuses": choices.STATUS_CHOICES,
            "priorities": choices.PRIORITY_CHOICES,
            "categories": choices.categories(request),
            "technicians": choices.technicians(request),
            "show_organization": shows_organization(request),
            "can_operate": who.organization_ids(Capability.OPERATE) != [],
            "page_sizes": PAGE_SIZES,
            "page_size": page.paginator.per_page,
            "here": request.get_full_path(),
        },
    )


# ---------------------------------------------------------------- bulk actions

BULK_ACTIONS = ("assign_me", "assign", "unassign", "status", "priority", "close")


def _apply(request: HttpRequest, ticket: Ticket, action: str, value: str) -> None:
    who = principal(request)
    if action == "assign_me":
        services.assign(who, ticket, who.user.pk)
    elif action == "assign":
        if not value.isdigit():
            raise HelpdeskError("assignee: choose a technician")
        services.assign(who, ticket, int(value))
    elif action == "unassign":
        services.assign(who, ticket, None)
    elif action == "status":
        if value not in Status.__members__.values():
            raise HelpdeskError("status: choose a status")
        services.set_status(who, ticket, value)
    elif action == "priority":
        services.update_ticket(who, ticket, {"priority_override": value})
    elif action == "close":
        services.set_status(who, ticket, Status.CLOSED)


@staff_view
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Apply one action to the selected tickets; each is checked on its own, so one
    refusal (a closed ticket, a technician of another organization) spares the rest."""
    back = safe_next(request, request.POST.get("next")) or reverse("console:tickets")
    # The toolbar's buttons ("Assign to me", "Close") send ``quick``; its select sends
    # ``action`` as "status:open", "priority:P1", "assign:<user id>".
    action = request.POST.get("quick") or request.POST.get("action", "")
    value = request.POST.get("value", "").strip()
    if action.startswith("status:"):
        action, value = "status", action.split(":", 1)[1]
    elif action.startswith("priority:"):
        action, value = "priority", action.split(":", 1)[1]
    elif action.startswith("assign:"):
        action, value = "assign", action.split(":", 1)[1]
    ids = [int(i) for i in request.POST.getlist("ticket") if i.isdigit()][:MAX_BULK]
    if action not in BULK_ACTIONS:
        messages.error(request, "Choose an action for the selected tickets.")
        return redirect(back)
    if not ids:
        messages.error(request, "Select at least one ticket first.")
        return redirect(back)
    done, errors = 0, []
    for pk in ids:
        label = f"ticket {pk}"
        try:
            ticket = staff_ticket(request, pk)
            label = ticket.reference
            principal(request).require(Capability.OPERATE, ticket.organization_id)
            _apply(request, ticket, action, value)
        except NotFound:
            errors.append(f"{label}: not found")
        except (HelpdeskError, Forbidden) as exc:
            errors.append(f"{label}: {error_text(exc)}")
        else:
            done += 1
    if done:
        messages.success(request, f"{done} ticket{'s' if done != 1 else ''} updated.")
    if errors:
        shown = "; ".join(errors[:5]) + (
            f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        )
        messages.error(request, f"Not changed: {shown}")
    return redirect(back)
