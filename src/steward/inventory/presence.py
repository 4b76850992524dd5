"""Online/offline: derived from last contact, with transitions recorded as rows.

The agent API marks a device online on contact; the worker marks devices offline when they
fall silent. Each transition is written once, with a conditional update on
``recorded_status`` so concurrent heartbeats and workers cannot record it twice.
"""

from __future__ import annotations

import time

from django.db import transaction
from django.utils import timezone

from steward.inventory.models import Device, Status, StatusChange, offline_cutoff

REPORT_INTERVAL = 30.0  # seconds between contact reports to the alert engine, per device
_reported: dict[int, float] = {}


def on_device_contact(device: Device) -> None:
    """Tell the alert engine (imported late: alerts depends on inventory, not the reverse)."""
    from steward.alerts.hooks import on_device_contact as hook

    hook(device)


def on_devices_offline(pks: list[int]) -> None:
    """Tell the alert engine these devices were recorded offline (one round per
    organization; imported late as above)."""
    from steward.alerts.hooks import on_devices_offline as hook

    hook(pks)


def record_contact(device: Device) -> None:
    now = timezone.now()
    # The usual case, a device recorded online: one conditional update, no transaction
    # around it (heartbeats are the most frequent request; BEGIN, two updates and COMMIT
    # on SQLite's one write lock cost about twice as much). A device recorded offline, or
    # marked so meanwhile, fails the condition and takes the transition path.
    came_online = 0
    if not Device.objects.filter(pk=device.pk, recorded_status=Status.ONLINE).update(last_seen=now):
        # One update of both columns; none when a concurrent heartbeat brought the device
        # online first (its ``last_seen`` is milliseconds from ours).
        with transaction.atomic():
            came_online = (
                Device.objects.filter(pk=device.pk)
                .exclude(recorded_status=Status.ONLINE)
                .update(last_seen=now, recorded_status=Status.ONLINE)
            )
            if came_online:
                StatusChange.objects.create(device=device, status=Status.ONLINE, at=now)
    device.last_seen = now
    # The alert engine needs contact often enough to judge "offline for 2 minutes", not
    # every 10 s heartbeat of every device: at most one report per device per interval.
    last = _reported.get(device.pk)
    moment = time.monotonic()
    if came_online or last is None or moment - last >= REPORT_INTERVAL:
        _reported[device.pk] = moment
        on_device_contact(device)


def record_offline_devices() -> int:
    """Record an offline transition for every device that has gone silent."""
    cutoff = offline_cutoff()
    silent = list(
        Device.objects.active()
        .filter(recorded_status=Status.ONLINE, last_seen__lt=cutoff)
        .values_list("pk", flat=True)
    )
    recorded: list[int] = []
    for pk in silent:
        with transaction.atomic():
            changed = Device.objects.filter(
                pk=pk, recorded_status=Status.ONLINE, last_seen__lt=cutoff
            ).update(recorded_status=Status.OFFLINE)
            if changed:
                StatusChange.objects.create(device_id=pk, status=Status.OFFLINE)
                recorded.append(pk)
    # One engine round for all of them: a round per device rewrote the organization's
    # whole alert state each time (a site of 250 devices losing its link: 250 rounds of
    # a 2 MB state, the worker busy for minutes and heartbeats answered late).
    if recorded:
        transaction.on_commit(lambda: on_devices_offline(recorded))
    return len(recorded)
