"""What staff do on a ticket page: reply or note, change fields, follow, log time, link
devices, merge, upload and download attachments. Each is a POST (CSRF-checked) that ends
in a redirect back to the ticket (post/redirect/get), or the page again with errors."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from steward.console.common import principal
from steward.console.helpdesk.common import error_text, staff_ticket, staff_tickets, staff_view
from steward.console.helpdesk.device_lookup import DeviceNotFound, find_device
from steward.console.helpdesk.forms import ReplyForm, TimeEntryForm
from steward.console.helpdesk.ticket import render_detail
from steward.helpdesk import attachments, merge, services
from steward.helpdesk.errors import HelpdeskError
from steward.helpdesk.models import Via
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Forbidden


def _back(ticket_pk: int, anchor: str = "") -> HttpResponse:
    return redirect(reverse("console:ticket", args=[ticket_pk]) + (f"#{anchor}" if anchor else ""))


def save_files(request: HttpRequest, ticket, files, reply=None) -> list[str]:
    """Store uploads one by one; the refusals (too large, executable) as sentences."""
    refused = []
    for upload in files:
        try:
            attachments.save_attachment(principal(request), ticket, upload, reply=reply)
        except HelpdeskError as exc:
            refused.append(f"{attachments.clean_filename(upload.name)}: {error_text(exc)}")
    return refused


@staff_view
@require_POST
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = staff_ticket(request, pk, Capability.OPERATE)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return render_detail(request, pk, reply_form=form, status=400)
    data, who = form.cleaned_data, principal(request)
    public = data["visibility"] == "public"
    try:
        with transaction.atomic():
            added = services.add_reply(who, ticket, data["body"], public=public, via=Via.CONSOLE)
            if data["then_status"]:
                services.set_status(who, ticket, data["then_status"])
    except (HelpdeskError, Forbidden) as exc:
        form.add_error(None, error_text(exc))
        return render_detail(request, pk, reply_form=form, status=400)
    refused = save_files(request, ticket, data["files"], reply=added)
    for line in refused:
        messages.error(request, f"Not attached: {line}")
    messages.success(request, "Reply sent." if public else "Internal note added.")
    return _back(pk, f"reply-{added.pk}")


# Side panel fields -> the keys services.update_ticket() takes.
def _changes(request: HttpRequest, ticket) -> dict:
    post, changes = request.POST, {}
    if "status" in post and post["status"] != ticket.status:
        changes["status"] = post["status"]
    if "assignee" in post:
        value = int(post["assignee"]) if post["assignee"].isdigit() else None
        if value != ticket.assignee_id:
            changes["assignee_id"] = value
    if "priority_override" in post and post["priority_override"] != ticket.priority_override:
        changes["priority_override"] = post["priority_override"]
    for level in ("impact", "urgency"):
        if level in post and post[level] and post[level] != getattr(ticket, level):
            changes[level] = post[level]
    for name in ("queue", "category"):
        if name in post:
            value = int(post[name]) if post[name].isdigit() else None
            if value != getattr(ticket, f"{name}_id"):
                changes[f"{name}_id"] = value
    if "tags" in post:
        tags = sorted({t.strip().lower() for t in post["tags"].split(",") if t.strip()})
        if tags != sorted(t.name for t in ticket.tags.all()):
            changes["tags"] = tags
    if "subject" in post and post["subject"].strip() and post["subject"] != ticket.subject:
        changes["subject"] = post["subject"].strip()[:255]
    return changes


@staff_view
@require_POST
def update(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = staff_ticket(request, pk, Capability.OPERATE)
    changes = _changes(request, ticket)
    if not changes:
        messages.info(request, "Nothing to change.")
        return _back(pk)
    try:
        services.update_ticket(principal(request), ticket, changes)
    except (HelpdeskError, Forbidden, ValueError) as exc:
        messages.error(request, f"Not saved: {error_text(exc)}")
    else:
        messages.success(request, f"Ticket {ticket.reference} updated.")
    return _back(pk)


@staff_view
@require_POST
def follow(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = staff_ticket(request, pk)
    on = request.POST.get("on") == "1"
    services.follow(principal(request), ticket, on)
    messages.success(request, "You follow this ticket." if on else "You no longer follow it.")
    return _back(pk)


@staff_view
@require_POST
def add_time(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = staff_ticket(request, pk, Capability.OPERATE)
    form = TimeEntryForm(request.POST)
    if not form.is_valid():
        return render_detail(request, pk, time_form=form, status=400)
    data = form.cleaned_data
    try:
        services.add_time_entry(
            principal(request),
            ticket,
            data["minutes"],
            billable=data["billable"],
            note=data["note"],
            day=data["date"],
        )
    except HelpdeskError as exc:
        form.add_error(None, error_text(exc))
        return render_detail(request, pk, time_form=form, status=400)
    messages.success(request, f"{data['minutes']} minutes logged.")
    return _back(pk, "time")


@staff_view
@require_POST
def devices(request: HttpRequest, pk: int) -> HttpResponse:
    """Link (``device``: a host name; or ``add``: an id) or unlink (``remove``: an id) one
    device of the ticket's organization."""
    ticket = staff_ticket(request, pk, Capability.OPERATE)
    linked = {d.pk for d in ticket.devices.all()}
    add, remove = request.POST.get("add", ""), request.POST.get("remove", "")
    typed = request.POST.get("device")
    if typed is not None:
        allowed = services.allowed_devices(principal(request), ticket.organization_id)
        try:
            add = str(find_device(allowed, typed).pk)
        except DeviceNotFound as exc:
            messages.error(request, str(exc))
            return _back(pk)
    if add.isdigit():
        linked.add(int(add))
    elif remove.isdigit():
        linked.discard(int(remove))
    else:
        messages.error(request, "Choose a device.")
        return _back(pk)
    try:
        services.update_ticket(principal(request), ticket, {"device_ids": sorted(linked)})
    except HelpdeskError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "Device linked." if add else "Device unlinked.")
    return _back(pk)


