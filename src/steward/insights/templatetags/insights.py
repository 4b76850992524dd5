"""``{% load insights %}{% device_forecasts device %}``: the device page's Forecasts panel.

The device was fetched by the page's view through ``tenancy.scoping``; its forecasts
belong to it, so no further scoping is needed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from steward.insights import services
from steward.intel import ForecastStatus

register = template.Library()
SOON_S = 7 * 86_400  # a crossing within a week is shown as a warning
URGENT_S = 86_400


@dataclass
class ForecastRow:
    what: str
    headline: str
    reason: str
    level: str  # "", "warning", "critical"
    status: str
    computed_at: Any


def _level(status: str, seconds: float | None) -> str:
    if status == ForecastStatus.ALREADY_CROSSED:
        return "critical"
    if status == ForecastStatus.CROSSING and seconds is not None:
        return "critical" if seconds <= URGENT_S else "warning" if seconds <= SOON_S else ""
    return ""


@register.inclusion_tag("console/metrics/device_forecasts.html")
def device_forecasts(device: Any) -> dict[str, Any]:
    rows = []
    for f in services.forecasts_of(device.pk):
        rows.append(
            ForecastRow(
                what=f.what,
                headline=f.headline,
                reason=f.reason,
                level=_level(f.status, f.seconds),
                status=f.status,
                computed_at=f.computed_at,
            )
        )
    return {"forecasts": rows, "device": device}


@dataclass
class DiskRow:
    disk: str
    ident: str
    level: str
    css: str  # status class: online (ok), warning (watch/warning), offline (critical)
    reasons: list[str]


_DISK_CSS = {"ok": "online", "watch": "warning", "warning": "warning", "critical": "offline"}


@register.inclusion_tag("console/metrics/device_disks.html")
def device_disks(device: Any) -> dict[str, Any]:
    """The Disk health panel: each disk's SMART level and reasons, scored now."""
    from steward.insights import disk_health
    from steward.metrics.store import get_store

    verdicts = disk_health.assess_device(get_store(), device.organization_id, device.pk)
    rows = [
        DiskRow(
            disk=v.disk,
            ident=", ".join(p for p in (v.health.model, v.health.serial) if p),
            level=v.health.level.value,
            css=_DISK_CSS.get(v.health.level.value, ""),
            reasons=v.health.reasons,
        )
        for v in verdicts
    ]
    return {"disks": rows, "device": device}
