"""Mail in: one message to a new ticket or a reply, through ``helpdesk.services``.

Per message (``process``):

1. Idempotency: the Message-ID (or a hash of the message) is looked up in
   ``InboundEmail`` for the organization; a known message does nothing again.
2. Automatic mail (``loops``), a copy of mail we sent (its Message-ID is in
   ``OutboundEmail``) and mail from the mailbox's own or our sending address are ignored.
3. The sender is the member with the From address; an unknown sender follows the
   mailbox's policy (create a requester / ignore / triage queue).
4. The ticket it answers: the thread ids (In-Reply-To, then References, newest first)
   against our outgoing Message-IDs and the tickets' and replies' stored ids, then the
   subject reference ``[#ACME-12]``. A merged ticket leads to its target. If the sender
   sees the ticket and may reply there (``visibility``: requester, follower, staff), the
   text without quotes becomes a public reply (``services.add_reply`` reopens a resolved
   ticket for the requester); otherwise, or for a closed ticket, a new ticket is opened.
5. Attachments go through ``attachments.save_attachment`` with its limits; a refused
   one is noted in ``InboundEmail.error`` and the rest of the message still counts.

Everything of one message happens in one transaction together with its ``InboundEmail``
row (unique per organization and Message-ID), so a crash leaves nothing half done and a
second worker processing the same message concurrently fails on the constraint. A message
that raises is recorded as ``failed`` and skipped: it never blocks the mailbox.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from steward.accounts.models import User
from steward.helpdesk import services
from steward.helpdesk.attachments import save_attachment
from steward.helpdesk.email import imap, refs
from steward.helpdesk.email.errors import MailboxError, MalformedMessage
from steward.helpdesk.email.models import (
    HelpdeskEmailSettings,
    InboundEmail,
    InboundStatus,
    Mailbox,
    OutboundEmail,
    UnknownSender,
)
from steward.helpdesk.email.parse import ParsedAttachment, ParsedMail, parse
from steward.helpdesk.email.quotes import strip_quotes
from steward.helpdesk.errors import HelpdeskError, InvalidState
from steward.helpdesk.models import Reply, Source, Ticket, Via
from steward.helpdesk.visibility import may_reply_publicly, visible_tickets
from steward.tenancy.models import Membership
from steward.tenancy.roles import Role
from steward.tenancy.scoping import Forbidden, NotFound, Principal

log = logging.getLogger("steward.helpdesk.email")

MAX_PER_POLL = 50  # messages per mailbox per run: one busy mailbox cannot hold the job
MAX_MESSAGE_BYTES = 40 * 1024 * 1024  # larger messages are recorded as failed, not fetched
POLL_BUDGET = timedelta(minutes=2)  # below the worker's 5-minute job lease


@dataclass(frozen=True)
class _Upload:
    """``attachments.Upload`` over bytes already in memory."""

    name: str
    data: bytes

    def chunks(self, chunk_size: int | None = None):
        size = chunk_size or 65536
        for start in range(0, len(self.data), size):
            yield self.data[start : start + size]


# ---------------------------------------------------------------- the sender


def _member(organization_id: int, address: str) -> User | None:
    return User.objects.filter(
        email__iexact=address, is_active=True, memberships__organization_id=organization_id
    ).first()


def _new_requester(organization_id: int, address: str, name: str) -> User | None:
    """The sender made a requester of the organization (policy ``create``)."""
    try:
        validate_email(address)
    except ValidationError:
        return None
    user = User.objects.filter(email__iexact=address).first()
    if user is None:
        user = User.objects.create_user(address, None, name=name[:200])  # no usable password
    elif not user.is_active:
        return None
    Membership.objects.get_or_create(
        user=user, organization_id=organization_id, defaults={"role": Role.REQUESTER}
    )
    return user


def _own_addresses(mailbox: Mailbox) -> set[str]:
    found = {a.lower() for a in Mailbox.objects.values_list("address", flat=True)}
    found.add(mailbox.address.lower())
    email_settings = (
        HelpdeskEmailSettings.objects.filter(organization_id=mailbox.organization_id)
        .select_related("channel")
        .first()
    )
    if email_settings is not None:
        if email_settings.from_address:
            found.add(email_settings.from_address.lower())
        if email_settings.channel is not None:
            found.add(str(email_settings.channel.config.get("from_address", "")).lower())
    return found


# ---------------------------------------------------------------- the ticket it answers


def find_ticket(organization_id: int, slug: str, mail: ParsedMail) -> Ticket | None:
    """The ticket ``mail`` answers: thread ids first (exact), then the subject reference."""
    tickets = Ticket.objects.filter(organization_id=organization_id)
    for mid in mail.thread_ids:
        ticket_id = (
            OutboundEmail.objects.filter(organization_id=organization_id, message_id=mid)
            .values_list("ticket_id", flat=True)
            .first()
            or Reply.objects.filter(ticket__organization_id=organization_id, email_message_id=mid)
            .values_list("ticket_id", flat=True)
            .first()
            or tickets.filter(Q(email_message_id=mid) | Q(email_thread_id=mid))
            .values_list("pk", flat=True)
            .first()
        )
        if ticket_id:
            return _follow_merges(tickets.get(pk=ticket_id))
    number = refs.find_number(mail.subject, slug)
    if number is not None:
        found = tickets.filter(number=number).first()
        if found is not None:
            return _follow_merges(found)
    return None


def _follow_merges(ticket: Ticket) -> Ticket:
    seen = {ticket.pk}
    while ticket.merged_into_id and ticket.merged_into_id not in seen:
        seen.add(ticket.merged_into_id)
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
    return ticket


# ---------------------------------------------------------------- one message


@dataclass(frozen=True)
class Outcome:
    status: InboundStatus
    reason: str = ""
    ticket: Ticket | None = None
    reply: Reply | None = None
    notes: tuple[str, ...] = ()


def process(mailbox: Mailbox, raw: bytes, now: datetime | None = None) -> InboundEmail:
    """Process one raw message of ``mailbox``; returns its (possibly earlier) record."""
    now = now or timezone.now()
    org = mailbox.organization_id
    try:
        mail = parse(raw)
    except MalformedMessage as e:
        key = "sha256:" + hashlib.sha256(raw).hexdigest()
        return _record_failure(mailbox, key, "", "", str(e), now)
    existing = InboundEmail.objects.filter(organization_id=org, message_id=mail.message_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            record = InboundEmail.objects.create(
                organization_id=org,
                mailbox=mailbox,
                message_id=mail.message_id[:255],
                from_address=mail.from_address[:254],
                subject=mail.subject[:255],
                status=InboundStatus.FAILED,  # until decided below, inside this transaction
                received_at=now,
            )
            outcome = _route(mailbox, mail, now)
            record.status = outcome.status
            record.reason = outcome.reason
            record.ticket = outcome.ticket
            record.reply = outcome.reply
            record.error = "\n".join(outcome.notes)
            record.save()
    except IntegrityError as e:
        found = InboundEmail.objects.filter(organization_id=org, message_id=mail.message_id)
        if found.exists():  # another worker took the same message first
            return found.get()
        log.exception("mailbox %s: message %s failed", mailbox.pk, mail.message_id)
        return _record_failure(
            mailbox, mail.message_id, mail.from_address, mail.subject, _describe(e), now
        )
    except Exception as e:
        log.exception("mailbox %s: message %s failed", mailbox.pk, mail.message_id)
        return _record_failure(
            mailbox, mail.message_id, mail.from_address, mail.subject, _describe(e), now
        )
    log.info(
        "mailbox %s: %s %s -> %s %s",
        mailbox.pk,
        mail.message_id,
        mail.from_address,
        record.status,
        record.reason or record.ticket_id or "",
    )
    return record


def _describe(error: Exception) -> str:
    detail = getattr(error, "detail", None) or str(error)
    return f"{type(error).__name__}: {detail}"[:2000]


def _record_failure(
    mailbox: Mailbox, key: str, sender: str, subject: str, error: str, now: datetime
) -> InboundEmail:
    record, _ = InboundEmail.objects.get_or_create(
        organization_id=mailbox.organization_id,
        message_id=key[:255],
        defaults={
            "mailbox": mailbox,
            "from_address": sender[:254],
            "subject": subject[:255],
            "status": InboundStatus.FAILED,
            "error": error,
            "received_at": now,
        },
    )
    return record


def _route(mailbox: Mailbox, mail: ParsedMail, now: datetime) -> Outcome:
    org = mailbox.organization_id
    if mail.automatic:
        return Outcome(InboundStatus.IGNORED, mail.automatic)
    if OutboundEmail.objects.filter(message_id=mail.message_id).exists():
        return Outcome(InboundStatus.IGNORED, "loop")
    if not mail.from_address:
        return Outcome(InboundStatus.IGNORED, "no-sender")
    if mail.from_address in _own_addresses(mailbox):
        return Outcome(InboundStatus.IGNORED, "loop")
    sender = _member(org, mail.from_address)
    ticket = find_ticket(org, mailbox.organization.slug, mail)
    if ticket is not None and sender is not None:
        outcome = _reply(ticket, sender, mail, now)
        if outcome is not None:
            return outcome
    if sender is None:
        if mailbox.unknown_sender == UnknownSender.IGNORE:
            return Outcome(InboundStatus.IGNORED, "unknown-sender")
        if mailbox.unknown_sender == UnknownSender.CREATE:
            sender = _new_requester(org, mail.from_address, mail.from_name)
            if sender is None:
                return Outcome(InboundStatus.IGNORED, "invalid-sender")
    return _new_ticket(mailbox, sender, mail, now, follows=ticket)


def _reply(ticket: Ticket, sender: User, mail: ParsedMail, now: datetime) -> Outcome | None:
    """A reply on ``ticket``, or ``None`` when the sender may not reply or it is closed."""
    principal = Principal(user=sender, source="email")
    # Seeing the ticket first: ``may_reply_publicly`` alone lets any requester of the
    # organization answer any of its tickets.
    visible = visible_tickets(principal).filter(pk=ticket.pk).exists()
    if not visible or not may_reply_publicly(principal, ticket):
        return None
    text = strip_quotes(mail.text)
    if not text:
        text = "(attachments only)" if mail.attachments else mail.text.strip()
    if not text:
        return Outcome(InboundStatus.IGNORED, "empty")
    try:
        with transaction.atomic():
            reply = services.add_reply(
                principal,
                ticket,
                text,
                public=True,
                via=Via.EMAIL,
                now=now,
                email_message_id=mail.message_id[:255],
            )
    except InvalidState:
        return None  # closed: the requester's mail opens a new ticket instead
    except (Forbidden, NotFound):
        return None
    notes = _save_attachments(principal, ticket, reply, mail.attachments, now)
    return Outcome(InboundStatus.REPLY, ticket=ticket, reply=reply, notes=notes)


def _new_ticket(
    mailbox: Mailbox, sender: User | None, mail: ParsedMail, now: datetime, follows: Ticket | None
) -> Outcome:
    triage = sender is None
    description = mail.text.strip() or "(no text)"
    if triage:
        who = f"{mail.from_name} <{mail.from_address}>" if mail.from_name else mail.from_address
        description = f"From: {who}\n\n{description}"
    if follows is not None:
        description = (
            f"Follow-up to {refs.reference(mailbox.organization.slug, follows.number)}\n\n"
            + description
        )
    queue = mailbox.triage_queue if triage else mailbox.queue
    root = mail.references[0] if mail.references else mail.message_id
    ticket = services.create_ticket(
        None,  # the gateway acts on its own authority; the sender becomes the requester
        mailbox.organization_id,
        subject=mail.subject or "(no subject)",
        description=description,
        requester_id=sender.pk if sender else None,
        queue_id=queue.pk if queue else None,
        source=Source.EMAIL,
        email_thread_id=root[:255],
        email_message_id=mail.message_id[:255],
        now=now,
    )
    principal = Principal(user=sender, source="email") if sender else None
    notes = _save_attachments(principal, ticket, None, mail.attachments, now)
    return Outcome(
        InboundStatus.TICKET, "unknown-sender" if triage else "", ticket=ticket, notes=notes
    )


def _save_attachments(
    principal: Principal | None,
    ticket: Ticket,
    reply: Reply | None,
    attachments: tuple[ParsedAttachment, ...],
    now: datetime,
) -> tuple[str, ...]:
    notes = []
    for attachment in attachments:
        try:
            with transaction.atomic():
                save_attachment(
                    principal,
                    ticket,
                    _Upload(attachment.filename, attachment.data),
                    reply=reply,
                    now=now,
                )
        except HelpdeskError as e:
            notes.append(f"attachment {attachment.filename!r} refused: {e.detail}")
    return tuple(notes)


# ---------------------------------------------------------------- polling


def poll(mailbox: Mailbox, now: datetime | None = None) -> dict[str, int]:
    """Fetch and process the mailbox's unseen mail. Raises ``MailboxError``."""
    counts: dict[str, int] = {}
    started = time.monotonic()
    with imap.session(mailbox) as box:
        for unseen in box.unseen(MAX_PER_POLL):
            if time.monotonic() - started > POLL_BUDGET.total_seconds():
                break
            if unseen.size > MAX_MESSAGE_BYTES:
                key = f"imap:{mailbox.pk}:{mailbox.folder}:{unseen.uid}:{unseen.size}"
                record = _record_failure(
                    mailbox,
                    key,
                    "",
                    "",
                    f"message of {unseen.size} bytes: too large",
                    now or timezone.now(),
                )
            else:
                record = process(mailbox, box.fetch(unseen.uid), now)
            box.done(unseen.uid)
            counts[record.status] = counts.get(record.status, 0) + 1
    return counts


