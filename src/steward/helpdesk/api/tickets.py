"""API: tickets, replies, status, assignment, merge, time, followers, attachments."""

from __future__ import annotations

import datetime as dt
from datetime import datetime

from django.db.models import Sum
from django.http import FileResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from steward.api.errors import bad_request
from steward.api.pagination import Page, paginate
from steward.helpdesk import attachments, markdown, merge, services
from steward.helpdesk.api.schemas import (
    AttachmentOut,
    ReplyOut,
    TicketDetailOut,
    TicketOut,
    UserRef,
)
from steward.helpdesk.filters import TicketFilter
from steward.helpdesk.models import Level, Priority, Reply, Ticket, Via
from steward.helpdesk.models import Status as TicketStatus
from steward.helpdesk.visibility import (
    get_ticket,
    is_staff_in,
    visible_replies,
    visible_tickets,
    visible_time_entries,
)
from steward.sla.calendar import Calendar
from steward.tenancy.roles import Capability

router = Router(tags=["helpdesk"])


class TicketIn(Schema):
    organization_id: int
    subject: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=100_000)
    requester_id: int | None = None
    impact: Level = Level.MEDIUM
    urgency: Level = Level.MEDIUM
    priority_override: Priority | None = None
    queue_id: int | None = None
    category_id: int | None = None
    tags: list[str] = Field(default_factory=list, max_length=20)
    device_ids: list[int] = Field(default_factory=list, max_length=50)
    assignee_id: int | None = None


class TicketPatch(Schema):
    subject: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=100_000)
    status: TicketStatus | None = None
    assignee_id: int | None = None
    priority_override: Priority | None = None
    impact: Level | None = None
    urgency: Level | None = None
    queue_id: int | None = None
    category_id: int | None = None
    tags: list[str] | None = Field(None, max_length=20)
    device_ids: list[int] | None = Field(None, max_length=50)


class TicketListQuery(Schema):
    status: str = ""
    assignee: str = ""
    requester: str = ""
    queue_id: int | None = None
    category_id: int | None = None
    priority: str = ""
    q: str = Field("", max_length=200)
    breaching_soon: bool = False
    within_minutes: int = 60
    breached: bool = Field(
        False,
        description="only tickets with a recorded SLA breach; with status=active, the "
        "console's 'SLA breached' view",
    )
    organization_id: int | None = None
    sort: str = "-created"
    limit: int = 50
    offset: int = 0


class ReplyIn(Schema):
    body: str = Field(min_length=1, max_length=100_000)
    public: bool = True


class AssignIn(Schema):
    assignee_id: int | None = None  # null = unassign
    me: bool = False


class StatusIn(Schema):
    note: str = Field("", max_length=100_000)


class MergeIn(Schema):
    target_id: int


class TimeEntryIn(Schema):
    minutes: int = Field(ge=1, le=services.MAX_MINUTES)
    billable: bool = True
    note: str = Field("", max_length=500)
    date: dt.date | None = None


class TimeEntryOut(Schema):
    id: int
    ticket_id: int
    user: UserRef | None
    minutes: int
    billable: bool
    note: str
    date: dt.date
    created_at: datetime


def ticket_queryset():
    return Ticket.objects.select_related(
        "organization", "requester", "assignee", "queue", "category", "sla_policy"
    ).prefetch_related("tags", "devices", "status_changes", "sla_policy__holidays")


def detail(request, ticket: Ticket) -> TicketDetailOut:
    """Re-read the ticket and render it with what the caller may see."""
    principal = request.auth
    ticket = get_ticket(principal, ticket.pk, queryset=ticket_queryset())
    now = timezone.now()
    staff = is_staff_in(principal, ticket.organization_id)
    replies = visible_replies(principal, ticket).select_related("author")
    spent = None
    if staff:
        spent = visible_time_entries(principal, ticket).aggregate(m=Sum("minutes"))["m"] or 0
    return TicketDetailOut(
        **TicketOut.fields_of(ticket, now, {}),
        description=ticket.description,
        description_html=markdown.render(ticket.description),
        replies=[ReplyOut.of(r) for r in replies.prefetch_related("mentions")],
        followers=[UserRef.of(u) for u in ticket.followers.all()],
        attachments=[
            AttachmentOut.of(a) for a in attachments.visible_attachments(principal, ticket)
        ],
        linked_alerts=[a.fingerprint for a in ticket.linked_alerts.all()],
        time_spent_minutes=spent,
    )


