"""Mail out: help desk events to emails with threading headers, and the job that sends them.

``queue_for(notification)`` is called by ``helpdesk.notify.notify()`` inside the
caller's transaction, so a rolled-back change emails nobody. It writes one
``OutboundEmail`` per recipient for the events people get mail about:

| event                      | who                                   | Auto-Submitted   |
|----------------------------|---------------------------------------|------------------|
| ``ticket_created``         | the requester (acknowledgement)       | auto-replied     |
|                            | the assignee, if any                  | auto-generated   |
| ``reply_added`` (public)   | requester, assignee, followers (not the author) | —      |
| ``status_changed`` → resolved | requester and followers            | auto-generated   |
| ``assigned``               | the new assignee                      | auto-generated   |

RFC 3834 §5: ``auto-replied`` marks an automatic *answer* to a message (the
acknowledgement), ``auto-generated`` other automatic mail; a person's reply carries none.
Every message also carries ``X-Auto-Response-Suppress: All`` so that Exchange does not
answer it with out-of-office notes (which ``loops`` would ignore anyway).

Threading (RFC 5322 §3.6.4): each email gets its own Message-ID (stored); In-Reply-To is
the latest message of the thread the recipient knows (our last email to them, or their
own last email on the ticket); References is the thread's root and that parent. The
subject carries ``[#ACME-12]``; Reply-To is the organization's mailbox.

Sending uses the SMTP server of the organization's ``notify`` email channel
(``HelpdeskEmailSettings.channel``). ``notify.Message`` cannot carry these headers, so
the rows here are their own small queue, claimed and retried like ``notify.Delivery``
(conditional update, lease, ``notify.backoff``; SMTP 5xx permanent).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.utils import formataddr, make_msgid

from django.core.mail import EmailMultiAlternatives
from django.db import models, transaction
from django.utils import timezone
from django.utils.html import escape

from steward.accounts.models import User
from steward.helpdesk import markdown
from steward.helpdesk.email import refs
from steward.helpdesk.email.models import (
    HelpdeskEmailSettings,
    Mailbox,
    OutboundEmail,
    OutboundStatus,
)
from steward.helpdesk.models import Notification, Reply, Status, Ticket
from steward.notify import backoff
from steward.notify.channels.email.transport import EmailTransport, _is_permanent
from steward.notify.models import NotificationPreference

log = logging.getLogger("steward.helpdesk.email")

REPLY_MARKER = "##- Please type your reply above this line -##"
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5
AUTO_REPLIED, AUTO_GENERATED = "auto-replied", "auto-generated"


class SendError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


# ---------------------------------------------------------------- who gets what


def _wants(user: User, kind: str) -> bool:
    """The person's notification preferences, as far as they apply to ticket mail.

    ``email_enabled`` off means no mail; ``event_kinds`` (prefixes) filter on
    ``helpdesk.<event>``. Alert severities and quiet hours are not applied: ticket mail
    has no severity, and it waits in an inbox instead of paging anyone.
    """
    preference = NotificationPreference.objects.filter(user=user).first()
    if preference is None:
        return True
    if not preference.email_enabled:
        return False
    kinds = preference.event_kinds or []
    return not kinds or any(f"helpdesk.{kind}".startswith(k) for k in kinds)


def _plan(row: Notification, ticket: Ticket) -> list[tuple[str, int, str]]:
    """(kind, user id, auto-submitted) for each email the event causes."""
    kind, recipients = row.kind, list(row.recipients or [])
    if kind == "ticket_created":
        plan = (
            [("acknowledgement", ticket.requester_id, AUTO_REPLIED)] if ticket.requester_id else []
        )
        plan += [("assigned", u, AUTO_GENERATED) for u in recipients if u != ticket.requester_id]
        return plan
    if kind == "reply_added" and (row.payload or {}).get("public"):
        return [("reply", u, "") for u in recipients]
    if kind == "status_changed" and (row.payload or {}).get("status") == Status.RESOLVED:
        return [("resolved", u, AUTO_GENERATED) for u in recipients]
    if kind == "assigned":
        return [("assigned", u, AUTO_GENERATED) for u in recipients]
    return []


# ---------------------------------------------------------------- composing


def _sender(email_settings: HelpdeskEmailSettings) -> str:
    return email_settings.from_address or str(email_settings.channel.config.get("from_address"))


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1] or "steward.invalid"


def _parent(ticket: Ticket, user: User) -> str:
    """The latest message of the thread ``user`` knows, for In-Reply-To."""
    candidates: list[tuple[datetime, str]] = []
    last_out = (
        OutboundEmail.objects.filter(ticket=ticket, recipient=user)
        .order_by("-created_at", "-id")
        .values_list("created_at", "message_id")
        .first()
    )
    if last_out:
        candidates.append(last_out)
    last_in = (
        Reply.objects.filter(ticket=ticket, author=user)
        .exclude(email_message_id="")
        .order_by("-created_at", "-id")
        .values_list("created_at", "email_message_id")
        .first()
    )
    if last_in:
        candidates.append(last_in)
    if ticket.email_message_id and ticket.requester_id == user.pk:
        candidates.append((ticket.created_at, ticket.email_message_id))
    return max(candidates)[1] if candidates else ""


def _texts(kind: str, ticket: Ticket, reply: Reply | None, ref: str) -> tuple[str, str, str]:
    """Subject, text and HTML of one email."""
    subject = ticket.subject
    footer = f"Reply to this email to add to ticket {ref}."
    if kind == "acknowledgement":
        title = f"{ref} {subject}"
        lead = f"We received your request and opened ticket {ref}. We will get back to you."
        body = ticket.description
    elif kind == "reply" and reply is not None:
        title = f"Re: {ref} {subject}"
        author = reply.author.display_name if reply.author else "The help desk"
        lead = f"{author} wrote:"
        body = reply.body
    elif kind == "resolved":
        title = f"{ref} Resolved: {subject}"
        lead = (
            f"Ticket {ref} has been resolved. If the problem is not solved, reply to this "
            "email and the ticket opens again."
        )
        body = ""
    else:  # assigned
        title = f"{ref} Assigned to you: {subject}"
        lead = f"Ticket {ref} is assigned to you."
        body = ticket.description
    text = f"{REPLY_MARKER}\n\n{lead}\n\n{body}\n\n-- \n{footer}\n".replace("\n\n\n\n", "\n\n")
    html = (
        f'<p style="color:#888">{escape(REPLY_MARKER)}</p>'
        f"<p>{escape(lead)}</p>"
        f"{markdown.render(body) if body else ''}"
        f'<p style="color:#888">{escape(footer)}</p>'
    )
    return title[:255], text, html


def queue_for(row: Notification) -> list[OutboundEmail]:
    """The emails a help desk event causes, queued in the caller's transaction."""
    if row.ticket_id is None:
        return []
    email_settings = (
        HelpdeskEmailSettings.objects.filter(organization_id=row.organization_id, enabled=True)
        .select_related("channel", "organization")
        .first()
    )
    if email_settings is None or email_settings.channel is None:
        return []
    if not email_settings.channel.enabled or email_settings.channel.kind != "email":
        return []
    ticket = Ticket.objects.select_related("organization").get(pk=row.ticket_id)
    reply = None
    if row.kind == "reply_added":
        reply = Reply.objects.select_related("author").filter(pk=row.payload.get("reply")).first()
    sender = _sender(email_settings)
    ref = refs.reference(ticket.organization.slug, ticket.number)
    users = {u.pk: u for u in User.objects.filter(pk__in=[p[1] for p in _plan(row, ticket)])}
    queued = []
    for kind, user_id, auto in _plan(row, ticket):
        user = users.get(user_id)
        if user is None or not user.is_active or not user.email or not _wants(user, kind):
            continue
        subject, text, html = _texts(kind, ticket, reply, ref)
        message_id = make_msgid(f"ticket.{ticket.pk}", domain=_domain(sender))
        if not ticket.email_thread_id:
            Ticket.objects.filter(pk=ticket.pk, email_thread_id="").update(
                email_thread_id=message_id
            )
            ticket.email_thread_id = message_id
        parent = _parent(ticket, user)
        references = list(dict.fromkeys(m for m in (ticket.email_thread_id, parent) if m))
        queued.append(
            OutboundEmail.objects.create(
                organization_id=row.organization_id,
                ticket=ticket,
                notification=row,
                reply=reply,
                recipient=user,
                kind=kind,
                to_address=user.email,
                message_id=message_id,
                in_reply_to=parent,
                references=" ".join(r for r in references if r != message_id),
                subject=subject,
                text=text,
                html=html,
                auto_submitted=auto,
            )
        )
    return queued


