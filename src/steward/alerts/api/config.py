"""CRUD for the monitoring configuration, one table of kinds, one body shape.

``POST /<kind>`` takes ``{"organization_id": N, "spec": {...}}`` and ``PATCH /<kind>/{id}``
``{"spec": {...}}`` where ``spec`` is exactly an item of a monitoring YAML file (see
docs/alerts.md), validated by ``steward.alerts.specs``: one validation for the API and
``steward apply``; errors are ``400 {"detail": "interval: expected a duration like 30s or
5m"}``. Responses are ``{"id", "organization_id", "spec", ...extra}``.

Capabilities: silences need *operate* (technicians silence); everything else *manage*.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from steward.alerts import checklist, runner, specs
from steward.alerts import models as m
from steward.api.errors import bad_request, conflict
from steward.api.pagination import Page, paginate
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import get_for, scoped

router = Router(tags=["alerts"])


class ConfigIn(Schema):
    organization_id: int
    spec: dict[str, Any]


class ConfigPatch(Schema):
    spec: dict[str, Any]


class ConfigOut(Schema):
    id: int
    organization_id: int
    spec: dict[str, Any]
    extra: dict[str, Any] = {}


class ConfigFilter(Schema):
    organization_id: int | None = None
    limit: int = 100
    offset: int = 0


class CheckFilter(ConfigFilter):
    status: str = Field(
        "",
        description="failing (enabled, hard critical or warning, device not revoked), "
        + ", ".join(checklist.STATUSES),
    )


def _narrow_checks(qs: QuerySet, filters: CheckFilter) -> QuerySet:
    if not filters.status:
        return qs
    try:
        return checklist.with_status(qs, filters.status)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def _check_extra(obj: m.CheckDefinition) -> dict[str, Any]:
    status = getattr(obj, "status", None)
    if status is None:
        return {"side": obj.side, "status": "pending"}
    return {
        "side": obj.side,
        "status": status.status,
        "current": status.current,
        "soft": status.soft,
        "attempt": status.attempt,
        "message": status.message,
        "last_run_at": status.last_run_at,
        "last_change_at": status.last_change_at,
        "last_result": status.last_result,
    }


def ping_url(obj: m.HeartbeatCheck) -> str:
    base = settings.STEWARD.get("public_url") or settings.STEWARD.get("base_url") or ""
    return f"{str(base).rstrip('/')}/ping/{obj.slug}"


def _heartbeat_extra(obj: m.HeartbeatCheck) -> dict[str, Any]:
    return {"ping_url": ping_url(obj), "slug": str(obj.slug), "status": obj.status,
            "reason": obj.reason, "message": obj.message,
            "last_ping_at": obj.last_ping_at}  # fmt: skip


def _rule_extra(obj: m.AlertRule) -> dict[str, Any]:
    return {"from_default_pack": obj.from_default_pack, "pack_key": obj.pack_key}


@dataclass(frozen=True)
class Route:
    path: str
    key: str
    model: type
    capability: Capability
    extra: Callable[[Any], dict[str, Any]] | None = None
    related: tuple[str, ...] = ()
    # The list's query parameters, and what the kind's own ones do to the query.
    filters: type[ConfigFilter] = ConfigFilter
    narrow: Callable[[QuerySet, Any], QuerySet] | None = None


ROUTES = (
    Route("/alert-rules", "rules", m.AlertRule, Capability.MANAGE, _rule_extra,
          ("escalation",)),
    Route("/checks", "checks", m.CheckDefinition, Capability.MANAGE, _check_extra,
          ("device", "status"), CheckFilter, _narrow_checks),
    Route("/heartbeats", "heartbeats", m.HeartbeatCheck, Capability.MANAGE, _heartbeat_extra),
    Route("/silences", "silences", m.Silence, Capability.OPERATE),
    Route("/maintenance-windows", "maintenance_windows", m.MaintenanceWindow, Capability.MANAGE),
    Route("/escalation-policies", "escalation_policies", m.EscalationPolicy, Capability.MANAGE),
    Route("/rotations", "rotations", m.Rotation, Capability.MANAGE),
)  # fmt: skip


def _out(route: Route, obj: Any) -> ConfigOut:
    kind = specs.kind(route.key)
    return ConfigOut(
        id=obj.pk,
        organization_id=obj.organization_id,
        spec=kind.export(obj),
        extra=route.extra(obj) if route.extra else {},  # noqa: S610 - a schema field, not QuerySet.extra
    )


def _save(route: Route, org_id: int, item: dict[str, Any], obj: Any = None) -> Any:
    kind = specs.kind(route.key)
    ctx = specs.Context(org_id)
    try:
        with transaction.atomic():
            clean = kind.clean(item, ctx)
            if obj is not None and clean.name != obj.name:
                taken = route.model.objects.filter(organization_id=org_id, name=clean.name)
                if taken.exclude(pk=obj.pk).exists():
                    raise conflict(f"a {route.key.rstrip('s')} named '{clean.name}' exists")
                obj.name = clean.name
                obj.save(update_fields=["name"])
            elif (
                obj is None
                and route.model.objects.filter(organization_id=org_id, name=clean.name)
                .exclude(name="")
                .exists()
            ):
                raise conflict(f"'{clean.name}' exists already in this organization")
            saved, _ = kind.upsert(ctx, clean)
    except specs.Invalid as exc:
        raise bad_request(str(exc)) from None
    except IntegrityError:
        raise conflict("that name is taken in this organization") from None
    return saved


def _register(route: Route) -> None:
    name = route.key

    def queryset():
        return route.model.objects.select_related(*route.related)

    def list_items(request, filters):
        qs = scoped(queryset(), request.auth)
        if filters.organization_id is not None:
            qs = qs.filter(organization_id=filters.organization_id)
        if route.narrow is not None:
            qs = route.narrow(qs, filters)
        return paginate(qs, filters.limit, filters.offset, lambda o: _out(route, o))

    # The kind's own filter schema: set here, as a string annotation cannot name it.
    list_items.__annotations__ = {"filters": Query[route.filters]}
    router.get(route.path, response=Page[ConfigOut], operation_id=f"list_{name}")(list_items)

    @router.post(route.path, response={201: ConfigOut}, operation_id=f"create_{name}")
    def create_item(request, body: ConfigIn):
        org = get_for(Organization.objects, request.auth, route.capability,
                      pk=body.organization_id)  # fmt: skip
        obj = _save(route, org.pk, body.spec)
        return Status(201, _out(route, queryset().get(pk=obj.pk)))

    @router.get(f"{route.path}/{{item_id}}", response=ConfigOut, operation_id=f"get_{name}")
    def get_item(request, item_id: int):
        return _out(route, get_for(queryset(), request.auth, pk=item_id))

    @router.patch(f"{route.path}/{{item_id}}", response=ConfigOut,
                  operation_id=f"update_{name}")  # fmt: skip
    def update_item(request, item_id: int, body: ConfigPatch):
        obj = get_for(queryset(), request.auth, route.capability, pk=item_id)
        merged = {**specs.kind(route.key).export(obj), **body.spec}
        _save(route, obj.organization_id, merged, obj)
        return _out(route, queryset().get(pk=item_id))

    @router.delete(f"{route.path}/{{item_id}}", response={204: None},
                   operation_id=f"delete_{name}")  # fmt: skip
    def delete_item(request, item_id: int):
        get_for(route.model.objects, request.auth, route.capability, pk=item_id).delete()
        return Status(204, None)


for _route in ROUTES:
    _register(_route)


@router.post("/checks/{item_id}/run", response=ConfigOut, operation_id="run_check")
def run_check(request, item_id: int):
    """Server-side: run now and answer with the result. Agent-side: ask the agent to run
    it at its next configuration pull (the checks revision changes)."""
    check = get_for(
        m.CheckDefinition.objects.select_related("device", "status"),
        request.auth,
        Capability.OPERATE,
        pk=item_id,
    )
    if check.device_id is None:
        runner.run_one(check)
    else:
        m.CheckDefinition.objects.filter(pk=check.pk).update(run_requested_at=timezone.now())
    route = next(r for r in ROUTES if r.key == "checks")
    return _out(route, m.CheckDefinition.objects.select_related("device", "status").get(pk=item_id))
