"""Tickets and what hangs off them: replies, mentions, attachments, time, links, history."""

from __future__ import annotations

import uuid
from enum import StrEnum

from django.conf import settings
from django.db import models
from django.utils import timezone

from steward.inventory.models import Device
from steward.tenancy.models import Organization

USER = settings.AUTH_USER_MODEL


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting for the requester: the SLA clock pauses
    ON_HOLD = "on_hold"  # waiting for a third party: pauses if the SLA policy says so
    RESOLVED = "resolved"
    CLOSED = "closed"


# Statuses in which a ticket is still being worked (not resolved, not closed).
ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
DONE_STATUSES = (Status.RESOLVED, Status.CLOSED)


class Level(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Priority(StrEnum):
    P1 = "P1"  # critical
    P2 = "P2"  # high
    P3 = "P3"  # medium
    P4 = "P4"  # low


# ITIL impact x urgency matrix (impact first). The 3x3 table of ITIL v3 Service Operation,
# with its two lowest cells merged into P4 because we keep four priorities.
PRIORITY_MATRIX: dict[tuple[Level, Level], Priority] = {
    (Level.HIGH, Level.HIGH): Priority.P1,
    (Level.HIGH, Level.MEDIUM): Priority.P2,
    (Level.MEDIUM, Level.HIGH): Priority.P2,
    (Level.HIGH, Level.LOW): Priority.P3,
    (Level.MEDIUM, Level.MEDIUM): Priority.P3,
    (Level.LOW, Level.HIGH): Priority.P3,
    (Level.MEDIUM, Level.LOW): Priority.P4,
    (Level.LOW, Level.MEDIUM): Priority.P4,
    (Level.LOW, Level.LOW): Priority.P4,
}


class Source(StrEnum):
    PORTAL = "portal"
    EMAIL = "email"
    CONSOLE = "console"
    API = "api"
    ALERT = "alert"


class Via(StrEnum):
    CONSOLE = "console"
    EMAIL = "email"
    PORTAL = "portal"
    API = "api"
    SYSTEM = "system"


def _choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    return [(e.value, e.value.replace("_", " ")) for e in enum]


class HelpdeskSettings(models.Model):
    """Per-organization help desk settings (created on first use with the defaults)."""

    tenant_path = "organization"

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="helpdesk_settings"
    )
    auto_close_days = models.PositiveIntegerField(
        default=7, help_text="Resolved tickets close after this many days (0 = never)."
    )
    requesters_see_org_tickets = models.BooleanField(
        default=False, help_text="Requesters see every ticket of the organization, not only theirs."
    )

    class Meta:
        verbose_name_plural = "help desk settings"

    def __str__(self) -> str:
        return f"help desk settings of {self.organization_id}"


class TicketCounter(models.Model):
    """The last ticket number handed out in an organization (row-locked while allocating)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.last_number}"


class Queue(models.Model):
    """A team's inbox; may carry its own SLA policy."""

    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    sla_policy = models.ForeignKey(
        "helpdesk.SlaPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="queue_name")]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="category_name")
        ]

    def __str__(self) -> str:
        return self.name