class TicketPage(Page[TicketOut]):
    # With ``q``: false when the words matched more documents than search ranks; the
    # page then lists the tickets of the newest matches and ``count`` means "count+".
    count_complete: bool = True


@router.get("/tickets", response=TicketPage)
def list_tickets(request, filters: Query[TicketListQuery]):
    data = filters.dict()
    limit, offset = data.pop("limit"), data.pop("offset")
    now = timezone.now()
    ticket_filter = TicketFilter(**data)
    qs = ticket_filter.apply(visible_tickets(request.auth, ticket_queryset()), request.auth, now)
    calendars: dict[int, Calendar] = {}
    page = paginate(
        qs, limit, offset, lambda t: TicketOut(**TicketOut.fields_of(t, now, calendars))
    )
    return {**page, "count_complete": ticket_filter.complete}


@router.post("/tickets", response={201: TicketDetailOut})
def create_ticket(request, body: TicketIn):
    data = body.dict()
    org = data.pop("organization_id")
    data["priority_override"] = data["priority_override"] or ""
    ticket = services.create_ticket(request.auth, org, source="api", **data)
    return Status(201, detail(request, ticket))


@router.get("/tickets/{ticket_id}", response=TicketDetailOut)
def get_ticket_detail(request, ticket_id: int):
    return detail(request, get_ticket(request.auth, ticket_id))


@router.patch("/tickets/{ticket_id}", response=TicketDetailOut)
def update_ticket(request, ticket_id: int, body: TicketPatch):
    ticket = get_ticket(request.auth, ticket_id, Capability.OPERATE)
    services.update_ticket(request.auth, ticket, body.dict(exclude_unset=True))
    return detail(request, ticket)


@router.post("/tickets/{ticket_id}/replies", response={201: ReplyOut})
def add_reply(request, ticket_id: int, body: ReplyIn):
    ticket = get_ticket(request.auth, ticket_id)
    reply = services.add_reply(request.auth, ticket, body.body, public=body.public, via=Via.API)
    return Status(201, ReplyOut.of(Reply.objects.select_related("author").get(pk=reply.pk)))


@router.post("/tickets/{ticket_id}/assign", response=TicketDetailOut)
def assign_ticket(request, ticket_id: int, body: AssignIn):
    ticket = get_ticket(request.auth, ticket_id, Capability.OPERATE)
    assignee = request.auth.user.pk if body.me else body.assignee_id
    services.assign(request.auth, ticket, assignee)
    return detail(request, ticket)


def _status_route(request, ticket_id: int, body: StatusIn, status: TicketStatus):
    ticket = get_ticket(request.auth, ticket_id)
    if body.note.strip():
        services.add_reply(request.auth, ticket, body.note, public=True, via=Via.API)
    if status == TicketStatus.OPEN:
        services.reopen(request.auth, ticket)
    else:
        services.set_status(request.auth, ticket, status)
    return detail(request, ticket)


@router.post("/tickets/{ticket_id}/resolve", response=TicketDetailOut)
def resolve_ticket(request, ticket_id: int, body: StatusIn):
    return _status_route(request, ticket_id, body, TicketStatus.RESOLVED)


@router.post("/tickets/{ticket_id}/close", response=TicketDetailOut)
def close_ticket(request, ticket_id: int, body: StatusIn):
    return _status_route(request, ticket_id, body, TicketStatus.CLOSED)


@router.post("/tickets/{ticket_id}/reopen", response=TicketDetailOut)
def reopen_ticket(request, ticket_id: int, body: StatusIn):
    return _status_route(request, ticket_id, body, TicketStatus.OPEN)


