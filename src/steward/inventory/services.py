"""Enrollment, inventory reports, revocation and device edits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import models, transaction
from django.utils import timezone

from steward.accounts import tokens
from steward.audit import context, registry
from steward.inventory import presence
from steward.inventory.models import Device, EnrollmentToken, InstalledSoftware, Site, Tag


class EnrollmentRejected(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass
class Enrollment:
    device: Device
    credential: str


def _rejection(secret: str) -> EnrollmentRejected:
    token = EnrollmentToken.objects.filter(token_hash=tokens.hash_secret(secret)).first()
    if token is None:
        return EnrollmentRejected("invalid_token", "unknown enrollment token")
    state = token.state
    if state == "revoked":
        return EnrollmentRejected("token_revoked", "this enrollment token has been revoked")
    if state == "expired":
        return EnrollmentRejected("token_expired", "this enrollment token has expired")
    return EnrollmentRejected("token_exhausted", "this enrollment token has no uses left")


def enroll(secret: str, hostname: str, machine_id: str, agent_version: str) -> Enrollment:
    """Exchange an enrollment token for a device credential (shown once, stored hashed)."""
    token_hash = tokens.hash_secret(secret)
    credential = tokens.new_secret(tokens.DEVICE_CREDENTIAL_PREFIX)
    with transaction.atomic():
        # Count the use with a conditional update: two agents racing for the last use of
        # a token cannot both win.
        used = (
            EnrollmentToken.objects.usable()
            .filter(token_hash=token_hash)
            .update(uses=models.F("uses") + 1)
        )
        if used != 1:
            raise _rejection(secret)
        token = EnrollmentToken.objects.select_related("site", "organization").get(
            token_hash=token_hash
        )
        with context.acting_as(label=f"enrollment token {token.prefix}…", source="agent"):
            device = _existing_device(token.site, machine_id)
            if device is None:
                device = Device.objects.create(
                    organization=token.organization,
                    site=token.site,
                    hostname=hostname,
                    machine_id=machine_id,
                    agent_version=agent_version,
                    credential_hash=tokens.hash_secret(credential),
                )
            else:
                device.credential_hash = tokens.hash_secret(credential)
                device.hostname = hostname
                device.agent_version = agent_version
                device.save()
                registry.write(device, "re-enroll", {})
    return Enrollment(device=device, credential=credential)


def _existing_device(site: Site, machine_id: str) -> Device | None:
    if not machine_id:
        return None
    # Oldest first, not the model's hostname order: sorting by host name made SQLite
    # walk the (site, hostname) index, reading every device of the site.
    found = Device.objects.filter(site=site, machine_id=machine_id, revoked_at__isnull=True)
    return found.order_by("pk").first()


def authenticate_device(credential: str, fields: Sequence[str] = ()) -> Device | None:
    """The device a credential belongs to (revoked devices included: callers decide).

    With ``fields``, only those columns are read (others load on first access): a
    heartbeat needs a few, and whole rows (the inventory JSON, the organization and site
    joined) were a tenth of a busy server's time with 1,000 devices heartbeating.
    """
    if not credential.startswith(tokens.DEVICE_CREDENTIAL_PREFIX):
        return None
    devices = Device.objects.filter(credential_hash=tokens.hash_secret(credential))
    if fields:
        return devices.only(*fields).first()
    return devices.select_related("organization", "site").first()


def _text(value: object, limit: int) -> str:
    return "" if value is None else str(value)[:limit]


def apply_inventory(device: Device, report: dict, software: list[dict]) -> None:
    """Store a validated inventory report: the device's fields, its software list, the JSON."""
    os_info = report.get("os") or {}
    cpu = report.get("cpu") or {}
    hardware = report.get("hardware") or {}
    memory = report.get("memory") or {}
    boot_time: datetime | None = report.get("boot_time")
    with transaction.atomic():
        device.hostname = _text(report["hostname"], 255)
        device.fqdn = _text(report.get("fqdn"), 255)
        device.agent_version = _text(report.get("agent_version"), 32)
        device.os_family = _text(os_info.get("family"), 16)
        device.os_name = _text(os_info.get("name"), 128)
        device.os_version = _text(os_info.get("version"), 64)
        device.kernel = _text(os_info.get("kernel"), 128)
        device.arch = _text(os_info.get("arch"), 32)
        device.cpu_model = _text(cpu.get("model"), 255)
        device.cpu_cores = cpu.get("physical_cores")
        device.cpu_threads = cpu.get("logical_cores")
        device.memory_bytes = memory.get("total_bytes")
        device.hw_vendor = _text(hardware.get("vendor"), 128)
        device.hw_model = _text(hardware.get("model"), 128)
        device.hw_serial = _text(hardware.get("serial"), 128)
        device.boot_time = boot_time
        device.last_inventory_at = timezone.now()
        device.inventory = {
            key: report.get(key)
            for key in (
                "os",
                "cpu",
                "memory",
                "disks",
                "partitions",
                "network",
                "hardware",
                "users",
            )
        }
        device.save()
        InstalledSoftware.objects.filter(device=device).delete()
        InstalledSoftware.objects.bulk_create(
            [
                InstalledSoftware(
                    device=device,
                    name=item["name"],
                    version=item["version"] or "",
                    arch=item.get("arch") or "",
                    source=item["source"],
                )
                for item in software
            ],
            batch_size=1000,
        )
    presence.record_contact(device)


def revoke(device: Device) -> None:
    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device.save()


def set_tags(device: Device, names: list[str]) -> None:
    wanted = sorted({name.strip() for name in names if name.strip()})
    tags = [
        Tag.objects.get_or_create(organization_id=device.organization_id, name=name)[0]
        for name in wanted
    ]
    current = set(device.tags.all())
    to_remove = [tag for tag in current if tag not in tags]
    to_add = [tag for tag in tags if tag not in current]
    if to_remove:
        device.tags.remove(*to_remove)
    if to_add:
        device.tags.add(*to_add)
