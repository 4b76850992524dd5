"""Output shapes shared by the help desk routes."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema

from steward.helpdesk import markdown, slaclock
from steward.helpdesk.models import Attachment, Reply, Ticket
from steward.sla import ClockResult, TargetResult
from steward.sla.calendar import Calendar


class UserRef(Schema):
    id: int
    email: str
    name: str

    @staticmethod
    def of(user) -> UserRef | None:
        if user is None:
            return None
        return UserRef(id=user.pk, email=user.email, name=user.name)


class TargetOut(Schema):
    state: str
    target_seconds: float
    elapsed_seconds: float
    remaining_seconds: float
    due_at: datetime | None
    stopped_at: datetime | None

    @staticmethod
    def of(t: TargetResult | None) -> TargetOut | None:
        if t is None:
            return None
        return TargetOut(
            state=t.state,
            target_seconds=t.target_seconds,
            elapsed_seconds=round(t.elapsed_seconds, 1),
            remaining_seconds=round(t.remaining_seconds, 1),
            due_at=t.due_at,
            stopped_at=t.stopped_at,
        )


class SlaOut(Schema):
    state: str  # none, ok, warning, breached, met, paused
    policy_id: int | None
    policy: str | None
    next_due_at: datetime | None
    first_response: TargetOut | None
    resolution: TargetOut | None

    @staticmethod
    def of(ticket: Ticket, result: ClockResult | None) -> SlaOut:
        if result is None:
            return SlaOut(
                state="none",
                policy_id=None,
                policy=None,
                next_due_at=None,
                first_response=None,
                resolution=None,
            )
        return SlaOut(
            state=result.state,
            policy_id=ticket.sla_policy_id,
            policy=ticket.sla_policy.name,
            next_due_at=result.next_due_at,
            first_response=TargetOut.of(result.first_response),
            resolution=TargetOut.of(result.resolution),
        )


class TicketOut(Schema):
    id: int
    organization_id: int
    organization: str
    number: int
    reference: str
    subject: str
    status: str
    priority: str
    priority_override: str
    impact: str
    urgency: str
    requester: UserRef | None
    assignee: UserRef | None
    queue_id: int | None
    queue: str | None
    category_id: int | None
    category: str | None
    tags: list[str]
    device_ids: list[int]
    source: str
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    merged_into_id: int | None
    sla: SlaOut

    @staticmethod
    def fields_of(ticket: Ticket, now: datetime, calendars: dict[int, Calendar]) -> dict:
        result = None
        if ticket.sla_policy_id is not None:
            if ticket.sla_policy_id not in calendars:
                calendars[ticket.sla_policy_id] = ticket.sla_policy.calendar()
            result = slaclock.clock(ticket, now, calendars[ticket.sla_policy_id])
        return {
            "id": ticket.pk,
            "organization_id": ticket.organization_id,
            "organization": ticket.organization.name,
            "number": ticket.number,
            "reference": ticket.reference,
            "subject": ticket.subject,
            "status": ticket.status,
            "priority": ticket.priority,
            "priority_override": ticket.priority_override,
            "impact": ticket.impact,
            "urgency": ticket.urgency,
            "requester": UserRef.of(ticket.requester),
            "assignee": UserRef.of(ticket.assignee),
            "queue_id": ticket.queue_id,
            "queue": ticket.queue.name if ticket.queue else None,
            "category_id": ticket.category_id,
            "category": ticket.category.name if ticket.category else None,
            "tags": [t.name for t in ticket.tags.all()],
            "device_ids": [d.pk for d in ticket.devices.all()],
            "source": ticket.source,
            "created_at": ticket.created_at,
            "updated_at": ticket.updated_at,
            "first_response_at": ticket.first_response_at,
            "resolved_at": ticket.resolved_at,
            "closed_at": ticket.closed_at,
            "merged_into_id": ticket.merged_into_id,
            "sla": SlaOut.of(ticket, result),
        }


class ReplyOut(Schema):
    id: int
    author: UserRef | None
    body: str
    body_html: str
    public: bool
    via: str
    created_at: datetime
    mentions: list[int]

    @staticmethod
    def of(reply: Reply) -> ReplyOut:
        return ReplyOut(
            id=reply.pk,
            author=UserRef.of(reply.author),
            body=reply.body,
            body_html=markdown.render(reply.body),
            public=reply.public,
            via=reply.via,
            created_at=reply.created_at,
            mentions=[m.user_id for m in reply.mentions.all()],
        )


class AttachmentOut(Schema):
    id: int
    ticket_id: int
    reply_id: int | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime

    @staticmethod
    def of(a: Attachment) -> AttachmentOut:
        return AttachmentOut(
            id=a.pk,
            ticket_id=a.ticket_id,
            reply_id=a.reply_id,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            sha256=a.sha256,
            created_at=a.created_at,
        )


class TicketDetailOut(TicketOut):
    description: str
    description_html: str
    replies: list[ReplyOut]
    followers: list[UserRef]
    attachments: list[AttachmentOut]
    linked_alerts: list[str]
    time_spent_minutes: int | None  # staff only
