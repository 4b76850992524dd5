"""The email gateway's tables: mailboxes (in), email settings (out) and both logs.

Imported by ``steward.helpdesk.models`` so Django finds them (app label ``helpdesk``).

* ``Mailbox``: one IMAP mailbox polled for an organization. ``password`` is write-only:
  nothing in Steward shows it again (``describe()`` masks it).
* ``HelpdeskEmailSettings``: which ``steward.notify`` email channel sends the
  organization's ticket mail, and from which address.
* ``InboundEmail``: every message taken from a mailbox, keyed by Message-ID per
  organization: the idempotency record (a message fetched twice is processed once) and
  the log of what happened to it (ticket, reply, ignored and why, failed and why).
* ``OutboundEmail``: every ticket email we send, with its own Message-ID, so that a reply
  to it (``In-Reply-To``/``References``) finds its ticket and a copy of it coming back
  (a loop) is recognised; also the send queue, claimed like ``notify.Delivery``.
"""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.db import models
from django.utils import timezone

from steward.helpdesk.models.tickets import Queue, Reply, Ticket
from steward.notify.models import Channel
from steward.tenancy.models import Organization

MASK = "********"

__all__ = ["HelpdeskEmailSettings", "InboundEmail", "Mailbox", "OutboundEmail"]


class Security(StrEnum):
    SSL = "ssl"  # implicit TLS, port 993 (RFC 8314 §3.3 prefers it)
    STARTTLS = "starttls"  # port 143, then STARTTLS (RFC 2595); plaintext is never offered


class UnknownSender(StrEnum):
    CREATE = "create"  # make the sender a requester of the organization
    IGNORE = "ignore"  # record and drop, no bounce (bounces to forged senders are spam)
    TRIAGE = "triage"  # open a ticket without requester in the triage queue


def _choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    return [(e.value, e.value) for e in enum]


class Mailbox(models.Model):
    tenant_path = "organization"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="helpdesk_mailboxes"
    )
    address = models.EmailField(
        help_text="The mailbox's address: Reply-To of ticket mail, and never a requester."
    )
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    security = models.CharField(max_length=10, choices=_choices(Security), default=Security.SSL)
    username = models.CharField(max_length=255)
    password = models.CharField(max_length=1000, blank=True, help_text="Write-only.")
    ca_certificates = models.TextField(
        blank=True,
        help_text="PEM certificates of a private CA; when set, only they are trusted.",
    )
    folder = models.CharField(max_length=255, default="INBOX")
    processed_folder = models.CharField(
        max_length=255, blank=True, help_text="Move processed mail here (blank: mark it seen)."
    )
    poll_interval = models.PositiveIntegerField(default=60, help_text="Seconds.")
    timeout = models.FloatField(default=20.0, help_text="Seconds per network operation.")
    enabled = models.BooleanField(default=True)
    unknown_sender = models.CharField(
        max_length=10, choices=_choices(UnknownSender), default=UnknownSender.CREATE
    )
    queue = models.ForeignKey(
        Queue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Queue of new tickets from this mailbox.",
    )
    triage_queue = models.ForeignKey(
        Queue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Queue of tickets from unknown senders (policy 'triage').",
    )
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization_id", "address"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "address"], name="one_mailbox_address")
        ]

    def __str__(self) -> str:
        return self.address

    def describe(self) -> dict[str, object]:
        """The settings as shown to people: the password only as set or not."""
        return {
            "address": self.address,
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "username": self.username,
            "password": MASK if self.password else "",
            "ca_certificates": bool(self.ca_certificates),
            "folder": self.folder,
            "processed_folder": self.processed_folder,
            "poll_interval": self.poll_interval,
            "enabled": self.enabled,
            "unknown_sender": self.unknown_sender,
            "last_polled_at": self.last_polled_at,
            "last_error": self.last_error,
        }


class HelpdeskEmailSettings(models.Model):
    """How an organization's ticket mail leaves: a ``notify`` email channel's SMTP server."""

    tenant_path = "organization"

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="helpdesk_email_settings"
    )
    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="An email channel; its SMTP settings send ticket mail.",
    )
    from_address = models.EmailField(blank=True, help_text="Blank: the channel's from address.")
    from_name = models.CharField(max_length=100, blank=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "help desk email settings"

    def __str__(self) -> str:
        return f"help desk email of {self.organization_id}"


class InboundStatus(StrEnum):
    TICKET = "ticket"  # opened a ticket
    REPLY = "reply"  # added a reply to a ticket
    IGNORED = "ignored"  # automatic mail, loop, unknown sender refused: see ``reason``
    FAILED = "failed"  # could not be processed: see ``error``


class InboundEmail(models.Model):
    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(
        Mailbox, null=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # The Message-ID as sent ("<...>"), or "sha256:<hex of the raw message>" without one.
    message_id = models.CharField(max_length=255)
    from_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=_choices(InboundStatus))
    reason = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    ticket = models.ForeignKey(Ticket, null=True, on_delete=models.SET_NULL, related_name="+")
    reply = models.ForeignKey(Reply, null=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "message_id"], name="one_inbound_per_message_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_id}: {self.status}"


class OutboundStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # will retry at next_attempt_at
    DEAD = "dead"


class OutboundEmail(models.Model):
    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    notification = models.ForeignKey(
        "helpdesk.Notification", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reply = models.ForeignKey(Reply, null=True, on_delete=models.SET_NULL, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=40)
    to_address = models.CharField(max_length=254)
    message_id = models.CharField(max_length=255, unique=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)  # space-separated, oldest first
    subject = models.CharField(max_length=255)
    text = models.TextField()
    html = models.TextField(blank=True)
    auto_submitted = models.CharField(max_length=20, blank=True)
    status = models.CharField(
        max_length=10, choices=_choices(OutboundStatus), default=OutboundStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_address}: {self.status}"
