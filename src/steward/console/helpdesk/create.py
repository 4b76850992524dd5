"""A technician opens a ticket on behalf of a requester (phone call, walk-in)."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from steward.console.common import in_current_org, principal
from steward.console.helpdesk import choices, device_lookup
from steward.console.helpdesk.actions import save_files
from steward.console.helpdesk.common import error_text, staff_view
from steward.console.helpdesk.forms import TicketCreateForm
from steward.console.helpdesk.queues import sidebar
from steward.console.manage.helpers import require_somewhere
from steward.helpdesk import services
from steward.helpdesk.errors import HelpdeskError
from steward.helpdesk.models import Source
from steward.inventory.models import Device
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Forbidden


def _build_form(request: HttpRequest) -> TicketCreateForm:
    orgs = list(require_somewhere(request, Capability.OPERATE).order_by("name"))
    several = len(orgs) > 1
    org_ids = {o.pk for o in orgs}
    names = {o.pk: o.name for o in orgs}

    def suffix(org_id: int) -> str:
        return f" ({names[org_id]})" if several else ""

    form = TicketCreateForm(request.POST or None, request.FILES or None)
    form.fields["organization"].choices = [(o.pk, o.name) for o in orgs]
    if not several:
        form.fields["organization"].widget = form.fields["organization"].hidden_widget()
        form.fields["organization"].initial = orgs[0].pk
    members = [p for p in choices.people(request) if p.organization_id in org_ids]
    form.fields["requester"].choices = [("", "Choose a person…")] + [
        (p.id, p.label) for p in members
    ]
    form.fields["assignee"].choices = [("", "Unassigned")] + [
        (p.id, p.label) for p in choices.technicians(request) if p.organization_id in org_ids
    ]
    form.fields["queue"].choices = [("", "No queue")] + [
        (q.pk, f"{q.name}{suffix(q.organization_id)}")
        for q in choices.queues(request)
        if q.organization_id in org_ids
    ]
    form.fields["category"].choices = [("", "No category")] + [
        (c.pk, f"{c.name}{suffix(c.organization_id)}")
        for c in choices.categories(request)
        if c.organization_id in org_ids
    ]
    form.fields["device"].widget.names = device_lookup.suggestions(_linkable(request))
    return form


def _linkable(request: HttpRequest):
    return in_current_org(request, Device.objects.active(), Capability.OPERATE)


def _device_ids(request: HttpRequest, form: TicketCreateForm) -> list[int] | None:
    """The typed device's id (``[]`` for none); ``None`` after adding the form's error."""
    typed = form.cleaned_data["device"]
    if not typed:
        return []
    org_id = form.cleaned_data["organization"]
    try:
        return [device_lookup.find_device(_linkable(request).filter(organization_id=org_id),
                                          typed).pk]  # fmt: skip
    except device_lookup.DeviceNotFound as exc:
        form.add_error("device", str(exc))
        return None


@staff_view
def ticket_create(request: HttpRequest) -> HttpResponse:
    form = _build_form(request)
    device_ids = (
        _device_ids(request, form) if request.method == "POST" and form.is_valid() else None
    )
    if device_ids is not None:
        data = form.cleaned_data
        who = principal(request)
        try:
            with transaction.atomic():
                ticket = services.create_ticket(
                    who,
                    data["organization"],
                    subject=data["subject"],
                    description=data["description"],
                    requester_id=data["requester"],
                    impact=data["impact"],
                    urgency=data["urgency"],
                    priority_override=data["priority_override"],
                    queue_id=data["queue"],
                    category_id=data["category"],
                    assignee_id=data["assignee"],
                    device_ids=device_ids,
                    tags=[t for t in data["tags"].split(",") if t.strip()],
                    source=Source.CONSOLE,
                )
        except (HelpdeskError, Forbidden) as exc:
            form.add_error(None, error_text(exc))
        else:
            for line in save_files(request, ticket, data["files"]):
                messages.error(request, f"Not attached: {line}")
            messages.success(request, f"Ticket {ticket.reference} opened.")
            return redirect("console:ticket", ticket.pk)
    return render(
        request,
        "console/helpdesk/create.html",
        {**sidebar(request, "new"), "form": form},
        status=400 if form.is_bound and form.errors else 200,
    )
