"""Channels, their health, per-user preferences, and the delivery log.

A ``Delivery`` is one message to one channel; every try of it is a ``DeliveryAttempt``
row, so the log shows what happened on each attempt, not only the last error. Status:

    pending --claim--> sending --ok--> sent
                          |--error, tries left--> failed --(next_attempt_at)--> sending
                          '--permanent error or out of tries--> dead

``sending`` carries a lease: a worker that dies mid-send loses it when it expires and the
delivery is claimed again (delivery is at-least-once; receivers dedupe on the key).
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models

from steward.notify.message import SEVERITY_RANK, Message, Severity


class Kind(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"
    APPRISE = "apprise", "Apprise"


class Channel(models.Model):
    """Where notifications go. ``config`` is visible; ``secrets`` is write-only."""

    tenant_path = "organization"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="notification_channels"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    config = models.JSONField(default=dict, blank=True)
    secrets = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="channel_name_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class HealthState(models.TextChoices):
    OK = "ok", "OK"
    FAILING = "failing", "Failing"


class ChannelHealth(models.Model):
    """Whether a channel currently works. A failure *episode* runs from the first
    ok->failing transition to the next success; ``episode`` counts them so that each one
    is announced exactly once."""

    tenant_path = "channel__organization"

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="health")
    state = models.CharField(max_length=10, choices=HealthState.choices, default=HealthState.OK)
    consecutive_failures = models.PositiveIntegerField(default=0)
    episode = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.channel}: {self.state}"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead (gave up)"


class Delivery(models.Model):
    tenant_path = "channel__organization"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=200)
    event_kind = models.CharField(max_length=100)
    severity = models.CharField(max_length=10, default="info")
    subject = models.CharField(max_length=255)  # the payload summary shown in the log
    payload = models.JSONField()  # Message.as_dict(): what the worker sends
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    leased_by = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "idempotency_key"], name="one_delivery_per_key"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.subject} -> {self.channel_id}: {self.status}"

    @property
    def message(self) -> Message:
        return Message.from_dict(self.payload)


class DeliveryAttempt(models.Model):
    tenant_path = "delivery__channel__organization"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField()
    permanent = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {'ok' if self.ok else 'error'}"


def _default_severities() -> list[str]:
    return [Severity.WARNING.value, Severity.CRITICAL.value, Severity.OK.value]


class NotificationPreference(models.Model):
    """What one person wants by email. Not per organization: a person has one inbox."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email_enabled = models.BooleanField(default=True)
    severities = models.JSONField(default=_default_severities)
    event_kinds = models.JSONField(default=list, blank=True)  # prefixes; empty = all
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    critical_during_quiet_hours = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of {self.user}"

    def in_quiet_hours(self, at: datetime) -> bool:
        start, end = self.quiet_hours_start, self.quiet_hours_end
        if start is None or end is None or start == end:
            return False
        local: time = at.astimezone(ZoneInfo(self.timezone)).time()
        if start < end:
            return start <= local < end
        return local >= start or local < end  # across midnight, e.g. 22:00-07:00

    def wants_email(self, message: Message, at: datetime) -> bool:
        """Whether ``message`` should be emailed to this person at ``at``."""
        if not self.email_enabled or message.severity.value not in self.severities:
            return False
        kinds = self.event_kinds or []
        if kinds and not any(message.event_kind.startswith(k) for k in kinds):
            return False
        if self.in_quiet_hours(at):
            critical = SEVERITY_RANK[message.severity] >= SEVERITY_RANK[Severity.CRITICAL]
            return critical and self.critical_during_quiet_hours
        return True
