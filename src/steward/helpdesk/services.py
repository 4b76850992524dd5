"""Ticket rules: numbering, creation, changes, status, replies, mentions, followers, time.

Every function takes the acting ``Principal`` (``None`` = the system: the worker, the
alert hook, the email gateway acting on its own authority) and the moment ``now``, so tests
and replays control time. Permission checks live here, not in the front doors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from steward.accounts.models import User
from steward.helpdesk import notify, slaclock
from steward.helpdesk.errors import HelpdeskError, InvalidState
from steward.helpdesk.models import (
    Category,
    DeviceAssignment,
    HelpdeskSettings,
    Level,
    Mention,
    Priority,
    Queue,
    Reply,
    Source,
    Status,
    Ticket,
    TicketCounter,
    TicketStatusChange,
    TicketTag,
    TimeEntry,
    Via,
)
from steward.helpdesk.models.tickets import ACTIVE_STATUSES
from steward.helpdesk.visibility import is_staff_in, may_reply_publicly
from steward.inventory.models import Device
from steward.tenancy.models import Membership
from steward.tenancy.roles import Capability, Role, grants
from steward.tenancy.scoping import Forbidden, NotFound, Principal

MAX_TAGS = 20
MAX_MENTIONS = 20
MAX_MINUTES = 24 * 60


# ---------------------------------------------------------------- settings and numbering


def settings_for(organization_id: int) -> HelpdeskSettings:
    found, _ = HelpdeskSettings.objects.get_or_create(organization_id=organization_id)
    return found


def allocate_number(organization_id: int) -> int:
    """The next ticket number of the organization. Call inside ``transaction.atomic()``.

    The counter row is incremented with an UPDATE: on PostgreSQL the row lock is held until
    the caller's transaction commits, so concurrent creators queue and each reads its own
    increment (READ COMMITTED re-evaluates ``F()`` against the committed value); SQLite
    runs one writer at a time (IMMEDIATE transactions). A unique constraint on
    (organization, number) backs this up.
    """
    counters = TicketCounter.objects.filter(organization_id=organization_id)
    for _ in range(3):
        if counters.update(last_number=F("last_number") + 1):
            return counters.values_list("last_number", flat=True).get()
        highest = Ticket.objects.filter(organization_id=organization_id).aggregate(n=Max("number"))[
            "n"
        ]
        try:
            with transaction.atomic():
                TicketCounter.objects.create(
                    organization_id=organization_id, last_number=highest or 0
                )
        except IntegrityError:
            pass  # another creator made the row first: increment theirs
    raise RuntimeError(f"cannot allocate a ticket number in organization {organization_id}")


# ---------------------------------------------------------------- membership checks


def _role(organization_id: int, user: User) -> Role | None:
    role = (
        Membership.objects.filter(organization_id=organization_id, user=user)
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role else None


def _member(organization_id: int, user_id: int, what: str) -> User:
    user = User.objects.filter(
        pk=user_id, is_active=True, memberships__organization_id=organization_id
    ).first()
    if user is None:
        raise HelpdeskError(f"{what}: no such member of the organization")
    return user


def _technician(organization_id: int, user_id: int) -> User:
    user = _member(organization_id, user_id, "assignee")
    if not grants(_role(organization_id, user), Capability.OPERATE):
        raise HelpdeskError("assignee: only technicians, admins and owners work tickets")
    return user


def _in_org(model, organization_id: int, pk: int | None, what: str):
    if pk is None:
        return None
    obj = model.objects.filter(organization_id=organization_id, pk=pk).first()
    if obj is None:
        raise HelpdeskError(f"{what}: no such {what} in the organization")
    return obj


def allowed_devices(principal: Principal | None, organization_id: int):
    """Devices the principal may link: the organization's for technicians, else their own."""
    devices = Device.objects.filter(organization_id=organization_id)
    if principal is None or principal.can(Capability.OPERATE, organization_id):
        return devices
    mine = DeviceAssignment.objects.filter(user=principal.user).values("device_id")
    return devices.filter(pk__in=mine)


def _devices(principal: Principal | None, organization_id: int, ids: Iterable[int]) -> list:
    wanted = set(ids)
    found = list(allowed_devices(principal, organization_id).filter(pk__in=wanted))
    if len(found) != len(wanted):
        raise HelpdeskError("device_ids: you may only link devices of the organization you use")
    return found


def _tags(organization_id: int, names: Iterable[str]) -> list[TicketTag]:
    clean = sorted({n.strip().lower() for n in names if n.strip()})
    if len(clean) > MAX_TAGS or any(len(n) > 64 for n in clean):
        raise HelpdeskError(f"tags: at most {MAX_TAGS} tags of up to 64 characters")
    return [
        TicketTag.objects.get_or_create(organization_id=organization_id, name=n)[0] for n in clean
    ]


