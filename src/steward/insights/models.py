"""What the insights jobs keep between runs: detector states and forecasts.

One owner per table: only ``steward.insights.scoring`` writes ``DetectorState`` (with one
``executemany`` per batch, see ``scoring._save``) and only ``steward.insights.forecasting``
writes ``Forecast``.
"""

from __future__ import annotations

import math
from enum import StrEnum

from django.db import models

from steward.intel import ForecastStatus

# Derived signals (not stored series): scored per device from stored families so the
# console can draw an expected band under the charts people look at.
SIGNAL_CPU = "cpu"  # % of all cores busy in user+system+iowait+steal (the CPU chart's stack)
SIGNAL_MEMORY = "memory"  # bytes used: MemTotal - MemAvailable (the memory chart's "used")
SIGNALS = (SIGNAL_CPU, SIGNAL_MEMORY)
SIGNAL_PREFIX = "steward:signal:"  # DetectorState.metric of a derived signal


class DetectorState(models.Model):
    """The streaming detector of one series (or one derived signal) of one organization.

    ``cursor_ms`` is the timestamp of the last sample fed to ``state``: both are written in
    the same row update, guarded by the previous cursor, so a sample is learned exactly once
    even if two workers ever ran the job at the same time. ``window`` packs the per-10-minute
    counts behind the anomaly rate (see ``scoring.Window``).
    """

    tenant_path = "organization"

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE)
    # SHA-256/16 of the canonical label JSON (as the store's own series hash), or
    # "signal:<name>:<device id>" for a derived signal.
    series_key = models.CharField(max_length=64)
    metric = models.CharField(max_length=200)
    device_id = models.BigIntegerField(null=True, blank=True)  # the steward_device label
    labels = models.JSONField(default=dict)
    state = models.BinaryField()  # StreamDetector.to_bytes() (4,164 bytes, format 8; 6, 5, 4 load)
    cursor_ms = models.BigIntegerField()
    # Counters are scored as per-second rates: the previous raw value (None: gauge).
    last_raw = models.FloatField(null=True, blank=True)
    last_score = models.FloatField(default=0.0)
    # The last sample's Verdict as a dict plus "ts" (ms) and "raw_score" (undamped).
    last_verdict = models.JSONField(default=dict)
    window = models.BinaryField(default=b"")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "series_key"], name="insights_state_unique_key"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "metric"], name="insights_state_metric"),
            models.Index(fields=["device_id", "last_score"], name="insights_state_device"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.labels}"


class ResourceKind(StrEnum):
    FILESYSTEM = "filesystem"
    MEMORY = "memory"


class Forecast(models.Model):
    """When a resource of a device runs out, as last computed (one row per resource).

    ``seconds``/``lower``/``upper`` count from ``as_of`` (the last sample used), not from
    ``computed_at``; ``upper`` is NULL when the late edge of the interval never reaches
    the threshold (unbounded). See ``steward.intel.forecast`` for the method.
    """

    tenant_path = "organization"

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE)
    device = models.ForeignKey(
        "inventory.Device", on_delete=models.CASCADE, related_name="forecasts"
    )
    resource = models.CharField(max_length=300)  # "filesystem /var", "memory"
    kind = models.CharField(max_length=20, choices=[(k.value, k.value) for k in ResourceKind])
    labels = models.JSONField(default=dict)  # mountpoint, device, fstype of a filesystem
    status = models.CharField(max_length=20, choices=[(s.value, s.value) for s in ForecastStatus])
    seconds = models.FloatField(null=True, blank=True)
    lower = models.FloatField(null=True, blank=True)
    upper = models.FloatField(null=True, blank=True)
    confidence = models.FloatField()
    slope = models.FloatField(default=0.0)  # units per second (negative: shrinking)
    model = models.CharField(max_length=30, blank=True)
    points_used = models.IntegerField(default=0)
    current = models.FloatField(null=True, blank=True)  # bytes available at as_of
    capacity = models.FloatField(null=True, blank=True)  # bytes in total
    as_of = models.DateTimeField()
    computed_at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "resource"], name="insights_forecast_unique_resource"
            )
        ]
        ordering = ["device_id", "resource"]

    def __str__(self) -> str:
        return f"{self.resource}: {self.status}"

    @property
    def upper_unbounded(self) -> bool:
        return self.status == ForecastStatus.CROSSING and self.upper is None

    @property
    def what(self) -> str:
        """What runs out, as people name it: the mountpoint, or "memory"."""
        if self.kind == ResourceKind.FILESYSTEM:
            return self.labels.get("mountpoint", self.resource.partition(" ")[2])
        return "memory"

    @property
    def headline(self) -> str:
        """ "/var full in 5 d 4 h (4 d 20 h to 5 d 12 h)", "/data: no trend" ..."""
        from steward.insights.present import headline

        return headline(self.what, self.status, self.seconds, self.lower, self.upper)

    def interval(self) -> tuple[float, float]:
        """(lower, upper) in seconds from ``as_of``; upper is ``inf`` when unbounded."""
        lo = self.lower if self.lower is not None else 0.0
        return lo, (self.upper if self.upper is not None else math.inf)