# ---------------------------------------------------------------- sending


def _reply_to(organization_id: int, fallback: str) -> str:
    address = (
        Mailbox.objects.filter(organization_id=organization_id, enabled=True)
        .order_by("pk")
        .values_list("address", flat=True)
        .first()
    )
    return address or fallback


def send(email: OutboundEmail) -> None:
    """Send one email through the organization's channel; raises ``SendError``."""
    email_settings = (
        HelpdeskEmailSettings.objects.filter(organization_id=email.organization_id)
        .select_related("channel", "organization")
        .first()
    )
    channel = email_settings.channel if email_settings else None
    if email_settings is None or channel is None or channel.kind != "email":
        raise SendError("no help desk email channel configured", permanent=True)
    try:
        transport = EmailTransport(channel.config, channel.secrets)
    except ValueError as e:
        raise SendError(f"invalid channel settings: {e}"[:1000], permanent=True) from e
    sender = _sender(email_settings)
    name = email_settings.from_name or f"{email_settings.organization.name} help desk"
    headers = {
        "Message-ID": email.message_id,
        "X-Auto-Response-Suppress": "All",
        "X-Steward-Ticket": str(email.ticket_id),
    }
    if email.in_reply_to:
        headers["In-Reply-To"] = email.in_reply_to
    if email.references:
        headers["References"] = email.references
    if email.auto_submitted:
        headers["Auto-Submitted"] = email.auto_submitted
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text,
        from_email=formataddr((name, sender)),
        to=[email.to_address],
        reply_to=[_reply_to(email.organization_id, sender)],
        headers=headers,
        connection=transport.connection(),
    )
    if email.html:
        message.attach_alternative(email.html, "text/html")
    try:
        message.send()
    except smtplib.SMTPException as e:
        raise SendError(f"smtp: {e}", permanent=_is_permanent(e)) from e
    except TimeoutError as e:
        raise SendError("smtp: timed out") from e
    except ssl.SSLError as e:
        raise SendError(f"smtp: TLS failed: {e}") from e
    except OSError as e:
        raise SendError(f"smtp: {e}") from e


