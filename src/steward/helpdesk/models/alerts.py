"""Alert-to-ticket policies and the alerts the hook has seen."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from steward.helpdesk.models.tickets import Priority, _choices
from steward.inventory.models import Device
from steward.tenancy.models import Organization


class AlertTicketPolicy(models.Model):
    """When an alert opens a ticket: by rule name (wins) or by severity."""

    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    rule_name = models.CharField(max_length=200, blank=True, help_text="Empty = any rule.")
    severity = models.CharField(max_length=20, blank=True, help_text="Empty = any severity.")
    open_after_minutes = models.PositiveIntegerField(
        default=0, help_text="Open the ticket once the alert has fired this long (0 = at once)."
    )
    queue = models.ForeignKey(
        "helpdesk.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    priority = models.CharField(max_length=2, choices=_choices(Priority), default=Priority.P2)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "alert ticket policies"

    def __str__(self) -> str:
        return f"alert policy {self.rule_name or '*'} / {self.severity or '*'}"


class AlertRecord(models.Model):
    """The last known state of an alert (by fingerprint), and the ticket it has open."""

    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=128)
    rule_name = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=20, blank=True)
    state = models.CharField(max_length=20)
    title = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    labels = models.JSONField(default=dict, blank=True)
    url = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    ticket = models.ForeignKey(
        "helpdesk.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "fingerprint"], name="one_alert_record")
        ]
        indexes = [models.Index(fields=["state", "ticket"])]

    def __str__(self) -> str:
        return f"{self.fingerprint} ({self.state})"
