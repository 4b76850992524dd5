"""Configuration of the engine: rules, silences, maintenance windows, escalation, on-call.

Each row is turned into the engine's dataclass by ``steward.alerts.config``; the JSON
columns hold exactly the shapes ``steward.alerts.specs`` validates (the API and the YAML
files share them).
"""

from __future__ import annotations

from django.db import models


class Route(models.TextChoices):
    ALL = "all", "Every enabled channel of the organization"
    CHANNELS = "channels", "The listed channels"
    NONE = "none", "Nobody (recorded only)"


class AlertRule(models.Model):
    """``condition`` is a ``steward.alerting`` condition as a dict (``kind`` + fields);
    ``scope`` is ``{"site", "device", "tag", "group", "matchers": [...]}`` (all optional)."""

    tenant_path = "organization"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="alert_rules"
    )
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    condition = models.JSONField()
    scope = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=10, default="warning")
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)  # title, description, ...
    group_by = models.JSONField(default=list, blank=True)
    for_s = models.FloatField(default=0.0)
    keep_firing_for_s = models.FloatField(default=0.0)
    route = models.CharField(max_length=10, choices=Route.choices, default=Route.ALL)
    channels = models.ManyToManyField("notify.Channel", blank=True, related_name="alert_rules")
    group_wait_s = models.FloatField(default=0.0)
    group_interval_s = models.FloatField(default=60.0)
    repeat_interval_s = models.FloatField(default=3600.0)
    escalation = models.ForeignKey(
        "EscalationPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_default_pack = models.BooleanField(default=False)
    pack_key = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="rule_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def kind(self) -> str:
        return str(self.condition.get("kind", ""))


class Silence(models.Model):
    """Hide matching alerts between two instants (evaluation goes on; nothing is lost)."""

    tenant_path = "organization"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="silences"
    )
    name = models.CharField(max_length=200, blank=True)  # required by YAML, optional in API
    matchers = models.JSONField(default=list)  # ['device="web-01"', ...]
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    author = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                condition=~models.Q(name=""),
                name="silence_name_per_org",
            )
        ]

    def __str__(self) -> str:
        return self.name or f"silence {self.pk}"


class MaintenanceWindow(models.Model):
    """Weekly slots (``[{"days": [0..6], "start": "HH:MM", "end": "HH:MM"}]``) in a zone."""

    tenant_path = "organization"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    name = models.CharField(max_length=200)
    matchers = models.JSONField(default=list)
    timezone = models.CharField(max_length=64, default="UTC")
    slots = models.JSONField(default=list)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="window_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class EscalationPolicy(models.Model):
    """``steps``: ``[{"delay_s": 300, "targets": [{"kind": "channel|user|rotation",
    "ref": name or email}]}]``."""

    tenant_path = "organization"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="escalation_policies"
    )
    name = models.CharField(max_length=200)
    steps = models.JSONField(default=list)
    repeat = models.PositiveSmallIntegerField(default=0)
    repeat_delay_s = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="escalation_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class Rotation(models.Model):
    """An on-call roster: ``participants`` are user emails, handed off at ``handoff``
    local time every ``length_days`` from ``start_date``; ``overrides`` win."""

    tenant_path = "organization"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="rotations"
    )
    name = models.CharField(max_length=200)
    participants = models.JSONField(default=list)
    timezone = models.CharField(max_length=64, default="UTC")
    start_date = models.DateField()
    handoff = models.CharField(max_length=5, default="09:00")
    length_days = models.PositiveSmallIntegerField(default=7)
    overrides = models.JSONField(default=list, blank=True)  # [{user, starts_at, ends_at}]
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="rotation_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name
