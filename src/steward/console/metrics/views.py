"""The fleet overview (``/metrics/``): the busiest devices, fullest disks, who is offline.

A fixed number of store reads and database queries whatever the size of the fleet: each
ranking is one PromQL evaluation over every device the viewer may see (``queries``), then
one range evaluation for the sparklines of the rows shown, then one database query for the
names of the devices listed. The store's part is kept for ``queries.CACHE_SECONDS`` per
scope of organizations (``queries.cached_snapshot``); the database part (names, device
counts, the offline list) is read on every load. While a scope's first snapshot is being
computed (seconds on a large, busy fleet) the page shows the database part, says the
rankings are being gathered and reloads itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from steward.console.common import console_view, current_org, in_current_org, principal
from steward.console.metrics import queries
from steward.console.metrics.sparkline import Sparkline, sparkline
from steward.inventory.models import Device, Status
from steward.metrics.store import get_store

TOP = 10
# While the first snapshot of a scope is computed the page reloads itself this often.
GATHERING_RELOAD_SECONDS = 3
OFFLINE_SHOWN = 15
WARNING, CRITICAL = queries.WARNING, queries.CRITICAL


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


def now_ms() -> int:
    """The page's clock (tests move it past the cache's lifetime)."""
    return int(time.time() * 1000)


@console_view
def fleet(request: HttpRequest) -> HttpResponse:
    started = time.perf_counter()
    org_ids = metrics_org_ids(request)
    snap, cached = queries.cached_snapshot(get_store(), org_ids, now_ms(), TOP)
    sections = snap.sections if snap is not None else {k: [] for k, _ in queries.RANKINGS}

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

    return render(
        request,
        "console/metrics/fleet.html",
        {
            "cpu": tables["cpu"],
            "memory": tables["memory"],
            "filesystems": tables["filesystems"],
            "offline": list(offline),
            "counts": counts,
            "gathering": snap is None,
            "reload_seconds": GATHERING_RELOAD_SECONDS,
            "reporting": snap.reporting if snap else None,
            "cpu_mean": snap.means["cpu"] if snap else None,
            "memory_mean": snap.means["memory"] if snap else None,
            "full_count": snap.full_count if snap else None,
            "top": TOP,
            "cached": cached,
            "as_of": datetime.fromtimestamp(snap.at_ms / 1000, UTC) if snap else None,
            "compute_ms": snap.compute_ms if snap else None,
            "cache_seconds": queries.CACHE_SECONDS,
            "elapsed_ms": (time.perf_counter() - started) * 1000,
        },
    )
