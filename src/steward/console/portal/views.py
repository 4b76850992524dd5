"""Portal tickets: the list, opening one, reading and answering the public conversation."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from steward.console.common import principal
from steward.console.helpdesk.actions import file_response, save_files
from steward.console.helpdesk.common import error_text
from steward.console.portal.common import (
    my_tickets,
    portal_ticket,
    portal_view,
    public_attachments,
    public_replies,
)
from steward.console.portal.forms import PortalReplyForm, PortalTicketForm
from steward.helpdesk import markdown, services
from steward.helpdesk.errors import HelpdeskError
from steward.helpdesk.models import DeviceAssignment, Source, Status, Via
from steward.helpdesk.models.tickets import ACTIVE_STATUSES
from steward.helpdesk.visibility import member_organizations
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Forbidden

PER_PAGE = 25


@portal_view
def ticket_list(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "open")
    tickets = my_tickets(request).select_related("organization", "assignee", "requester")
    counts = {
        "open": tickets.filter(status__in=ACTIVE_STATUSES).count(),
        "closed": tickets.exclude(status__in=ACTIVE_STATUSES).count(),
    }
    if show == "closed":
        tickets = tickets.exclude(status__in=ACTIVE_STATUSES)
    else:
        show = "open"
        tickets = tickets.filter(status__in=ACTIVE_STATUSES)
    page = Paginator(tickets.order_by("-updated_at", "-id"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "console/portal/list.html",
        {
            "page_obj": page,
            "show": show,
            "counts": counts,
            "several_orgs": len(_organizations(request)) > 1,
            "portal_current": "tickets",
        },
    )


def _organizations(request: HttpRequest) -> list[Organization]:
    """Where the user may open a ticket: every organization they belong to."""
    ids = member_organizations(principal(request))
    qs = Organization.objects.all() if ids is None else Organization.objects.filter(pk__in=ids)
    return list(qs.order_by("name"))


def _my_devices(request: HttpRequest, organizations: list[Organization]) -> list:
    """The devices assigned to the user (``DeviceAssignment``), that the rules let them link."""
    who = principal(request)
    found = []
    for org in organizations:
        assigned = DeviceAssignment.objects.filter(user=who.user, organization_id=org.pk)
        found += list(
            services.allowed_devices(who, org.pk)
            .filter(pk__in=assigned.values("device_id"))
            .only("pk", "hostname", "display_name", "organization_id")
            .order_by("hostname")
        )
    return found


@portal_view
def ticket_create(request: HttpRequest) -> HttpResponse:
    organizations = _organizations(request)
    form = PortalTicketForm(request.POST or None, request.FILES or None)
    form.fields["organization"].choices = [(o.pk, o.name) for o in organizations]
    if len(organizations) == 1:
        form.fields["organization"].widget = form.fields["organization"].hidden_widget()
        form.fields["organization"].initial = organizations[0].pk
    devices = _my_devices(request, organizations)
    several = len(organizations) > 1
    names = {o.pk: o.name for o in organizations}
    form.fields["device"].choices = [("", "None / not sure")] + [
        (d.pk, f"{d.name} ({names[d.organization_id]})" if several else d.name) for d in devices
    ]
    if not devices:
        form.fields["device"].widget = form.fields["device"].hidden_widget()
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                ticket = services.create_ticket(
                    principal(request),
                    data["organization"],
                    subject=data["subject"],
                    description=data["description"],
                    device_ids=[data["device"]] if data["device"] else [],
                    source=Source.PORTAL,
                )
        except (HelpdeskError, Forbidden) as exc:
            form.add_error(None, error_text(exc))
        else:
            for line in save_files(request, ticket, data["files"]):
                messages.error(request, f"Not attached: {line}")
            messages.success(
                request, f"Ticket {ticket.reference} is open. We will answer here and by email."
            )
            return redirect("console:portal-ticket", ticket.pk)
    return render(
        request,
        "console/portal/create.html",
        {
            "form": form,
            "no_organization": not organizations,
            "portal_current": "new",
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _render_ticket(request: HttpRequest, pk: int, form: PortalReplyForm | None = None, status=200):
    ticket = portal_ticket(request, pk)
    files = list(public_attachments(request, ticket))
    by_reply: dict[int | None, list] = {}
    for a in files:
        by_reply.setdefault(a.reply_id, []).append(a)
    replies = [
        {
            "reply": r,
            "html": markdown.render(r.body),
            "files": by_reply.get(r.pk, []),
            "from_staff": r.author_id != ticket.requester_id,
        }
        for r in public_replies(request, ticket).select_related("author")
    ]
    who = principal(request)
    return render(
        request,
        "console/portal/ticket.html",
        {
            "ticket": ticket,
            "description_html": markdown.render(ticket.description),
            "opening_files": by_reply.get(None, []),
            "replies": replies,
            "form": form or PortalReplyForm(),
            "can_close": ticket.requester_id == who.user.pk and ticket.status != Status.CLOSED,
            "staff": who.can(Capability.VIEW, ticket.organization_id),
            "portal_current": "tickets",
        },
        status=status,
    )


@portal_view
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_ticket(request, pk)


@portal_view
@require_POST
def ticket_reply(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = portal_ticket(request, pk)
    form = PortalReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_ticket(request, pk, form, status=400)
    reopening = ticket.status in (Status.RESOLVED, Status.PENDING)
    try:
        reply = services.add_reply(
            principal(request), ticket, form.cleaned_data["body"], public=True, via=Via.PORTAL
        )
    except (HelpdeskError, Forbidden) as exc:
        form.add_error(None, error_text(exc))
        return _render_ticket(request, pk, form, status=400)
    for line in save_files(request, ticket, form.cleaned_data["files"], reply=reply):
        messages.error(request, f"Not attached: {line}")
    ticket.refresh_from_db(fields=["status"])
    if reopening and ticket.status == Status.OPEN:
        messages.success(request, "Reply sent. The ticket is open again.")
    else:
        messages.success(request, "Reply sent.")
    return redirect(reverse("console:portal-ticket", args=[pk]) + f"#reply-{reply.pk}")


@portal_view
@require_POST
def ticket_close(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = portal_ticket(request, pk)
    try:
        services.set_status(principal(request), ticket, Status.CLOSED)
    except (HelpdeskError, Forbidden) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "Ticket closed. Thank you!")
    return redirect("console:portal-ticket", pk)


@portal_view
@require_GET
def download(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    ticket = portal_ticket(request, pk)
    if not public_attachments(request, ticket).filter(pk=attachment_pk).exists():
        raise Http404
    return file_response(request, pk, attachment_pk)
