"""API: devices, installed software, tags, enrollment tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from ninja import Field, Query, Router, Schema, Status

from steward.alerts import problems
from steward.api.errors import bad_request
from steward.api.pagination import Page, paginate
from steward.inventory import services
from steward.inventory.filters import DeviceFilter
from steward.inventory.models import (
    Device,
    EnrollmentToken,
    InstalledSoftware,
    Site,
    StatusChange,
    Tag,
)
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import get_for, scoped

router = Router(tags=["inventory"])


class DeviceOut(Schema):
    id: int
    hostname: str
    name: str
    status: str
    last_seen: datetime | None
    organization_id: int
    organization: str
    site_id: int
    site: str
    tags: list[str]
    os_family: str
    os_name: str
    os_version: str
    kernel: str
    arch: str
    agent_version: str
    enrolled_at: datetime
    revoked_at: datetime | None
    firing_alerts: int = Field(
        0, description="Alerts on the Firing tab: pending, firing or flapping"
    )
    alert_severity: str = Field(
        "", description="The most severe firing alert's severity; empty when none fires"
    )
    failing_checks: int = Field(0, description="Enabled checks in a hard critical or warning state")

    @staticmethod
    def of(device: Device, found: problems.Problems = problems.NONE) -> DeviceOut:
        return DeviceOut(
            id=device.pk,
            hostname=device.hostname,
            name=device.name,
            status=device.status.value,
            last_seen=device.last_seen,
            organization_id=device.organization_id,
            organization=device.organization.name,
            site_id=device.site_id,
            site=device.site.name,
            tags=[t.name for t in device.tags.all()],
            os_family=device.os_family,
            os_name=device.os_name,
            os_version=device.os_version,
            kernel=device.kernel,
            arch=device.arch,
            agent_version=device.agent_version,
            enrolled_at=device.enrolled_at,
            revoked_at=device.revoked_at,
            firing_alerts=found.firing,
            alert_severity=found.severity,
            failing_checks=found.failing_checks,
        )


class DeviceDetailOut(DeviceOut):
    fqdn: str
    display_name: str
    notes: str
    cpu_model: str
    cpu_cores: int | None
    cpu_threads: int | None
    memory_bytes: int | None
    hw_vendor: str
    hw_model: str
    hw_serial: str
    boot_time: datetime | None
    last_inventory_at: datetime | None
    inventory: dict[str, Any]

    @staticmethod
    def of(device: Device) -> DeviceDetailOut:  # type: ignore[override]
        found = problems.for_devices([device.pk]).get(device.pk, problems.NONE)
        base = DeviceOut.of(device, found).dict()
        return DeviceDetailOut(
            **base,
            fqdn=device.fqdn,
            display_name=device.display_name,
            notes=device.notes,
            cpu_model=device.cpu_model,
            cpu_cores=device.cpu_cores,
            cpu_threads=device.cpu_threads,
            memory_bytes=device.memory_bytes,
            hw_vendor=device.hw_vendor,
            hw_model=device.hw_model,
            hw_serial=device.hw_serial,
            boot_time=device.boot_time,
            last_inventory_at=device.last_inventory_at,
            inventory=device.inventory or {},
        )


class DevicePatch(Schema):
    display_name: str | None = Field(None, max_length=255)
    notes: str | None = Field(None, max_length=10_000)
    site_id: int | None = None
    tags: list[str] | None = Field(None, max_length=100)


class DeviceFilterQuery(Schema):
    q: str = ""
    status: str = ""
    organization_id: int | None = None
    site_id: int | None = None
    tag: str = ""
    os: str = ""
    sort: str = "hostname"
    limit: int = 100
    offset: int = 0


class SoftwareOut(Schema):
    name: str
    version: str
    arch: str
    source: str


class StatusChangeOut(Schema):
    status: str
    at: datetime


class TagOut(Schema):
    id: int
    organization_id: int
    name: str


class EnrollmentTokenOut(Schema):
    id: int
    organization_id: int
    site_id: int
    site: str
    name: str
    prefix: str
    state: str
    expires_at: datetime
    max_uses: int | None
    uses: int
    created_at: datetime

    @staticmethod
    def of(t: EnrollmentToken) -> EnrollmentTokenOut:
        return EnrollmentTokenOut(
            id=t.pk,
            organization_id=t.organization_id,
            site_id=t.site_id,
            site=t.site.name,
            name=t.name,
            prefix=t.prefix,
            state=t.state,
            expires_at=t.expires_at,
            max_uses=t.max_uses,
            uses=t.uses,
            created_at=t.created_at,
        )


class EnrollmentTokenCreated(EnrollmentTokenOut):
    token: str
    enroll_command: str


class EnrollmentTokenIn(Schema):
    site_id: int
    name: str = Field(min_length=1, max_length=200)
    expires_in_hours: int = Field(24, ge=1, le=24 * 365)
    max_uses: int | None = Field(None, ge=1, le=1_000_000)


def device_queryset():
    return Device.objects.select_related("organization", "site").prefetch_related("tags")


@router.get("/devices", response=Page[DeviceOut])
def list_devices(request, filters: Query[DeviceFilterQuery]):
    data = filters.dict()
    limit, offset = data.pop("limit"), data.pop("offset")
    qs = DeviceFilter(**data).apply(scoped(device_queryset(), request.auth))
    page = paginate(qs, limit, offset, lambda device: device)
    found = problems.for_devices([device.pk for device in page["items"]])
    page["items"] = [DeviceOut.of(d, found.get(d.pk, problems.NONE)) for d in page["items"]]
    return page


@router.get("/devices/{device_id}", response=DeviceDetailOut)
def get_device(request, device_id: int):
    return DeviceDetailOut.of(get_for(device_queryset(), request.auth, pk=device_id))


@router.patch("/devices/{device_id}", response=DeviceDetailOut)
def update_device(request, device_id: int, body: DevicePatch):
    device = get_for(device_queryset(), request.auth, Capability.OPERATE, pk=device_id)
    changes = body.dict(exclude_unset=True)
    if changes.get("site_id") is not None:
        site = get_for(Site.objects, request.auth, Capability.OPERATE, pk=changes["site_id"])
        if site.organization_id != device.organization_id:
            raise bad_request("a device can only move to a site of its own organization")
        device.site = site
    for field in ("display_name", "notes"):
        if changes.get(field) is not None:
            setattr(device, field, changes[field])
    device.save()
    if changes.get("tags") is not None:
        if any(len(name) > 64 for name in changes["tags"]):
            raise bad_request("tags: a tag has at most 64 characters")
        services.set_tags(device, changes["tags"])
    return DeviceDetailOut.of(get_for(device_queryset(), request.auth, pk=device_id))


@router.delete("/devices/{device_id}", response={204: None})
def delete_device(request, device_id: int):
    get_for(Device.objects, request.auth, Capability.MANAGE, pk=device_id).delete()
    return Status(204, None)


@router.post("/devices/{device_id}/revoke", response=DeviceDetailOut)
def revoke_device(request, device_id: int):
    device = get_for(device_queryset(), request.auth, Capability.OPERATE, pk=device_id)
    services.revoke(device)
    return DeviceDetailOut.of(device)


@router.get("/devices/{device_id}/software", response=Page[SoftwareOut])
def device_software(request, device_id: int, q: str = "", limit: int = 500, offset: int = 0):
    device = get_for(Device.objects, request.auth, pk=device_id)
    qs = InstalledSoftware.objects.filter(device=device)
    if q:
        qs = qs.filter(name__icontains=q)
    return paginate(
        qs,
        limit,
        offset,
        lambda s: SoftwareOut(name=s.name, version=s.version, arch=s.arch, source=s.source),
    )


@router.get("/devices/{device_id}/status-changes", response=Page[StatusChangeOut])
def device_status_changes(request, device_id: int, limit: int = 100, offset: int = 0):
    device = get_for(Device.objects, request.auth, pk=device_id)
    qs = StatusChange.objects.filter(device=device)
    return paginate(qs, limit, offset, lambda c: StatusChangeOut(status=c.status, at=c.at))


@router.get("/tags", response=Page[TagOut])
def list_tags(request, organization_id: int | None = None, limit: int = 500, offset: int = 0):
    qs = scoped(Tag.objects.all(), request.auth)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return paginate(
        qs, limit, offset, lambda t: TagOut(id=t.pk, name=t.name, organization_id=t.organization_id)
    )


@router.get("/enrollment-tokens", response=Page[EnrollmentTokenOut])
def list_enrollment_tokens(request, site_id: int | None = None, limit: int = 100, offset: int = 0):
    qs = scoped(EnrollmentToken.objects.select_related("site"), request.auth, Capability.MANAGE)
    if site_id is not None:
        qs = qs.filter(site_id=site_id)
    return paginate(qs, limit, offset, EnrollmentTokenOut.of)


def enroll_command(secret: str) -> str:
    base = request_base_url()
    return f"steward agent enroll --server {base} --token {secret}"


def request_base_url() -> str:
    from steward.config import Config

    config = Config(home=settings.STEWARD_HOME, values=settings.STEWARD)
    return config.base_url


@router.post("/enrollment-tokens", response={201: EnrollmentTokenCreated})
def create_enrollment_token(request, body: EnrollmentTokenIn):
    site = get_for(Site.objects, request.auth, Capability.MANAGE, pk=body.site_id)
    token, secret = EnrollmentToken.issue(
        site,
        body.name,
        timedelta(hours=body.expires_in_hours),
        body.max_uses,
        created_by=request.auth.user,
    )
    out = EnrollmentTokenOut.of(token).dict()
    return Status(
        201, EnrollmentTokenCreated(**out, token=secret, enroll_command=enroll_command(secret))
    )


@router.delete("/enrollment-tokens/{token_id}", response={204: None})
def revoke_enrollment_token(request, token_id: int):
    from django.utils import timezone

    token = get_for(EnrollmentToken.objects, request.auth, Capability.MANAGE, pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save()
    return Status(204, None)