@router.post("/tickets/{ticket_id}/merge", response=TicketDetailOut)
def merge_ticket(request, ticket_id: int, body: MergeIn):
    """Merge this ticket into ``target_id``; returns the target."""
    source = get_ticket(request.auth, ticket_id, Capability.OPERATE)
    target = get_ticket(request.auth, body.target_id, Capability.OPERATE)
    merge.merge(request.auth, source, target)
    return detail(request, target)


def _time_out(e) -> TimeEntryOut:
    return TimeEntryOut(
        id=e.pk,
        ticket_id=e.ticket_id,
        user=UserRef.of(e.user),
        minutes=e.minutes,
        billable=e.billable,
        note=e.note,
        date=e.date,
        created_at=e.created_at,
    )


@router.get("/tickets/{ticket_id}/time-entries", response=Page[TimeEntryOut])
def list_time_entries(request, ticket_id: int, limit: int = 100, offset: int = 0):
    ticket = get_ticket(request.auth, ticket_id)
    if not is_staff_in(request.auth, ticket.organization_id):
        request.auth.require(Capability.VIEW, ticket.organization_id)
    qs = visible_time_entries(request.auth, ticket).select_related("user")
    return paginate(qs, limit, offset, _time_out)


@router.post("/tickets/{ticket_id}/time-entries", response={201: TimeEntryOut})
def add_time_entry(request, ticket_id: int, body: TimeEntryIn):
    ticket = get_ticket(request.auth, ticket_id, Capability.OPERATE)
    entry = services.add_time_entry(
        request.auth, ticket, body.minutes, billable=body.billable, note=body.note, day=body.date
    )
    return Status(201, _time_out(entry))


@router.post("/tickets/{ticket_id}/follow", response=TicketDetailOut)
def follow_ticket(request, ticket_id: int):
    ticket = get_ticket(request.auth, ticket_id)
    services.follow(request.auth, ticket, True)
    return detail(request, ticket)


@router.delete("/tickets/{ticket_id}/follow", response=TicketDetailOut)
def unfollow_ticket(request, ticket_id: int):
    ticket = get_ticket(request.auth, ticket_id)
    services.follow(request.auth, ticket, False)
    return detail(request, ticket)


@router.get("/tickets/{ticket_id}/attachments", response=list[AttachmentOut])
def list_attachments(request, ticket_id: int):
    ticket = get_ticket(request.auth, ticket_id)
    return [AttachmentOut.of(a) for a in attachments.visible_attachments(request.auth, ticket)]


@router.post(
    "/tickets/{ticket_id}/attachments",
    response={201: AttachmentOut},
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "reply_id": {"type": "integer"},
                        },
                        "required": ["file"],
                    }
                }
            }
        }
    },
)
def upload_attachment(request, ticket_id: int):
    """Multipart upload (field ``file``, optional ``reply_id``); 20 MiB, no executables."""
    # The file is read from request.FILES after the ticket lookup, so a caller who cannot
    # see the ticket gets 404 before any upload is considered.
    ticket = get_ticket(request.auth, ticket_id)
    upload = request.FILES.get("file")
    if upload is None:
        raise bad_request("file: send the file as multipart/form-data field 'file'")
    reply = None
    reply_id = request.POST.get("reply_id", "")
    if reply_id:
        reply = (
            visible_replies(request.auth, ticket).filter(pk=reply_id).first()
            if reply_id.isdigit()
            else None
        )
        if reply is None:
            raise bad_request("reply_id: no such reply on this ticket")
    att = attachments.save_attachment(request.auth, ticket, upload, reply=reply)
    return Status(201, AttachmentOut.of(att))


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}", response={200: None})
def download_attachment(request, ticket_id: int, attachment_id: int):
    """The file itself, always as a download."""
    att = attachments.get_attachment(request.auth, attachment_id, ticket_id=ticket_id)
    _, handle = attachments.open_attachment(request.auth, att.pk)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=att.filename,
        content_type=attachments.served_content_type(att),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
