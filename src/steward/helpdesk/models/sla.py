"""SLA policies (calendar + targets per priority) and the warning/breach records."""

from __future__ import annotations

from datetime import date

from django.db import models
from django.utils import timezone

from steward.sla.calendar import Calendar
from steward.tenancy.models import Organization

# Monday to Friday, 09:00-17:00: what a new policy starts with.
DEFAULT_WEEKLY = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
# Business minutes per priority.
DEFAULT_TARGETS = {
    "P1": {"first_response": 30, "resolution": 240},
    "P2": {"first_response": 60, "resolution": 480},
    "P3": {"first_response": 240, "resolution": 1440},
    "P4": {"first_response": 480, "resolution": 2400},
}


def default_weekly() -> dict:
    return {k: [list(w) for w in v] for k, v in DEFAULT_WEEKLY.items()}


def default_targets() -> dict:
    return {k: dict(v) for k, v in DEFAULT_TARGETS.items()}


class SlaPolicy(models.Model):
    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(
        default=False, help_text="Applies to tickets whose queue has no policy of its own."
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    weekly_hours = models.JSONField(
        default=default_weekly, help_text='{"mon": [["09:00", "17:00"]], ...}; empty = 24x7.'
    )
    targets = models.JSONField(
        default=default_targets,
        help_text='Business minutes: {"P1": {"first_response": 30, "resolution": 240}, ...}',
    )
    pause_on_hold = models.BooleanField(default=True)
    warn_percent = models.PositiveSmallIntegerField(default=80)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="sla_policy_name")
        ]

    def __str__(self) -> str:
        return self.name

    def calendar(self, holidays: list[date] | None = None) -> Calendar:
        if holidays is None:
            holidays = [h.date for h in self.holidays.all()]
        if not self.weekly_hours:
            return Calendar.always(self.time_zone)
        return Calendar.from_spec(self.time_zone, self.weekly_hours, holidays)

    def target_seconds(self, priority: str, name: str) -> int | None:
        minutes = (self.targets or {}).get(priority, {}).get(name)
        return int(minutes) * 60 if minutes else None

    @property
    def paused_statuses(self) -> tuple[str, ...]:
        return ("pending", "on_hold") if self.pause_on_hold else ("pending",)


class Holiday(models.Model):
    tenant_path = "policy__organization"

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["policy", "date"], name="one_holiday")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class SlaEvent(models.Model):
    """A warning or a breach of one target of one ticket: written once, then notified."""

    tenant_path = "ticket__organization"

    WARNING, BREACH = "warning", "breach"

    ticket = models.ForeignKey(
        "helpdesk.Ticket", on_delete=models.CASCADE, related_name="sla_events"
    )
    target = models.CharField(max_length=20)  # first_response, resolution
    kind = models.CharField(max_length=10)  # warning, breach
    due_at = models.DateTimeField(null=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "target", "kind"], name="one_sla_event")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.target} on ticket {self.ticket_id}"
