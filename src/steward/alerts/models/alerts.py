"""The engine's persisted state, the alerts it produced, their history, and the outbox."""

from __future__ import annotations

from django.db import models


class EngineState(models.Model):
    """One row per organization: ``Engine.to_dict()`` plus two counters.

    ``version`` is bumped by every evaluation (optimistic locking: the write is a
    conditional update on the version read; PostgreSQL also locks the row FOR UPDATE).
    ``config_version`` is bumped by every change of rules, silences, windows, policies or
    checks, so each process can keep the compiled config in memory and know when it is
    stale with the same read. ``pack_keys`` remembers which default rules were ever
    created, so a rule the user deleted is not recreated.
    """

    tenant_path = "organization"

    organization = models.OneToOneField(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="alert_engine"
    )
    version = models.BigIntegerField(default=0)
    config_version = models.BigIntegerField(default=0)
    data = models.JSONField(default=dict)
    # Engine.next_wakeup() as of the last write: the worker's every-second tick skips the
    # organization (no state read, no write) until then (runtime.tick).
    next_due = models.FloatField(null=True, blank=True)
    pack_keys = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"engine state of {self.organization_id} v{self.version}"


class EngineEntry(models.Model):
    """One entry of the engine state's large maps (``steward.alerting.engine.ENTRY_KINDS``:
    an input series, a check, a device, an insight, an alert), so a round writes the
    entries it changed instead of the whole state (2-3 MB at 1,000 devices). Written in
    the transaction that bumps ``EngineState.version``, so the version covers them too.
    """

    tenant_path = "organization"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=16)
    key = models.TextField()
    data = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "key"], name="alerts_engine_entry_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} of {self.organization_id}"


class Alert(models.Model):
    """What the console and the API show of one alert (one fingerprint). The engine state
    stays the source of truth; this row is rewritten on every recorded transition."""

    tenant_path = "organization"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="alerts"
    )
    fingerprint = models.CharField(max_length=32)
    rule = models.ForeignKey(
        "AlertRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    rule_key = models.CharField(max_length=40)  # the engine's rule id ("r12", "c7")
    rule_name = models.CharField(max_length=200)
    labels = models.JSONField(default=dict)
    status = models.CharField(max_length=10)  # pending, firing, resolved
    phase = models.CharField(max_length=15)  # status + acknowledged/snoozed/muted/flapping
    severity = models.CharField(max_length=10)
    title = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    # The alert value as text: a number, or an insight's sentence (a forecast runs to ~250).
    value = models.CharField(max_length=500, blank=True)
    site = models.ForeignKey(
        "tenancy.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    device = models.ForeignKey(
        "inventory.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    firing_since = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=200, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    ack_note = models.TextField(blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    muted_until_resolved = models.BooleanField(default=False)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "fingerprint"], name="alert_fingerprint_per_org"
            )
        ]
        indexes = [models.Index(fields=["organization", "status"])]

    def __str__(self) -> str:
        return f"{self.rule_name} [{self.phase}] {self.fingerprint}"


class AlertEvent(models.Model):
    """One recorded phase change (the engine's ``Transition``): the alert's timeline."""

    tenant_path = "alert__organization"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    from_phase = models.CharField(max_length=15)
    to_phase = models.CharField(max_length=15)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id}: {self.from_phase} -> {self.to_phase}"


class Outbox(models.Model):
    """An action to carry out after commit: a notification or an escalation step.

    ``key`` is unique (``n:<notification id>`` / ``e:<group>:<step>:<cycle>``), so a
    retried evaluation never pages twice; the deliveries it creates use the same key as
    their idempotency key. ``dispatched_at`` is set by the one caller whose conditional
    update claimed the row.
    """

    tenant_path = "organization"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10)  # notify, escalate, event
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.key
