"""API: queues, categories, canned responses, alert policies, SLA policies, settings,
device assignments. Reading needs VIEW; changing needs MANAGE (canned responses and
device assignments: OPERATE)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import Model
from ninja import Field, Router, Schema, Status

from steward.api.errors import bad_request, conflict
from steward.api.pagination import Page, paginate
from steward.helpdesk import services, slaclock
from steward.helpdesk.models import (
    AlertTicketPolicy,
    CannedResponse,
    Category,
    DeviceAssignment,
    Holiday,
    Priority,
    Queue,
    SlaPolicy,
)
from steward.inventory.models import Device
from steward.sla.calendar import CalendarError
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import get_for, scoped

router = Router(tags=["helpdesk"])


# ---------------------------------------------------------------- generic organization CRUD


def _check_refs(org_id: int, data: dict) -> None:
    """Foreign keys in a body must point into the same organization."""
    refs = {"queue_id": Queue, "sla_policy_id": SlaPolicy, "category_id": Category}
    for field, model in refs.items():
        if (
            data.get(field) is not None
            and not model.objects.filter(pk=data[field], organization_id=org_id).exists()
        ):
            raise bad_request(f"{field}: no such object in the organization")


def _save(obj: Model, what: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise conflict(f"a {what} with that name exists already") from None


def org_crud(
    path: str,
    model: type[Model],
    body_in: type[Schema],
    body_patch: type[Schema],
    out: Callable[[Model], Schema],
    out_schema: type[Schema],
    write: Capability,
    what: str,
) -> None:
    """GET list, POST, PATCH and DELETE for a simple per-organization model."""
    name = model._meta.model_name

    def list_(request, organization_id: int | None = None, limit: int = 100, offset: int = 0):
        qs = scoped(model.objects.all(), request.auth)
        if organization_id is not None:
            qs = qs.filter(organization_id=organization_id)
        return paginate(qs, limit, offset, out)

    def create(request, body):
        data = body.dict()
        get_for(Organization.objects, request.auth, write, pk=data["organization_id"])
        _check_refs(data["organization_id"], data)
        obj = model(**data)
        _save(obj, what)
        return Status(201, out(obj))

    def update(request, object_id: int, body):
        obj = get_for(model.objects.all(), request.auth, write, pk=object_id)
        data = body.dict(exclude_unset=True)
        _check_refs(obj.organization_id, data)
        for field, value in data.items():
            setattr(obj, field, value)
        _save(obj, what)
        return out(obj)

    def delete(request, object_id: int):
        get_for(model.objects.all(), request.auth, write, pk=object_id).delete()
        return Status(204, None)

    # Annotations are strings under ``from __future__ import annotations``; ninja must see
    # the schema classes themselves, which are local to this factory.
    create.__annotations__["body"] = body_in
    update.__annotations__["body"] = body_patch
    for func, verb in ((list_, "list"), (create, "create"), (update, "update"), (delete, "delete")):
        func.__name__ = f"{verb}_{name}"
    router.get(path, response=Page[out_schema], operation_id=f"list_{name}")(list_)
    router.post(path, response={201: out_schema}, operation_id=f"create_{name}")(create)
    router.patch(f"{path}/{{object_id}}", response=out_schema, operation_id=f"update_{name}")(
        update
    )
    router.delete(f"{path}/{{object_id}}", response={204: None}, operation_id=f"delete_{name}")(
        delete
    )


class QueueOut(Schema):
    id: int
    organization_id: int
    name: str
    description: str
    sla_policy_id: int | None


class QueueIn(Schema):
    organization_id: int
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    sla_policy_id: int | None = None


class QueuePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    sla_policy_id: int | None = None


class CategoryOut(Schema):
    id: int
    organization_id: int
    name: str


class CategoryIn(Schema):
    organization_id: int
    name: str = Field(min_length=1, max_length=100)


class CategoryPatch(Schema):
    name: str = Field(min_length=1, max_length=100)


class CannedOut(Schema):
    id: int
    organization_id: int
    title: str
    body: str


class CannedIn(Schema):
    organization_id: int
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)


class CannedPatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=200)
    body: str | None = Field(None, min_length=1, max_length=20_000)


class AlertPolicyOut(Schema):
    id: int
    organization_id: int
    rule_name: str
    severity: str
    open_after_minutes: int
    queue_id: int | None
    priority: str
    enabled: bool


class AlertPolicyIn(Schema):
    organization_id: int
    rule_name: str = Field("", max_length=200)
    severity: str = Field("", max_length=20)
    open_after_minutes: int = Field(0, ge=0, le=7 * 24 * 60)
    queue_id: int | None = None
    priority: Priority = Priority.P2
    enabled: bool = True


class AlertPolicyPatch(Schema):
    rule_name: str | None = Field(None, max_length=200)
    severity: str | None = Field(None, max_length=20)
    open_after_minutes: int | None = Field(None, ge=0, le=7 * 24 * 60)
    queue_id: int | None = None
    priority: Priority | None = None
    enabled: bool | None = None


def _from(schema: type[Schema]) -> Callable[[Model], Schema]:
    return lambda obj: schema.model_validate(obj, from_attributes=True)


org_crud(
    "/queues", Queue, QueueIn, QueuePatch, _from(QueueOut), QueueOut, Capability.MANAGE, "queue"
)
org_crud(
    "/categories",
    Category,
    CategoryIn,
    CategoryPatch,
    _from(CategoryOut),
    CategoryOut,
    Capability.MANAGE,
    "category",
)
org_crud(
    "/canned-responses",
    CannedResponse,
    CannedIn,
    CannedPatch,
    _from(CannedOut),
    CannedOut,
    Capability.OPERATE,
    "canned response",
)
org_crud(
    "/alert-ticket-policies",
    AlertTicketPolicy,
    AlertPolicyIn,
    AlertPolicyPatch,
    _from(AlertPolicyOut),
    AlertPolicyOut,
    Capability.MANAGE,
    "policy",
)


# ---------------------------------------------------------------- SLA policies


class HolidayIO(Schema):
    date: dt.date
    name: str = Field("", max_length=100)


class SlaPolicyOut(Schema):
    id: int
    organization_id: int
    name: str
    is_default: bool
    time_zone: str
    weekly_hours: dict[str, list[list[str]]]
    targets: dict[str, dict[str, int]]
    pause_on_hold: bool
    warn_percent: int
    holidays: list[HolidayIO]

    @staticmethod
    def of(p: SlaPolicy) -> SlaPolicyOut:
        return SlaPolicyOut(
            id=p.pk,
            organization_id=p.organization_id,
            name=p.name,
            is_default=p.is_default,
            time_zone=p.time_zone,
            weekly_hours=p.weekly_hours,
            targets=p.targets,
            pause_on_hold=p.pause_on_hold,
            warn_percent=p.warn_percent,
            holidays=[HolidayIO(date=h.date, name=h.name) for h in p.holidays.all()],
        )


class SlaPolicyPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    is_default: bool | None = None
    time_zone: str | None = Field(None, max_length=64)
    weekly_hours: dict[str, list[list[str]]] | None = None
    targets: dict[Priority, dict[str, int]] | None = None
    pause_on_hold: bool | None = None
    warn_percent: int | None = Field(None, ge=1, le=99)
    holidays: list[HolidayIO] | None = Field(None, max_length=400)


class SlaPolicyIn(SlaPolicyPatch):
    organization_id: int
    name: str = Field(min_length=1, max_length=100)


def _apply_policy(policy: SlaPolicy, data: dict) -> None:
    holidays = data.pop("holidays", None)
    if "targets" in data and data["targets"] is not None:
        targets = {}
        for priority, values in data["targets"].items():
            unknown = set(values) - {"first_response", "resolution"}
            if unknown or any(v < 0 for v in values.values()):
                raise bad_request("targets: minutes per 'first_response' and 'resolution'")
            targets[str(getattr(priority, "value", priority))] = values
        data["targets"] = targets
    for field, value in data.items():
        if value is not None:
            setattr(policy, field, value)
    try:
        policy.calendar([h["date"] for h in holidays or []])
    except CalendarError as exc:
        raise bad_request(f"weekly_hours: {exc}") from None
    with transaction.atomic():
        if policy.is_default:
            SlaPolicy.objects.filter(organization_id=policy.organization_id).exclude(
                pk=policy.pk
            ).update(is_default=False)
        _save(policy, "SLA policy")
        if holidays is not None:
            policy.holidays.all().delete()
            Holiday.objects.bulk_create(
                [Holiday(policy=policy, date=h["date"], name=h["name"]) for h in holidays]
            )
        slaclock.refresh_policy(policy)


@router.get("/sla-policies", response=Page[SlaPolicyOut])
def list_sla_policies(
    request, organization_id: int | None = None, limit: int = 100, offset: int = 0
):
    qs = scoped(SlaPolicy.objects.prefetch_related("holidays"), request.auth)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return paginate(qs, limit, offset, SlaPolicyOut.of)


@router.post("/sla-policies", response={201: SlaPolicyOut})
def create_sla_policy(request, body: SlaPolicyIn):
    data = body.dict()
    org = get_for(
        Organization.objects, request.auth, Capability.MANAGE, pk=data.pop("organization_id")
    )
    policy = SlaPolicy(organization=org)
    _apply_policy(policy, data)
    return Status(201, SlaPolicyOut.of(policy))


@router.get("/sla-policies/{policy_id}", response=SlaPolicyOut)
def get_sla_policy(request, policy_id: int):
    return SlaPolicyOut.of(get_for(SlaPolicy.objects, request.auth, pk=policy_id))


@router.patch("/sla-policies/{policy_id}", response=SlaPolicyOut)
def update_sla_policy(request, policy_id: int, body: SlaPolicyPatch):
    policy = get_for(SlaPolicy.objects, request.auth, Capability.MANAGE, pk=policy_id)
    _apply_policy(policy, body.dict(exclude_unset=True))
    return SlaPolicyOut.of(policy)


@router.delete("/sla-policies/{policy_id}", response={204: None})
def delete_sla_policy(request, policy_id: int):
    get_for(SlaPolicy.objects, request.auth, Capability.MANAGE, pk=policy_id).delete()
    return Status(204, None)


# ---------------------------------------------------------------- settings


class SettingsOut(Schema):
    organization_id: int
    auto_close_days: int
    requesters_see_org_tickets: bool


class SettingsPatch(Schema):
    auto_close_days: int | None = Field(None, ge=0, le=365)
    requesters_see_org_tickets: bool | None = None


@router.get("/helpdesk-settings/{org_id}", response=SettingsOut)
def get_settings(request, org_id: int):
    org = get_for(Organization.objects, request.auth, pk=org_id)
    return SettingsOut.model_validate(services.settings_for(org.pk), from_attributes=True)


@router.patch("/helpdesk-settings/{org_id}", response=SettingsOut)
def update_settings(request, org_id: int, body: SettingsPatch):
    org = get_for(Organization.objects, request.auth, Capability.MANAGE, pk=org_id)
    found = services.settings_for(org.pk)
    for field, value in body.dict(exclude_unset=True).items():
        if value is not None:
            setattr(found, field, value)
    found.save()
    return SettingsOut.model_validate(found, from_attributes=True)


# ---------------------------------------------------------------- device assignments


class AssignmentOut(Schema):
    id: int
    organization_id: int
    device_id: int
    user_id: int


class AssignmentIn(Schema):
    device_id: int
    user_id: int


@router.get("/device-assignments", response=Page[AssignmentOut])
def list_device_assignments(
    request,
    device_id: int | None = None,
    user_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
):
    qs = scoped(DeviceAssignment.objects.all(), request.auth)
    if device_id is not None:
        qs = qs.filter(device_id=device_id)
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    return paginate(qs, limit, offset, _from(AssignmentOut))


@router.post("/device-assignments", response={201: AssignmentOut})
def create_device_assignment(request, body: AssignmentIn):
    device = get_for(Device.objects, request.auth, Capability.OPERATE, pk=body.device_id)
    user = services._member(device.organization_id, body.user_id, "user_id")
    found, _ = DeviceAssignment.objects.get_or_create(
        organization_id=device.organization_id, device=device, user=user
    )
    return Status(201, AssignmentOut.model_validate(found, from_attributes=True))


@router.delete("/device-assignments/{assignment_id}", response={204: None})
def delete_device_assignment(request, assignment_id: int):
    get_for(DeviceAssignment.objects, request.auth, Capability.OPERATE, pk=assignment_id).delete()
    return Status(204, None)


__all__ = ["router"]
