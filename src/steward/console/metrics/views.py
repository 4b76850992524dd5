"""The fleet overview (``/metrics/``): the busiest devices, fullest disks, who is offline.

A fixed number of store reads and database queries whatever the size of the fleet: each
ranking is one PromQL evaluation over every device the viewer may see (``queries``), then
one range evaluation for the sparklines of the rows shown, then one database query for the
names of the devices listed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from steward.console.common import console_view, current_org, in_current_org, principal
from steward.console.metrics import queries
from steward.console.metrics.sparkline import Sparkline, sparkline
from steward.inventory.models import Device, Status
from steward.metrics.store import get_store

TOP = 10
OFFLINE_SHOWN = 15
WARNING, CRITICAL = 85.0, 95.0  # % used/busy, as the agent's default thresholds


@dataclass
class Row:
    device: Device
    value: float
    spark: Sparkline | None
    level: str  # "", "warning", "critical"
    mountpoint: str = ""


def _level(value: float) -> str:
    return "critical" if value >= CRITICAL else "warning" if value >= WARNING else ""


def metrics_org_ids(request: HttpRequest) -> list[int] | None:
    """The organizations whose series the viewer reads: theirs, narrowed by the switcher."""
    org = current_org(request)
    if org is not None:
        return [org.pk]
    return principal(request).organization_ids()


@console_view
def fleet(request: HttpRequest) -> HttpResponse:
    started = time.perf_counter()
    org_ids = metrics_org_ids(request)
    store = get_store()
    now_ms = int(time.time() * 1000)
    sections = {}
    values: dict[str, list[queries.Ranked]] = {}
    for key, template in (
        ("cpu", queries.CPU_BUSY),
        ("memory", queries.MEMORY_USED),
        ("filesystems", queries.FS_USED),
    ):
        values[key] = queries.instant(store, org_ids, template, now_ms)
        sections[key] = queries.top(values[key], TOP)
        queries.attach_history(store, org_ids, template, sections[key], now_ms)
    reporting = len(queries.instant(store, org_ids, queries.REPORTING, now_ms))

    shown_ids = {r.device_id for rows in sections.values() for r in rows}
    devices = in_current_org(request, Device.objects.select_related("site").defer("inventory"))
    by_id = {d.pk: d for d in devices.filter(pk__in=shown_ids)}
    tables = {
        key: [
            Row(
                device=by_id[r.device_id],
                value=r.value,
                spark=sparkline(r.history, 0.0, 100.0),
                level=_level(r.value),
                mountpoint=r.mountpoint,
            )
            for r in rows
            if r.device_id in by_id  # deleted since, or outside the switcher's choice
        ]
        for key, rows in sections.items()
    }
    all_devices = in_current_org(request, Device.objects.all())
    counts = all_devices.status_counts()
    offline = (
        all_devices.with_status(Status.OFFLINE)
        .select_related("site")
        .defer("inventory", "notes")
        .order_by("-last_seen", "hostname")[:OFFLINE_SHOWN]
    )

    def mean(key: str) -> float | None:
        rows = values[key]
        return sum(r.value for r in rows) / len(rows) if rows else None

    return render(
        request,
        "console/metrics/fleet.html",
        {
            "cpu": tables["cpu"],
            "memory": tables["memory"],
            "filesystems": tables["filesystems"],
            "offline": list(offline),
            "counts": counts,
            "reporting": reporting,
            "cpu_mean": mean("cpu"),
            "memory_mean": mean("memory"),
            "full_count": sum(1 for r in values["filesystems"] if r.value >= WARNING),
            "top": TOP,
            "elapsed_ms": (time.perf_counter() - started) * 1000,
        },
    )