class TicketTag(models.Model):
    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="ticket_tag_name")
        ]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField(help_text="Sequential per organization.")
    subject = models.CharField(max_length=255)
    description = models.TextField(blank=True, help_text="Markdown.")
    requester = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="requested_tickets"
    )
    assignee = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.SET_NULL)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL)
    tags = models.ManyToManyField(TicketTag, blank=True, related_name="tickets")
    devices = models.ManyToManyField(Device, blank=True, related_name="tickets")
    followers = models.ManyToManyField(USER, blank=True, related_name="followed_tickets")
    status = models.CharField(max_length=10, choices=_choices(Status), default=Status.NEW)
    impact = models.CharField(max_length=6, choices=_choices(Level), default=Level.MEDIUM)
    urgency = models.CharField(max_length=6, choices=_choices(Level), default=Level.MEDIUM)
    priority_override = models.CharField(max_length=2, choices=_choices(Priority), blank=True)
    # Derived (matrix or override) and stored, so lists filter and sort on an indexed column.
    priority = models.CharField(max_length=2, choices=_choices(Priority), default=Priority.P3)
    sla_policy = models.ForeignKey(
        "helpdesk.SlaPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The nearest running SLA deadline, refreshed on every change and by check_sla(): only
    # for filtering ("breaching soon"); the API computes the clock from the history.
    sla_next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # When check_sla() must look again: the next warning or breach instant while running.
    sla_next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    source = models.CharField(max_length=10, choices=_choices(Source), default=Source.API)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )
    # For the email gateway: the thread's root Message-ID and the opening message's own.
    email_thread_id = models.CharField(max_length=255, blank=True, db_index=True)
    email_message_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="ticket_number")
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["organization", "status"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["requester", "-created_at"]),
            # A requester's tickets in their organizations (visibility, search).
            models.Index(fields=["organization", "requester"], name="ticket_org_requester"),
            # The list's default order across several organizations: read newest first and
            # stop at the page instead of sorting every visible ticket.
            models.Index(fields=["-created_at", "-id"], name="ticket_newest"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    def save(self, *args, **kwargs) -> None:
        self.priority = self.compute_priority()
        super().save(*args, **kwargs)

    @property
    def reference(self) -> str:
        return f"#{self.number}"

    def compute_priority(self) -> Priority:
        if self.priority_override:
            return Priority(self.priority_override)
        return PRIORITY_MATRIX[(Level(self.impact), Level(self.urgency))]


class TicketStatusChange(models.Model):
    """One status transition: the history the SLA clock is computed from."""

    tenant_path = "ticket__organization"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"])]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.from_status or '-'} -> {self.to_status}"


class Reply(models.Model):
    tenant_path = "ticket__organization"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(help_text="Markdown.")
    public = models.BooleanField(default=True, help_text="False = internal note (staff only).")
    via = models.CharField(max_length=10, choices=_choices(Via), default=Via.API)
    created_at = models.DateTimeField(default=timezone.now)
    email_message_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"])]
        verbose_name_plural = "replies"

    def __str__(self) -> str:
        kind = "reply" if self.public else "note"
        return f"{kind} {self.pk} on ticket {self.ticket_id}"

    @property
    def is_human(self) -> bool:
        return self.author_id is not None and self.via != Via.SYSTEM


class Mention(models.Model):
    tenant_path = "reply__ticket__organization"

    reply = models.ForeignKey(Reply, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["reply", "user"], name="one_mention")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.reply_id}"


class Attachment(models.Model):
    """A file under STEWARD_HOME/attachments/<organization id>/<uuid>; see ``attachments``."""

    tenant_path = "ticket__organization"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    reply = models.ForeignKey(
        Reply, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename


class TimeEntry(models.Model):
    tenant_path = "ticket__organization"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="time_entries")
    user = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    minutes = models.PositiveIntegerField()
    billable = models.BooleanField(default=True)
    note = models.CharField(max_length=500, blank=True)
    date = models.DateField(default=timezone.localdate)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date", "id"]
        verbose_name_plural = "time entries"
        indexes = [models.Index(fields=["date"])]

    def __str__(self) -> str:
        return f"{self.minutes} min on ticket {self.ticket_id}"


class CannedResponse(models.Model):
    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    body = models.TextField()

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class DeviceAssignment(models.Model):
    """A device used by a person: the devices a requester may link to their tickets."""

    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "user"], name="one_device_assignment")
        ]

    def __str__(self) -> str:
        return f"device {self.device_id} used by {self.user_id}"


class LinkedAlert(models.Model):
    """An alert linked to a ticket, by fingerprint (the alert engine owns the alert)."""

    tenant_path = "ticket__organization"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="linked_alerts")
    fingerprint = models.CharField(max_length=128, db_index=True)
    alert_id = models.CharField(max_length=64, blank=True)
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "fingerprint"], name="one_alert_link")
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint} on ticket {self.ticket_id}"


class SearchDocument(models.Model):
    """Searchable text of a ticket, reply or article, kept in step by ``search``.

    The full-text index sits on this one table: an FTS5 external-content table kept by
    triggers on SQLite, a generated ``tsvector`` column with a GIN index on PostgreSQL
    (migration 0002).
    """

    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8)  # ticket, reply, article
    object_id = models.BigIntegerField()
    ticket = models.ForeignKey(Ticket, null=True, on_delete=models.CASCADE, related_name="+")
    public = models.BooleanField(default=True)
    title = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="one_search_document")
        ]
        # Articles of an organization, for a requester's search: without it the
        # organization's every ticket and reply document is read to find them.
        indexes = [models.Index(fields=["organization", "kind"], name="searchdoc_org_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"


class Notification(models.Model):
    """Outbox of help desk events; the notification engine delivers and stamps them."""

    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    ticket = models.ForeignKey(Ticket, null=True, on_delete=models.CASCADE, related_name="+")
    recipients = models.JSONField(default=list, help_text="User ids.")
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["delivered_at", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} ({self.ticket_id})"
