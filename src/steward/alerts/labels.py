"""The labels every engine input carries (docs/alerting-core.md, "Labels contract").

``organization`` (slug), ``site`` (name), ``device`` (host name), ``tags`` (",a,b,") and
``groups``. Devices are looked up through a per-organization cache refreshed every
``TTL_S`` seconds (one query with the tags prefetched), so 1,000 reporting devices cost a
dict lookup each, not a query each. A site move or a new tag shows within ``TTL_S``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

TTL_S = 30.0


@dataclass(frozen=True)
class DeviceInfo:
    id: int
    organization_id: int
    site_id: int
    hostname: str
    labels: dict[str, str]


_lock = threading.Lock()
_cache: dict[int, tuple[float, dict[int, DeviceInfo], dict[str, DeviceInfo]]] = {}


def _load(organization_id: int) -> tuple[dict[int, DeviceInfo], dict[str, DeviceInfo]]:
    from steward.inventory.models import Device
    from steward.tenancy.models import Organization

    slug = Organization.objects.filter(pk=organization_id).values_list("slug", flat=True).first()
    by_id: dict[int, DeviceInfo] = {}
    by_name: dict[str, DeviceInfo] = {}
    devices = (
        Device.objects.filter(organization_id=organization_id)
        .select_related("site")
        .prefetch_related("tags")
    )
    for d in devices:
        tags = sorted(t.name for t in d.tags.all())
        info = DeviceInfo(
            d.pk,
            organization_id,
            d.site_id,
            d.hostname,
            {
                "organization": slug or "",
                "site": d.site.name,
                "device": d.hostname,
                "tags": "," + ",".join(tags) + "," if tags else "",
            },
        )
        by_id[d.pk] = info
        by_name.setdefault(d.hostname, info)
    return by_id, by_name


def _entry(organization_id: int, device_id: int | None = None):
    now = time.monotonic()
    with _lock:
        hit = _cache.get(organization_id)
    stale = hit is None or now - hit[0] > TTL_S
    if not stale and device_id is not None and device_id not in hit[1]:  # type: ignore[index]
        stale = True  # a device enrolled since the last load
    if stale:
        by_id, by_name = _load(organization_id)
        hit = (now, by_id, by_name)
        with _lock:
            _cache[organization_id] = hit
    return hit


def device(organization_id: int, device_id: int) -> DeviceInfo | None:
    return _entry(organization_id, device_id)[1].get(device_id)


def by_hostname(organization_id: int, hostname: str) -> DeviceInfo | None:
    return _entry(organization_id)[2].get(hostname)


_slugs: dict[int, str] = {}


def organization_labels(organization_id: int) -> dict[str, str]:
    slug = _slugs.get(organization_id)
    if slug is None:
        from steward.tenancy.models import Organization

        found = Organization.objects.filter(pk=organization_id).values_list("slug", flat=True)
        slug = _slugs[organization_id] = found.first() or ""
    return {"organization": slug}


def forget() -> None:
    with _lock:
        _cache.clear()
        _slugs.clear()