@staff_view
@require_POST
def merge_into(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge this ticket into the one numbered ``target`` in the same organization."""
    source = staff_ticket(request, pk, Capability.OPERATE)
    raw = request.POST.get("target", "").strip().lstrip("#")
    target = (
        staff_tickets(request)
        .filter(organization_id=source.organization_id, number=int(raw))
        .first()
        if raw.isdigit()
        else None
    )
    if target is None:
        messages.error(request, f"There is no ticket #{raw or '?'} in {source.organization}.")
        return _back(pk)
    try:
        merge.merge(principal(request), source, target)
    except (HelpdeskError, Forbidden) as exc:
        messages.error(request, f"Not merged: {error_text(exc)}")
        return _back(pk)
    messages.success(request, f"{source.reference} was merged into this ticket.")
    return _back(target.pk)


@staff_view
@require_POST
def upload(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = staff_ticket(request, pk, Capability.OPERATE)
    files = request.FILES.getlist("files")
    if not files:
        messages.error(request, "Choose a file to attach.")
        return _back(pk)
    refused = save_files(request, ticket, files)
    for line in refused:
        messages.error(request, f"Not attached: {line}")
    if len(refused) < len(files):
        messages.success(request, "Attached.")
    return _back(pk, "files")


def file_response(request: HttpRequest, ticket_pk: int, attachment_pk: int) -> FileResponse:
    """The file, through ``helpdesk.attachments`` (scoped), always as a download."""
    who = principal(request)
    att = attachments.get_attachment(who, attachment_pk, ticket_id=ticket_pk)
    _, handle = attachments.open_attachment(who, att.pk)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=att.filename,
        content_type=attachments.served_content_type(att),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@staff_view
@require_GET
def download(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    staff_ticket(request, pk)
    return file_response(request, pk, attachment_pk)
