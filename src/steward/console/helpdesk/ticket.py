"""One ticket for staff: the conversation, the side panel, SLA, time, followers, links."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from steward.console.common import principal
from steward.console.helpdesk import choices, device_lookup, presenters
from steward.console.helpdesk.common import Clocks, staff_ticket, staff_view
from steward.console.helpdesk.forms import ReplyForm, TimeEntryForm
from steward.console.helpdesk.queues import sidebar
from steward.helpdesk import attachments, markdown, services
from steward.helpdesk.models import Attachment, CannedResponse, SlaEvent, Ticket
from steward.helpdesk.visibility import visible_replies, visible_time_entries
from steward.tenancy.roles import Capability


def detail_queryset():
    return Ticket.objects.select_related(
        "organization", "requester", "assignee", "queue", "category", "sla_policy", "merged_into"
    ).prefetch_related("tags", "devices__site", "followers", "status_changes__by")


@dataclass
class Entry:
    """One item of the timeline: a message (opening, reply, note) or a status change."""

    kind: str  # "opening", "public", "internal", "system", "status"
    at: datetime
    author: object | None = None
    html: str = ""
    via: str = ""
    text: str = ""
    files: list[Attachment] = field(default_factory=list)
    pk: int | None = None  # the reply's, for links to it


def timeline(request: HttpRequest, ticket: Ticket, files: list[Attachment]) -> list[Entry]:
    who = principal(request)
    by_reply: dict[int | None, list[Attachment]] = {}
    for a in files:
        by_reply.setdefault(a.reply_id, []).append(a)
    entries = [
        Entry(
            "opening",
            ticket.created_at,
            ticket.requester,
            markdown.render(ticket.description),
            ticket.source,
            files=by_reply.get(None, []),
        )
    ]
    for reply in visible_replies(who, ticket).select_related("author"):
        kind = "public" if reply.public else "internal"
        if not reply.is_human and not reply.public:
            kind = "system"
        entries.append(
            Entry(
                kind,
                reply.created_at,
                reply.author,
                markdown.render(reply.body),
                reply.via,
                files=by_reply.get(reply.pk, []),
                pk=reply.pk,
            )
        )
    changes = list(ticket.status_changes.all())
    for change in changes[1:]:  # the first is the creation itself
        entries.append(
            Entry(
                "status",
                change.at,
                change.by,
                text=f"{_word(change.from_status)} → {_word(change.to_status)}",
            )
        )
    return sorted(entries, key=lambda e: (e.at, e.kind != "opening"))


def _word(status: str) -> str:
    return status.replace("_", " ").capitalize() if status else "—"


@staff_view
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render_detail(request, pk)


def render_detail(
    request: HttpRequest,
    pk: int,
    reply_form: ReplyForm | None = None,
    time_form: TimeEntryForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The ticket page; a POST view that failed validation renders it with its form."""
    who = principal(request)
    now = timezone.now()
    ticket = staff_ticket(request, pk, queryset=detail_queryset())
    org = ticket.organization_id
    can_operate = who.can(Capability.OPERATE, org)
    files = list(attachments.visible_attachments(who, ticket).select_related("uploaded_by"))
    clock = Clocks(now).of(ticket)
    canned = CannedResponse.objects.filter(organization_id=org)
    chosen = request.GET.get("canned", "")
    if reply_form is None:
        initial = {}
        if chosen.isdigit():
            found = canned.filter(pk=int(chosen)).first()
            if found is not None:
                initial["body"] = found.body
        reply_form = ReplyForm(initial=initial)
    time_entries = visible_time_entries(who, ticket).select_related("user")
    linked = {d.pk for d in ticket.devices.all()}
    devices = (
        device_lookup.suggestions(services.allowed_devices(who, org).exclude(pk__in=linked))
        if can_operate
        else []
    )
    context = {
        **sidebar(request, f"queue-{ticket.queue_id}" if ticket.queue_id else "", now),
        "ticket": ticket,
        "timeline": timeline(request, ticket, files),
        "files": files,
        "can_operate": can_operate,
        "following": any(u.pk == who.user.pk for u in ticket.followers.all()),
        "sla": presenters.ticket_badge(clock, now),
        "sla_rows": presenters.target_rows(clock, now),
        "sla_events": SlaEvent.objects.filter(ticket=ticket).order_by("at"),
        "reply_form": reply_form,
        "time_form": time_form or TimeEntryForm(initial={"billable": True}),
        "canned": canned,
        "canned_chosen": chosen,
        "time_entries": time_entries,
        "time_total": time_entries.aggregate(m=Sum("minutes"))["m"] or 0,
        "time_billable": time_entries.filter(billable=True).aggregate(m=Sum("minutes"))["m"] or 0,
        "linked_alerts": ticket.linked_alerts.all(),
        "merged_from": ticket.merged_from.all().only("pk", "number", "subject"),
        "devices": devices,
        "technicians": choices.technicians(request, org),
        "queues": choices.queues(request, org),
        "categories": choices.categories(request, org),
        "statuses": choices.STATUS_CHOICES,
        "priorities": choices.PRIORITY_CHOICES,
        "levels": choices.LEVEL_CHOICES,
        "tags_text": ", ".join(t.name for t in ticket.tags.all()),
        "max_upload_mib": attachments.max_bytes() // (1024 * 1024),
        "now": now,
    }
    return render(request, "console/helpdesk/ticket.html", context, status=status)