# ---------------------------------------------------------------- tickets


def create_ticket(
    principal: Principal | None,
    organization_id: int,
    *,
    subject: str,
    description: str = "",
    requester_id: int | None = None,
    impact: str = Level.MEDIUM,
    urgency: str = Level.MEDIUM,
    priority_override: str = "",
    queue_id: int | None = None,
    category_id: int | None = None,
    tags: Iterable[str] = (),
    device_ids: Iterable[int] = (),
    assignee_id: int | None = None,
    source: str = Source.API,
    email_thread_id: str = "",
    email_message_id: str = "",
    now: datetime | None = None,
) -> Ticket:
    """Open a ticket. Members of any role may open one for themselves; technicians and up
    may also open one for another member, assign it, queue it and override its priority."""
    now = now or timezone.now()
    staff = principal is None or principal.can(Capability.OPERATE, organization_id)
    if principal is not None:
        if principal.role_in(organization_id) is None:
            raise NotFound
        if not staff:
            if requester_id not in (None, principal.user.pk):
                raise Forbidden("only technicians open tickets for someone else")
            if assignee_id or queue_id or priority_override or list(tags):
                raise Forbidden("only technicians set the assignee, queue, tags or priority")
    if not subject.strip():
        raise HelpdeskError("subject: may not be blank")
    if requester_id is None and principal is not None:
        requester_id = principal.user.pk
    requester = _member(organization_id, requester_id, "requester") if requester_id else None
    assignee = _technician(organization_id, assignee_id) if assignee_id else None
    queue = _in_org(Queue, organization_id, queue_id, "queue")
    category = _in_org(Category, organization_id, category_id, "category")
    devices = _devices(principal, organization_id, device_ids)
    with transaction.atomic():
        ticket = Ticket(
            organization_id=organization_id,
            number=allocate_number(organization_id),
            subject=subject.strip()[:255],
            description=description,
            requester=requester,
            assignee=assignee,
            queue=queue,
            category=category,
            impact=Level(impact),
            urgency=Level(urgency),
            priority_override=Priority(priority_override) if priority_override else "",
            status=Status.OPEN if assignee else Status.NEW,
            source=Source(source),
            created_at=now,
            email_thread_id=email_thread_id,
            email_message_id=email_message_id,
        )
        ticket.sla_policy = slaclock.policy_for(ticket)
        ticket.save()
        if tags:
            ticket.tags.set(_tags(organization_id, tags))
        if devices:
            ticket.devices.set(devices)
        TicketStatusChange.objects.create(
            ticket=ticket, from_status="", to_status=ticket.status, at=now, by=_user(principal)
        )
        slaclock.refresh(ticket, now)
        notify.notify(
            notify.Event(
                "ticket_created",
                organization_id,
                ticket.pk,
                tuple(u for u in (ticket.assignee_id,) if u),
                {"number": ticket.number, "subject": ticket.subject},
            )
        )
    return ticket


def _user(principal: Principal | None) -> User | None:
    return principal.user if principal is not None else None


def _require(principal: Principal | None, capability: Capability, ticket: Ticket) -> None:
    if principal is not None:
        principal.require(capability, ticket.organization_id)


def update_ticket(
    principal: Principal | None,
    ticket: Ticket,
    changes: dict[str, Any],
    now: datetime | None = None,
) -> Ticket:
    """Apply a partial change (technicians and up). Keys as in the API's TicketPatch."""
    _require(principal, Capability.OPERATE, ticket)
    now = now or timezone.now()
    org = ticket.organization_id
    with transaction.atomic():
        for field in ("subject", "description"):
            if changes.get(field) is not None:
                setattr(ticket, field, changes[field])
        if not ticket.subject.strip():
            raise HelpdeskError("subject: may not be blank")
        for field in ("impact", "urgency"):
            if changes.get(field) is not None:
                setattr(ticket, field, Level(changes[field]))
        if "priority_override" in changes:
            value = changes["priority_override"] or ""
            ticket.priority_override = Priority(value) if value else ""
        if "queue_id" in changes:
            ticket.queue = _in_org(Queue, org, changes["queue_id"], "queue")
            ticket.sla_policy = slaclock.policy_for(ticket)
        if "category_id" in changes:
            ticket.category = _in_org(Category, org, changes["category_id"], "category")
        ticket.save()
        if changes.get("tags") is not None:
            ticket.tags.set(_tags(org, changes["tags"]))
        if changes.get("device_ids") is not None:
            ticket.devices.set(_devices(principal, org, changes["device_ids"]))
        if "assignee_id" in changes:
            assign(principal, ticket, changes["assignee_id"], now)
        if changes.get("status") is not None:
            set_status(principal, ticket, changes["status"], now)
        slaclock.refresh(ticket, now)
    return ticket


