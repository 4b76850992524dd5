"""Checks (agent-side and server-side), their current state, and heartbeat (push) checks."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.utils import timezone

from steward.checks import CheckSpec


class CheckDefinition(models.Model):
    """What to check, where and how often. ``device`` set: the device's agent runs it;
    ``device`` empty: the server's worker runs it (http, tcp, ping, tls, dns, nagios)."""

    tenant_path = "organization"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="checks"
    )
    device = models.ForeignKey(
        "inventory.Device", null=True, blank=True, on_delete=models.CASCADE, related_name="checks"
    )
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=20)
    target = models.CharField(max_length=500, blank=True)
    params = models.JSONField(default=dict, blank=True)
    interval = models.FloatField(default=60.0)  # seconds, 1 s .. 24 h
    timeout = models.FloatField(default=10.0)  # seconds
    retries = models.PositiveSmallIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    notify = models.ManyToManyField("notify.Channel", blank=True, related_name="alert_checks")
    # Agent-side "run now": the checks revision changes, the agent pulls and runs it.
    run_requested_at = models.DateTimeField(null=True, blank=True)
    # Server-side scheduling: claimed with a conditional update of this column.
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="check_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_notify(self) -> bool:
        """Whether the check names its own channels (it then has its own rule)."""
        cached = getattr(self, "_has_notify", None)
        if cached is None:
            cached = self._has_notify = self.notify.exists()
        return cached

    @property
    def endpoint(self) -> str:
        """The target as people write it: ``db.example:5432`` for a TCP check, whose port is
        a parameter (the console's lists showed the host alone); the target otherwise."""
        port = (self.params or {}).get("port")
        if self.type == "tcp" and port:
            host = f"[{self.target}]" if ":" in self.target else self.target  # IPv6
            return f"{host}:{port}"
        return self.target

    @property
    def side(self) -> str:
        return "server" if self.device_id is None else "agent"

    def spec(self) -> CheckSpec:
        return CheckSpec(
            type=self.type,
            target=self.target,
            params=dict(self.params or {}),
            interval=self.interval,
            timeout=self.timeout,
            retries=self.retries,
        )


class CheckStatus(models.Model):
    """The current state of one check (the latest result and the soft/hard state)."""

    tenant_path = "definition__organization"

    # Not named "check": that would hide Model.check(), Django's system-check hook.
    definition = models.OneToOneField(
        CheckDefinition, on_delete=models.CASCADE, primary_key=True, related_name="status"
    )
    status = models.CharField(max_length=10, default="pending")  # hard: ok/warning/...
    current = models.CharField(max_length=10, default="pending")  # the latest result's
    soft = models.BooleanField(default=False)
    attempt = models.PositiveSmallIntegerField(default=0)
    message = models.TextField(blank=True)
    last_result = models.JSONField(default=dict, blank=True)
    state = models.JSONField(null=True, blank=True)  # a stateful check's opaque state
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_change_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.definition_id}: {self.status}"


class HeartbeatCheck(models.Model):
    """A job that pings Steward (a dead man's switch). The slug in the ping URL is the
    only secret: anyone who knows it can ping, which is the point (cron lines, CI jobs)."""

    tenant_path = "organization"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="heartbeat_checks"
    )
    name = models.CharField(max_length=200)
    slug = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    period_s = models.FloatField(null=True, blank=True)
    schedule = models.CharField(max_length=100, blank=True)  # cron, in ``tz``
    tz = models.CharField(max_length=64, default="UTC")
    grace_s = models.FloatField(default=3600.0)
    max_runtime_s = models.FloatField(null=True, blank=True)
    min_runtime_s = models.FloatField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    notify = models.ManyToManyField("notify.Channel", blank=True, related_name="heartbeats")
    status = models.CharField(max_length=10, default="new")
    reason = models.CharField(max_length=20, default="none")
    message = models.CharField(max_length=500, blank=True)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    next_eval_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="heartbeat_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name

    def config(self):
        from steward.checks.heartbeat import HeartbeatConfig

        def span(seconds: float | None) -> timedelta | None:
            return None if seconds is None else timedelta(seconds=seconds)

        return HeartbeatConfig(
            period=span(self.period_s),
            schedule=self.schedule or None,
            tz=self.tz,
            grace=timedelta(seconds=self.grace_s),
            max_runtime=span(self.max_runtime_s),
            min_runtime=span(self.min_runtime_s),
        )


class HeartbeatPing(models.Model):
    """One received ping (the last ``KEEP_PINGS`` per heartbeat are kept)."""

    tenant_path = "heartbeat__organization"
    KEEP_PINGS = 100

    heartbeat = models.ForeignKey(HeartbeatCheck, on_delete=models.CASCADE, related_name="pings")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=10)  # success, start, fail
    exit_status = models.IntegerField(null=True, blank=True)
    remote_addr = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["heartbeat", "-at"])]

    def __str__(self) -> str:
        return f"{self.heartbeat_id} {self.kind} at {self.at:%H:%M:%S}"
