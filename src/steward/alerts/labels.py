"""The labels every engine input carries (docs/alerting-core.md, "Labels contract").

``organization`` (slug), ``site`` (name), ``device`` (host name), ``tags`` (",a,b,") and
``groups``. Devices are looked up through a per-organization cache refreshed every
``TTL_S`` seconds (two queries: the devices' few columns, their tags), so 1,000 reporting
devices cost a dict lookup each, not a query each. A site move or a new tag shows within
``TTL_S``. A device the cache does not know yet (enrolled since the last load) is loaded
alone and added: reloading the whole organization for each one made the enrollment of a
1,000-device fleet quadratic (each new device's first contact read every device).
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


def _devices(organization_id: int, **filters: object) -> list[DeviceInfo]:
    from steward.inventory.models import Device
    from steward.tenancy.models import Organization

    slug = Organization.objects.filter(pk=organization_id).values_list("slug", flat=True).first()
    rows = Device.objects.filter(organization_id=organization_id, **filters).values_list(
        "pk", "site_id", "hostname", "site__name"
    )
    tags: dict[int, list[str]] = {}
    through = Device.tags.through
    pairs = through.objects.filter(
        device__organization_id=organization_id, **{f"device__{k}": v for k, v in filters.items()}
    ).values_list("device_id", "tag__name")
    for device_id, name in pairs:
        tags.setdefault(device_id, []).append(name)
    out = []
    for pk, site_id, hostname, site_name in rows:
        names = sorted(tags.get(pk, ()))
        labels = {
            "organization": slug or "",
            "site": site_name,
            "device": hostname,
            "tags": "," + ",".join(names) + "," if names else "",
        }
        out.append(DeviceInfo(pk, organization_id, site_id, hostname, labels))
    return out


def _load(organization_id: int) -> tuple[dict[int, DeviceInfo], dict[str, DeviceInfo]]:
    by_id: dict[int, DeviceInfo] = {}
    by_name: dict[str, DeviceInfo] = {}
    for info in _devices(organization_id):
        by_id[info.id] = info
        by_name.setdefault(info.hostname, info)
    return by_id, by_name


def _entry(organization_id: int, device_id: int | None = None):
    now = time.monotonic()
    with _lock:
        hit = _cache.get(organization_id)
    if hit is None or now - hit[0] > TTL_S:
        by_id, by_name = _load(organization_id)
        hit = (now, by_id, by_name)
        with _lock:
            _cache[organization_id] = hit
    elif device_id is not None and device_id not in hit[1]:
        # New since the last load: add it alone (copies, so readers never see a dict
        # change under them; the entry keeps its load time).
        found = _devices(organization_id, pk=device_id)
        if found:
            by_id, by_name = dict(hit[1]), dict(hit[2])
            by_id[device_id] = found[0]
            by_name.setdefault(found[0].hostname, found[0])
            hit = (hit[0], by_id, by_name)
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
