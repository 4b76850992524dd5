"""The device list's filters: one definition used by the API and the console alike."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from django.db.models import F, Q, QuerySet

from steward.inventory.models import Device, Status

STATUSES = tuple(s.value for s in Status)
# Never-seen devices (NULL last_seen) count as the oldest, on SQLite and PostgreSQL alike
# (their default NULL orders differ).
SORTS = {
    "hostname": ("hostname", "id"),
    "-hostname": ("-hostname", "-id"),
    "last_seen": (F("last_seen").asc(nulls_first=True), "id"),
    "-last_seen": (F("last_seen").desc(nulls_last=True), "-id"),
    "os": ("os_name", "os_version", "hostname"),
    "site": ("site__name", "hostname"),
}


@dataclass
class DeviceFilter:
    q: str = ""
    status: str = ""
    organization_id: int | None = None
    site_id: int | None = None
    tag: str = ""
    os: str = ""
    sort: str = "hostname"

    @classmethod
    def from_mapping(cls, data: Any) -> DeviceFilter:
        """Build from query parameters, dropping values that do not parse."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = (data.get(f.name) or "").strip() if hasattr(data, "get") else ""
            if not raw:
                continue
            if f.name in ("organization_id", "site_id"):
                if raw.isdigit():
                    values[f.name] = int(raw)
            else:
                values[f.name] = raw[:200]
        return cls(**values)

    def apply(self, queryset: QuerySet[Device]) -> QuerySet[Device]:
        qs = queryset
        if self.q:
            qs = qs.filter(
                Q(hostname__icontains=self.q)
                | Q(display_name__icontains=self.q)
                | Q(fqdn__icontains=self.q)
                | Q(hw_serial__iexact=self.q)
            )
        if self.status in STATUSES:
            qs = qs.with_status(self.status)  # type: ignore[attr-defined]
        elif not self.status:
            qs = qs.filter(revoked_at__isnull=True)
        if self.organization_id:
            qs = qs.filter(organization_id=self.organization_id)
        if self.site_id:
            qs = qs.filter(site_id=self.site_id)
        if self.tag:
            qs = qs.filter(tags__name=self.tag)
        if self.os:
            qs = qs.filter(Q(os_name__icontains=self.os) | Q(os_family=self.os.lower()))
        return qs.order_by(*SORTS.get(self.sort, SORTS["hostname"]))

    def as_query(self) -> dict[str, str]:
        return {
            f.name: str(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) not in ("", None)
            and not (f.name == "sort" and self.sort == "hostname")
        }