def poll_mailboxes(now: datetime | None = None) -> dict[str, int]:
    """The worker job: poll every enabled mailbox whose interval has passed.

    Each mailbox is claimed with a conditional update of ``last_polled_at`` (it must
    still hold the value read), so two workers never poll one mailbox at once. A failing
    mailbox records ``last_error`` and the others go on.
    """
    now = now or timezone.now()
    totals: dict[str, int] = {}
    for mailbox in Mailbox.objects.filter(enabled=True).select_related("organization"):
        last = mailbox.last_polled_at
        if last is not None and last + timedelta(seconds=mailbox.poll_interval) > now:
            continue
        claimed = Mailbox.objects.filter(pk=mailbox.pk, last_polled_at=last).update(
            last_polled_at=now
        )
        if not claimed:
            continue
        try:
            counts = poll(mailbox)
        except MailboxError as e:
            log.warning("mailbox %s (%s): %s", mailbox.pk, mailbox.address, e.message)
            Mailbox.objects.filter(pk=mailbox.pk).update(last_error=e.message[:2000])
            totals["mailbox_errors"] = totals.get("mailbox_errors", 0) + 1
            continue
        Mailbox.objects.filter(pk=mailbox.pk).update(last_error="", last_success_at=timezone.now())
        for status, n in counts.items():
            totals[status] = totals.get(status, 0) + n
    return totals
