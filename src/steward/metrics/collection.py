"""How often agents collect metrics: per organization, site or device (``MetricsSettings``).

The most specific scope with a value wins: the device's own, else its site's, else its
organization's, else the server's ``metrics_interval`` (10 s). The agent learns the
result from the answer to each metrics batch (``interval``), so a change reaches it within
one collection round. One scope row holds at most one value; setting ``None`` deletes
the row (the scope inherits again). Every change is audited with the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from steward.metrics import ingest
from steward.metrics.models import MAX_INTERVAL, MIN_INTERVAL, MetricsSettings

DEFAULT_SOURCE = "server default"


@dataclass(frozen=True)
class Scope:
    """Exactly one of organization (both ids None), site or device."""

    organization_id: int
    site_id: int | None = None
    device_id: int | None = None
    device_site_id: int | None = None  # a device scope: its site, whose value it inherits

    @property
    def kind(self) -> str:
        if self.device_id is not None:
            return "device"
        return "site" if self.site_id is not None else "organization"


@dataclass(frozen=True)
class Interval:
    own: int | None  # this scope's own value (None: it inherits)
    effective: int  # what an agent in this scope is told
    source: str  # "device", "site", "organization" or DEFAULT_SOURCE


def effective(most_specific_first: Iterable[int | None]) -> int:
    """The first value set (device, site, organization), else the server default."""
    for seconds in most_specific_first:
        if seconds is not None:
            return int(seconds)
    return int(ingest.option("metrics_interval"))


def interval_for(scope: Scope) -> Interval:
    """The scope's own value and the one in effect there, with the scope it comes from."""
    by_kind: dict[str, int] = {}
    rows = MetricsSettings.objects.filter(
        organization_id=scope.organization_id, metrics_interval__isnull=False
    ).values_list("device_id", "site_id", "metrics_interval")
    site = scope.site_id if scope.device_id is None else scope.device_site_id
    for device_id, site_id, value in rows:
        if device_id is not None:
            if device_id == scope.device_id:
                by_kind["device"] = value
        elif site_id is not None:
            if site_id == site:
                by_kind["site"] = value
        else:
            by_kind["organization"] = value
    chain = {"device": ("device", "site", "organization"), "site": ("site", "organization")}
    kinds = chain.get(scope.kind, ("organization",))
    source = next((kind for kind in kinds if kind in by_kind), DEFAULT_SOURCE)
    return Interval(by_kind.get(scope.kind), effective(map(by_kind.get, kinds)), source)


def set_interval(scope: Scope, seconds: int | None) -> None:
    """Give the scope its own interval, or ``None`` to inherit again."""
    if seconds is not None and not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise ValueError(f"interval: expected seconds between {MIN_INTERVAL} and {MAX_INTERVAL}")
    match = {
        "organization_id": scope.organization_id,
        "site_id": scope.site_id,
        "device_id": scope.device_id,
    }
    row = MetricsSettings.objects.filter(**match).first()
    if seconds is None:
        if row is not None:
            row.delete()
        return
    if row is None:
        MetricsSettings.objects.create(**match, metrics_interval=seconds)
    elif row.metrics_interval != seconds:
        row.metrics_interval = seconds
        row.save()
