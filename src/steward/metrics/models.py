"""Collection settings per site/device, and Prometheus scrape targets."""

from __future__ import annotations

from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from steward.inventory.models import Device
from steward.tenancy.models import Organization, Site

MIN_INTERVAL, MAX_INTERVAL = 1, 3600


class MetricsSettings(models.Model):
    """How often agents collect metrics, for a whole organization, a site or one device.

    The most specific row with a value wins (device, then site, then organization), else
    the server default (``metrics_interval``, 10 s). ``null`` means "inherit".
    """

    tenant_path = "organization"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="metrics_settings"
    )
    site = models.OneToOneField(
        Site, null=True, blank=True, on_delete=models.CASCADE, related_name="metrics_settings"
    )
    device = models.OneToOneField(
        Device, null=True, blank=True, on_delete=models.CASCADE, related_name="metrics_settings"
    )
    metrics_interval = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(MIN_INTERVAL), MaxValueValidator(MAX_INTERVAL)],
        help_text="Seconds between metric collections (1-3600); empty = inherit.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "metrics settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(metrics_interval__isnull=True)
                | models.Q(metrics_interval__gte=MIN_INTERVAL, metrics_interval__lte=MAX_INTERVAL),
                name="metrics_interval_range",
            ),
            models.CheckConstraint(
                condition=models.Q(site__isnull=True) | models.Q(device__isnull=True),
                name="metrics_settings_one_scope",
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(site__isnull=True, device__isnull=True),
                name="metrics_settings_one_per_org",
            ),
        ]

    def __str__(self) -> str:
        scope = (
            f"device {self.device_id}"
            if self.device_id
            else f"site {self.site_id}"
            if self.site_id
            else "organization"
        )
        return f"metrics settings for {scope}"


# Written by the scraper on every run: observations, not changes someone made.
OBSERVED_SCRAPE_FIELDS = {
    "next_scrape_at",
    "last_scrape_at",
    "last_error",
    "last_duration",
    "last_samples",
}


class ScrapeTargetQuerySet(models.QuerySet["ScrapeTarget"]):
    def due(self, now=None) -> ScrapeTargetQuerySet:
        """Targets the server scrapes now (an agent's targets are its own to schedule)."""
        return self.filter(
            enabled=True, scraper__isnull=True, next_scrape_at__lte=now or timezone.now()
        )


class ScrapeTarget(models.Model):
    """A Prometheus exposition endpoint (``/metrics`` of an exporter), scraped by the worker
    or, for a target only reachable inside a customer's network, by one device's agent
    (``scraper``: docs/agent-protocol.md § Scrape targets)."""

    tenant_path = "organization"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="scrape_targets"
    )
    device = models.ForeignKey(
        Device,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scrape_targets",
        help_text="The device the exporter runs on: its series get steward_device.",
    )
    scraper = models.ForeignKey(
        Device,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scrape_assignments",
        help_text="The device whose agent scrapes this target; empty: the server does.",
    )
    job = models.CharField(
        max_length=100, default="scrape", help_text="The job label of the scraped series."
    )
    url = models.URLField(max_length=2000)
    interval_seconds = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(5), MaxValueValidator(3600)]
    )
    timeout_seconds = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    enabled = models.BooleanField(default=True)
    next_scrape_at = models.DateTimeField(default=timezone.now)
    last_scrape_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    last_samples = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScrapeTargetQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "job", "url"]
        indexes = [models.Index(fields=["enabled", "next_scrape_at"])]

    def __str__(self) -> str:
        return f"{self.job} {self.url}"

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.interval_seconds)