def _claimable(now: datetime) -> models.QuerySet[OutboundEmail]:
    return OutboundEmail.objects.filter(
        models.Q(
            status__in=[OutboundStatus.PENDING, OutboundStatus.FAILED], next_attempt_at__lte=now
        )
        | models.Q(status=OutboundStatus.SENDING, lease_until__lt=now)
    )


def send_ticket_email(now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """The worker job: send due ticket emails. Each is claimed with a conditional update
    (pending/failed and due, or an expired lease → sending) that must change one row."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    candidates = list(_claimable(now).order_by("next_attempt_at", "pk").values_list("pk")[:limit])
    for (pk,) in candidates:
        claimed = (
            _claimable(now)
            .filter(pk=pk)
            .update(
                status=OutboundStatus.SENDING,
                lease_until=now + LEASE,
                attempts=models.F("attempts") + 1,
            )
        )
        if not claimed:
            continue
        email = OutboundEmail.objects.get(pk=pk)
        try:
            send(email)
        except SendError as e:
            dead = e.permanent or email.attempts >= MAX_ATTEMPTS
            status = OutboundStatus.DEAD if dead else OutboundStatus.FAILED
            log.warning("ticket email %s to %s: %s", pk, email.to_address, e.message)
            OutboundEmail.objects.filter(pk=pk).update(
                status=status,
                lease_until=None,
                last_error=e.message[:2000],
                next_attempt_at=now + backoff.delay(email.attempts),
            )
        else:
            status = OutboundStatus.SENT
            OutboundEmail.objects.filter(pk=pk).update(
                status=status, lease_until=None, last_error="", sent_at=timezone.now()
            )
        counts[status] = counts.get(status, 0) + 1
        _stamp_delivered(email.notification_id)
    return counts


def _stamp_delivered(notification_id: int | None) -> None:
    """Mark the outbox row delivered once none of its emails is still on its way."""
    if notification_id is None:
        return
    waiting = OutboundEmail.objects.filter(
        notification_id=notification_id,
        status__in=[OutboundStatus.PENDING, OutboundStatus.SENDING, OutboundStatus.FAILED],
    )
    with transaction.atomic():
        if not waiting.exists():
            Notification.objects.filter(pk=notification_id, delivered_at=None).update(
                delivered_at=timezone.now()
            )