def _record_status(
    ticket: Ticket, status: Status, now: datetime, by: User | None, *, save: bool = True
) -> None:
    previous = ticket.status
    ticket.status = status
    if status == Status.RESOLVED:
        ticket.resolved_at = now
    elif status == Status.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    else:
        ticket.resolved_at = ticket.closed_at = None
    if save:
        ticket.save()
    TicketStatusChange.objects.create(
        ticket=ticket, from_status=previous, to_status=status, at=now, by=by
    )


def set_status(
    principal: Principal | None, ticket: Ticket, status: str, now: datetime | None = None
) -> Ticket:
    """Change the status. Technicians: any change (a closed ticket only reopens). The
    requester: close their own ticket."""
    now = now or timezone.now()
    new = Status(status)
    if new == ticket.status:
        return ticket
    requester_closes = (
        principal is not None and ticket.requester_id == principal.user.pk and new == Status.CLOSED
    )
    if principal is not None and not requester_closes:
        principal.require(Capability.OPERATE, ticket.organization_id)
    if ticket.status == Status.CLOSED and new != Status.OPEN:
        raise InvalidState("a closed ticket can only be reopened")
    with transaction.atomic():
        _record_status(ticket, new, now, _user(principal))
        slaclock.refresh(ticket, now)
        recipients = [ticket.requester_id, *ticket.followers.values_list("pk", flat=True)]
        notify.notify(
            notify.Event(
                "status_changed",
                ticket.organization_id,
                ticket.pk,
                tuple(u for u in recipients if u and u != getattr(_user(principal), "pk", None)),
                {"status": new.value},
            )
        )
    return ticket


def reopen(principal: Principal | None, ticket: Ticket, now: datetime | None = None) -> Ticket:
    _require(principal, Capability.OPERATE, ticket)
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        raise InvalidState("only resolved or closed tickets reopen")
    return set_status(principal, ticket, Status.OPEN, now)


def assign(
    principal: Principal | None, ticket: Ticket, assignee_id: int | None, now=None
) -> Ticket:
    _require(principal, Capability.OPERATE, ticket)
    now = now or timezone.now()
    assignee = _technician(ticket.organization_id, assignee_id) if assignee_id else None
    if assignee == ticket.assignee:
        return ticket
    with transaction.atomic():
        ticket.assignee = assignee
        ticket.save()
        if assignee is not None and ticket.status == Status.NEW:
            set_status(principal, ticket, Status.OPEN, now)
        if assignee is not None and assignee != _user(principal):
            notify.notify(
                notify.Event(
                    "assigned",
                    ticket.organization_id,
                    ticket.pk,
                    (assignee.pk,),
                    {"number": ticket.number},
                )
            )
    return ticket


# ---------------------------------------------------------------- replies and mentions

MENTION = re.compile(r"(?<![\w@])@([\w.+-]+@[\w-]+(?:\.[\w-]+)+|\w[\w.-]*\w|\w)")


def mentioned_users(organization_id: int, body: str, staff_only: bool) -> list[User]:
    """Members named in ``body`` as ``@email`` or ``@name`` (name without spaces, or the
    email's local part; case-insensitive). Internal notes only mention staff."""
    tokens = {t.lower() for t in MENTION.findall(body)[: MAX_MENTIONS * 2]}
    if not tokens:
        return []
    members = Membership.objects.filter(organization_id=organization_id, user__is_active=True)
    found: dict[int, User] = {}
    for membership in members.select_related("user"):
        if staff_only and not grants(Role(membership.role), Capability.VIEW):
            continue
        user = membership.user
        keys = {user.email.lower(), user.email.lower().split("@")[0]}
        if user.name:
            keys.add(user.name.replace(" ", "").lower())
        if keys & tokens:
            found[user.pk] = user
    return list(found.values())[:MAX_MENTIONS]


