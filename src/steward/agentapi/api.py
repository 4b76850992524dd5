"""Agent endpoints: enroll, heartbeat, inventory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status
from ninja.security import HttpBearer

from steward.agentapi.schemas import (
    EnrollIn,
    EnrollOut,
    HeartbeatIn,
    IntervalsOut,
    InventoryIn,
    InventoryOut,
)
from steward.api.errors import ApiError
from steward.audit import context
from steward.inventory import presence, services
from steward.inventory.models import Device
from steward.ops.middleware import client_address

router = Router(tags=["agent"])


class DeviceAuth(HttpBearer):
    """A device credential: it reports for its own device and nothing else.

    ``fields``: read only these columns of the device (``authenticate_device``).
    """

    def __init__(self, fields: Sequence[str] = ()) -> None:
        super().__init__()
        self.fields = tuple(fields)

    def authenticate(self, request: HttpRequest, token: str) -> Device | None:
        device = services.authenticate_device(token, self.fields)
        if device is None:
            raise ApiError(401, "invalid_credential", "unknown device credential")
        if device.revoked_at is not None:
            raise ApiError(
                403, "device_revoked", "this device has been revoked: the agent must stop"
            )
        context.set_actor(
            context.Actor(
                label=f"device:{device.pk}", source="agent", address=client_address(request)
            )
        )
        return device


def _intervals() -> dict:
    return {
        "server_time": timezone.now(),
        "heartbeat_interval": settings.STEWARD["heartbeat_interval"],
        "inventory_interval": settings.STEWARD["inventory_interval"],
    }


def check_clock(sent_at: datetime | None) -> None:
    if sent_at is None:
        return
    skew = abs((timezone.now() - sent_at).total_seconds())
    limit = settings.STEWARD["agent_max_clock_skew"]
    if skew > limit:
        raise ApiError(
            422,
            "clock_skew",
            f"sent_at is {skew:.0f} s away from the server's clock (limit {limit} s): "
            "fix the machine's time (NTP)",
        )


@router.post("/enroll", auth=None, response={201: EnrollOut})
def enroll(request, body: EnrollIn):
    check_clock(body.sent_at)
    try:
        enrollment = services.enroll(body.token, body.hostname, body.machine_id, body.agent_version)
    except services.EnrollmentRejected as exc:
        raise ApiError(401, exc.code, exc.detail) from None
    device = enrollment.device
    presence.record_contact(device)
    return Status(
        201,
        {
            "device_id": device.pk,
            "credential": enrollment.credential,
            "organization": device.organization.name,
            "site": device.site.name,
            **_intervals(),
        },
    )


# What a heartbeat reads of its device (the alert engine's contact report included).
HEARTBEAT_FIELDS = ("id", "organization_id", "agent_version", "revoked_at")


@router.post("/heartbeat", auth=DeviceAuth(HEARTBEAT_FIELDS), response=IntervalsOut)
def heartbeat(request, body: HeartbeatIn):
    check_clock(body.sent_at)
    device: Device = request.auth
    presence.record_contact(device)
    if body.agent_version and body.agent_version != device.agent_version:
        Device.objects.filter(pk=device.pk).update(agent_version=body.agent_version)
    from steward.alerts.agent_api import checks_revision

    return {**_intervals(), "checks_revision": checks_revision(device)}


@router.post("/inventory", auth=DeviceAuth(), response=InventoryOut)
def inventory(request, body: InventoryIn):
    check_clock(body.sent_at)
    device: Device = request.auth
    report = body.model_dump(mode="json", exclude={"software"})
    report["boot_time"] = body.boot_time
    software = [item.model_dump() for item in body.software]
    services.apply_inventory(device, report, software)
    return {"accepted": True, "software_count": len(software)}
