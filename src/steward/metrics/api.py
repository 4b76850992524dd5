"""API: scrape targets (``/api/v1/scrape-targets``) and the collection interval per scope
(``/api/v1/metrics/collection``). Changing either needs MANAGE."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from steward.api.errors import ApiError
from steward.api.pagination import Page, paginate
from steward.inventory.models import Device
from steward.metrics import collection
from steward.metrics.collection import Scope
from steward.metrics.models import MAX_INTERVAL, MIN_INTERVAL, ScrapeTarget
from steward.tenancy.models import Site
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Principal, get_for, scoped

router = Router(tags=["metrics"])

JOB_PATTERN = r"^[a-zA-Z0-9_.:-]+$"


class ScrapeTargetOut(Schema):
    id: int
    organization_id: int
    device_id: int | None
    scraper_id: int | None = Field(
        description="the device whose agent scrapes this target; null: the server does"
    )
    job: str
    url: str
    interval_seconds: int
    timeout_seconds: int
    enabled: bool
    next_scrape_at: datetime
    last_scrape_at: datetime | None
    last_error: str
    last_duration: float | None
    last_samples: int | None
    created_at: datetime

    @staticmethod
    def of(target: ScrapeTarget) -> ScrapeTargetOut:
        return ScrapeTargetOut.model_validate(target, from_attributes=True)


class ScrapeTargetIn(Schema):
    organization_id: int
    device_id: int | None = None
    scraper_id: int | None = Field(
        None, description="a device whose agent scrapes it (a target inside its network)"
    )
    job: str = Field("scrape", min_length=1, max_length=100, pattern=JOB_PATTERN)
    url: str = Field(min_length=1, max_length=2000)
    interval_seconds: int = Field(30, ge=5, le=3600)
    timeout_seconds: int = Field(10, ge=1, le=60)
    enabled: bool = True


class ScrapeTargetPatch(Schema):
    device_id: int | None = None
    scraper_id: int | None = None
    job: str | None = Field(None, min_length=1, max_length=100, pattern=JOB_PATTERN)
    url: str | None = Field(None, min_length=1, max_length=2000)
    interval_seconds: int | None = Field(None, ge=5, le=3600)
    timeout_seconds: int | None = Field(None, ge=1, le=60)
    enabled: bool | None = None


class ScrapeTargetFilter(Schema):
    organization_id: int | None = None
    device_id: int | None = None
    enabled: bool | None = None
    limit: int = 100
    offset: int = 0


def _check_url(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError as exc:  # "http://[::1/x", "http://h:99999/": the caller's error
        raise ApiError(422, "invalid_request", f"url: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(422, "invalid_request", "url: expected an http:// or https:// URL")
    if parts.username or parts.password:
        # Credentials in the URL would be shown to every viewer of the target.
        raise ApiError(422, "invalid_request", "url: must not contain credentials")
    return url.strip()


def _device_in(
    principal: Principal, organization_id: int, device_id: int | None, field: str = "device_id"
) -> Device | None:
    if device_id is None:
        return None
    device = (
        scoped(Device.objects.all(), principal)
        .filter(pk=device_id, organization_id=organization_id)
        .first()
    )
    if device is None:
        raise ApiError(422, "invalid_request", f"{field}: no such device in this organization")
    return device


def _scraper_in(principal: Principal, organization_id: int, device_id: int | None) -> Device | None:
    """The device whose agent is to scrape a target: of the target's organization, not
    revoked (its agent no longer talks to the server)."""
    device = _device_in(principal, organization_id, device_id, "scraper_id")
    if device is not None and device.revoked_at is not None:
        raise ApiError(422, "invalid_request", "scraper_id: this device is revoked")
    return device


def _check_timing(target: ScrapeTarget) -> None:
    if target.timeout_seconds > target.interval_seconds:
        raise ApiError(422, "invalid_request", "timeout_seconds: must not exceed interval_seconds")


def _queryset():
    return ScrapeTarget.objects.select_related("organization")


@router.get("/scrape-targets", response=Page[ScrapeTargetOut])
def list_scrape_targets(request, filters: Query[ScrapeTargetFilter]):
    qs = scoped(_queryset(), request.auth)
    if filters.organization_id is not None:
        qs = qs.filter(organization_id=filters.organization_id)
    if filters.device_id is not None:
        qs = qs.filter(device_id=filters.device_id)
    if filters.enabled is not None:
        qs = qs.filter(enabled=filters.enabled)
    return paginate(qs, filters.limit, filters.offset, ScrapeTargetOut.of)


@router.post("/scrape-targets", response={201: ScrapeTargetOut})
def create_scrape_target(request, body: ScrapeTargetIn):
    principal: Principal = request.auth
    principal.require(Capability.MANAGE, body.organization_id)
    device = _device_in(principal, body.organization_id, body.device_id)
    scraper = _scraper_in(principal, body.organization_id, body.scraper_id)
    target = ScrapeTarget(
        organization_id=body.organization_id,
        device=device,
        scraper=scraper,
        job=body.job,
        url=_check_url(body.url),
        interval_seconds=body.interval_seconds,
        timeout_seconds=body.timeout_seconds,
        enabled=body.enabled,
        next_scrape_at=timezone.now(),
    )
    _check_timing(target)
    target.save()
    return Status(201, ScrapeTargetOut.of(target))


@router.get("/scrape-targets/{target_id}", response=ScrapeTargetOut)
def get_scrape_target(request, target_id: int):
    return ScrapeTargetOut.of(get_for(_queryset(), request.auth, pk=target_id))


@router.patch("/scrape-targets/{target_id}", response=ScrapeTargetOut)
def update_scrape_target(request, target_id: int, body: ScrapeTargetPatch):
    principal: Principal = request.auth
    target = get_for(_queryset(), principal, Capability.MANAGE, pk=target_id)
    changes = body.model_dump(exclude_unset=True)
    if "device_id" in changes:
        target.device = _device_in(principal, target.organization_id, changes.pop("device_id"))
    if "scraper_id" in changes:
        target.scraper = _scraper_in(principal, target.organization_id, changes.pop("scraper_id"))
        target.next_scrape_at = timezone.now()
    if "url" in changes:
        target.url = _check_url(changes.pop("url"))
    for name, value in changes.items():
        if value is None:
            raise ApiError(422, "invalid_request", f"{name}: must not be null")
        setattr(target, name, value)
    _check_timing(target)
    if "interval_seconds" in changes or changes.get("enabled"):
        target.next_scrape_at = timezone.now()
    target.save()
    return ScrapeTargetOut.of(target)


@router.delete("/scrape-targets/{target_id}", response={204: None})
def delete_scrape_target(request, target_id: int):
    target = get_for(_queryset(), request.auth, Capability.MANAGE, pk=target_id)
    target.delete()
    return Status(204, None)


# --- collection interval per organization, site or device ---------------------------------


class CollectionScopeQuery(Schema):
    organization_id: int | None = None
    site_id: int | None = None
    device_id: int | None = None


class CollectionIn(CollectionScopeQuery):
    interval: int | None = Field(
        ..., ge=MIN_INTERVAL, le=MAX_INTERVAL, description="seconds; null: inherit"
    )


class CollectionOut(Schema):
    organization_id: int
    site_id: int | None
    device_id: int | None
    interval: int | None = Field(description="this scope's own value; null: it inherits")
    effective: int = Field(description="the interval agents in this scope are told")
    source: str = Field(description="device, site, organization or server default")


def _scope(principal: Principal, query: CollectionScopeQuery, capability: Capability) -> Scope:
    given = [name for name in ("organization_id", "site_id", "device_id") if getattr(query, name)]
    if len(given) != 1:
        raise ApiError(
            422, "invalid_request", "give exactly one of organization_id, site_id, device_id"
        )
    if query.device_id:
        device = get_for(Device.objects, principal, capability, pk=query.device_id)
        return Scope(device.organization_id, device_id=device.pk, device_site_id=device.site_id)
    if query.site_id:
        site = get_for(Site.objects, principal, capability, pk=query.site_id)
        return Scope(site.organization_id, site_id=site.pk)
    organization_id = int(query.organization_id or 0)  # the one given, by the check above
    principal.require(capability, organization_id)
    return Scope(organization_id)


def _collection_out(scope: Scope) -> CollectionOut:
    found = collection.interval_for(scope)
    return CollectionOut(
        organization_id=scope.organization_id,
        site_id=scope.site_id,
        device_id=scope.device_id,
        interval=found.own,
        effective=found.effective,
        source=found.source,
    )


@router.get("/metrics/collection", response=CollectionOut)
def get_collection(request, query: Query[CollectionScopeQuery]):
    """How often agents collect metrics in one scope (exactly one of the three ids)."""
    return _collection_out(_scope(request.auth, query, Capability.VIEW))


@router.put("/metrics/collection", response=CollectionOut)
def set_collection(request, body: CollectionIn):
    """Set a scope's own interval (``null``: inherit from the wider scope). Needs MANAGE."""
    scope = _scope(request.auth, body, Capability.MANAGE)
    collection.set_interval(scope, body.interval)
    return _collection_out(scope)