def add_reply(
    principal: Principal | None,
    ticket: Ticket,
    body: str,
    *,
    public: bool = True,
    via: str = Via.API,
    author: User | None = None,
    now: datetime | None = None,
    email_message_id: str = "",
) -> Reply:
    """Add a public reply or an internal note, with the effects on the ticket:

    * the first public reply of a technician sets ``first_response_at`` (SLA);
    * a technician's public reply opens a new ticket;
    * a reply of anyone but staff (the requester) reopens a resolved or pending ticket;
    * mentioned members are recorded, made followers and notified.
    """
    now = now or timezone.now()
    org = ticket.organization_id
    if principal is not None:
        author = principal.user
        if not public or not may_reply_publicly(principal, ticket):
            principal.require(Capability.OPERATE, org)
    if not body.strip():
        raise HelpdeskError("body: may not be blank")
    staff_author = author is not None and (
        (principal is not None and principal.can(Capability.OPERATE, org))
        or (principal is None and grants(_role(org, author), Capability.OPERATE))
    )
    if ticket.status == Status.CLOSED and not staff_author and via != Via.SYSTEM:
        raise InvalidState("the ticket is closed: open a new ticket")
    with transaction.atomic():
        reply = Reply.objects.create(
            ticket=ticket,
            author=author,
            body=body,
            public=public,
            via=Via(via),
            created_at=now,
            email_message_id=email_message_id,
        )
        if public and staff_author and via != Via.SYSTEM:
            if ticket.first_response_at is None:
                ticket.first_response_at = now
            if ticket.status == Status.NEW:
                _record_status(ticket, Status.OPEN, now, author, save=False)
        elif (
            public
            and author is not None
            and not staff_author
            and ticket.status in (Status.RESOLVED, Status.PENDING)
        ):
            _record_status(ticket, Status.OPEN, now, author, save=False)
        ticket.save()
        mentioned = mentioned_users(org, body, staff_only=not public)
        Mention.objects.bulk_create([Mention(reply=reply, user=u) for u in mentioned])
        if mentioned:
            ticket.followers.add(*mentioned)
            notify.notify(
                notify.Event(
                    "mentioned", org, ticket.pk, tuple(u.pk for u in mentioned), {"reply": reply.pk}
                )
            )
        slaclock.refresh(ticket, now)
        recipients = {ticket.requester_id, ticket.assignee_id}
        recipients |= set(ticket.followers.values_list("pk", flat=True))
        recipients -= {None, getattr(author, "pk", None)}
        if not public:
            recipients = {u for u in recipients if _is_staff_user(org, u)}
        notify.notify(
            notify.Event(
                "reply_added",
                org,
                ticket.pk,
                tuple(u for u in recipients if u is not None),
                {"reply": reply.pk, "public": public},
            )
        )
    return reply


def _is_staff_user(organization_id: int, user_id: int) -> bool:
    role = (
        Membership.objects.filter(organization_id=organization_id, user_id=user_id)
        .values_list("role", flat=True)
        .first()
    )
    return role is not None and grants(Role(role), Capability.VIEW)


# ---------------------------------------------------------------- followers and time


def follow(principal: Principal, ticket: Ticket, on: bool = True) -> Ticket:
    """Follow or unfollow a ticket one can see (for oneself)."""
    if on:
        ticket.followers.add(principal.user)
    else:
        ticket.followers.remove(principal.user)
    return ticket


def add_time_entry(
    principal: Principal | None,
    ticket: Ticket,
    minutes: int,
    *,
    billable: bool = True,
    note: str = "",
    day: date | None = None,
    user: User | None = None,
    now: datetime | None = None,
) -> TimeEntry:
    _require(principal, Capability.OPERATE, ticket)
    if not 1 <= minutes <= MAX_MINUTES:
        raise HelpdeskError(f"minutes: between 1 and {MAX_MINUTES}")
    now = now or timezone.now()
    return TimeEntry.objects.create(
        ticket=ticket,
        user=_user(principal) or user,
        minutes=minutes,
        billable=billable,
        note=note[:500],
        date=day or timezone.localdate(now),
        created_at=now,
    )


# ---------------------------------------------------------------- worker jobs


def auto_close_resolved(now: datetime | None = None) -> int:
    """Close tickets resolved longer than their organization's ``auto_close_days`` ago.

    Each ticket is claimed with a conditional UPDATE (status still resolved), so two
    workers never close or record the same ticket twice.
    """
    now = now or timezone.now()
    days = dict(HelpdeskSettings.objects.values_list("organization_id", "auto_close_days"))
    default = HelpdeskSettings._meta.get_field("auto_close_days").default
    candidates = Ticket.objects.filter(
        status=Status.RESOLVED, resolved_at__lte=now - timedelta(days=1)
    ).values_list("pk", "organization_id", "resolved_at")
    closed = 0
    for pk, org, resolved_at in candidates.iterator():
        wait = days.get(org, default)
        if not wait or resolved_at > now - timedelta(days=wait):
            continue
        with transaction.atomic():
            claimed = Ticket.objects.filter(pk=pk, status=Status.RESOLVED).update(
                status=Status.CLOSED, closed_at=now, updated_at=now
            )
            if claimed:
                TicketStatusChange.objects.create(
                    ticket_id=pk, from_status=Status.RESOLVED, to_status=Status.CLOSED, at=now
                )
                closed += 1
    return closed


def is_active(ticket: Ticket) -> bool:
    return ticket.status in ACTIVE_STATUSES


def staff_can(principal: Principal, ticket: Ticket) -> bool:
    return is_staff_in(principal, ticket.organization_id)
