"""The device inventory."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.db import models
from django.utils import timezone

from steward.accounts import tokens
from steward.tenancy.models import Organization, Site


class Status(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    REVOKED = "revoked"


def offline_cutoff():
    """Devices last heard from before this moment are offline."""
    return timezone.now() - timedelta(seconds=settings.STEWARD["offline_after"])


class Tag(models.Model):
    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="tag_per_org")]

    def __str__(self) -> str:
        return self.name


class DeviceQuerySet(models.QuerySet["Device"]):
    def active(self) -> DeviceQuerySet:
        return self.filter(revoked_at__isnull=True)

    def with_status(self, status: str) -> DeviceQuerySet:
        if status == Status.REVOKED:
            return self.filter(revoked_at__isnull=False)
        active = self.active()
        cutoff = offline_cutoff()
        if status == Status.ONLINE:
            return active.filter(last_seen__gte=cutoff)
        if status == Status.OFFLINE:
            return active.filter(models.Q(last_seen__lt=cutoff) | models.Q(last_seen__isnull=True))
        return self.none()

    def status_counts(self) -> dict[str, int]:
        cutoff = offline_cutoff()
        counts = self.aggregate(
            online=models.Count(
                "pk", filter=models.Q(revoked_at__isnull=True, last_seen__gte=cutoff)
            ),
            active=models.Count("pk", filter=models.Q(revoked_at__isnull=True)),
            revoked=models.Count("pk", filter=models.Q(revoked_at__isnull=False)),
        )
        return {
            "online": counts["online"],
            "offline": counts["active"] - counts["online"],
            "revoked": counts["revoked"],
        }


# Fields the agent reports: observations, not changes someone made; not audited.
OBSERVED_FIELDS = {
    "last_seen",
    "last_inventory_at",
    "agent_version",
    "fqdn",
    "os_family",
    "os_name",
    "os_version",
    "kernel",
    "arch",
    "cpu_model",
    "cpu_cores",
    "cpu_threads",
    "memory_bytes",
    "hw_vendor",
    "hw_model",
    "hw_serial",
    "boot_time",
    "inventory",
    "recorded_status",
    "hostname",
}


class Device(models.Model):
    """A managed machine. Online/offline is derived from ``last_seen``, never stored as truth."""

    tenant_path = "organization"

    # The organization is the site's, copied here so scoping is one indexed column.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="devices")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="devices")
    hostname = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    machine_id = models.CharField(max_length=128, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="devices")
    notes = models.TextField(blank=True)

    credential_hash = models.CharField(max_length=64, unique=True)
    enrolled_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    last_seen = models.DateTimeField(null=True, blank=True, db_index=True)
    recorded_status = models.CharField(max_length=10, default=Status.OFFLINE)
    last_inventory_at = models.DateTimeField(null=True, blank=True)
    agent_version = models.CharField(max_length=32, blank=True)

    fqdn = models.CharField(max_length=255, blank=True)
    os_family = models.CharField(max_length=16, blank=True)
    os_name = models.CharField(max_length=128, blank=True)
    os_version = models.CharField(max_length=64, blank=True)
    kernel = models.CharField(max_length=128, blank=True)
    arch = models.CharField(max_length=32, blank=True)
    cpu_model = models.CharField(max_length=255, blank=True)
    cpu_cores = models.PositiveIntegerField(null=True, blank=True)
    cpu_threads = models.PositiveIntegerField(null=True, blank=True)
    memory_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    hw_vendor = models.CharField(max_length=128, blank=True)
    hw_model = models.CharField(max_length=128, blank=True)
    hw_serial = models.CharField(max_length=128, blank=True)
    boot_time = models.DateTimeField(null=True, blank=True)
    # The latest full report (disks, partitions, network, users): read as a whole, never
    # queried by field, so one JSON document beats a dozen tables.
    inventory = models.JSONField(default=dict, blank=True)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        ordering = ["hostname", "id"]
        indexes = [
            models.Index(fields=["organization", "hostname"]),
            models.Index(fields=["site", "hostname"]),
            # Enrollment looks a re-enrolling machine up by it, inside its write
            # transaction: without the index a scan of the site's devices.
            models.Index(fields=["site", "machine_id"]),
        ]

    def __str__(self) -> str:
        return self.display_name or self.hostname

    @property
    def status(self) -> Status:
        if self.revoked_at is not None:
            return Status.REVOKED
        if self.last_seen is not None and self.last_seen >= offline_cutoff():
            return Status.ONLINE
        return Status.OFFLINE

    @property
    def name(self) -> str:
        return str(self)


class InstalledSoftware(models.Model):
    tenant_path = "device__organization"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="software")
    name = models.CharField(max_length=255)
    version = models.CharField(max_length=255, blank=True)
    arch = models.CharField(max_length=32, blank=True)
    source = models.CharField(max_length=16)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["device", "name"]), models.Index(fields=["name"])]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class StatusChange(models.Model):
    """A recorded online/offline transition (written by the agent API and the worker)."""

    tenant_path = "device__organization"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(max_length=10)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["device", "-at"])]

    def __str__(self) -> str:
        return f"{self.device_id} {self.status} at {self.at:%Y-%m-%d %H:%M:%S}"


class EnrollmentTokenQuerySet(models.QuerySet["EnrollmentToken"]):
    def usable(self) -> EnrollmentTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now()).filter(
            models.Q(max_uses__isnull=True) | models.Q(uses__lt=models.F("max_uses"))
        )


class EnrollmentToken(models.Model):
    """Lets agents join a site. Only the hash is kept; the secret is shown once."""

    tenant_path = "organization"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="enrollment_tokens"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="enrollment_tokens")
    name = models.CharField(max_length=200)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EnrollmentTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "used up"
        return "active"

    @classmethod
    def issue(
        cls,
        site: Site,
        name: str,
        expires_in: timedelta,
        max_uses: int | None = None,
        created_by=None,
    ) -> tuple[EnrollmentToken, str]:
        secret = tokens.new_secret(tokens.ENROLLMENT_TOKEN_PREFIX)
        token = cls.objects.create(
            organization=site.organization,
            site=site,
            name=name,
            token_hash=tokens.hash_secret(secret),
            prefix=tokens.display_prefix(secret),
            expires_at=timezone.now() + expires_in,
            max_uses=max_uses,
            created_by=created_by,
        )
        return token, secret
