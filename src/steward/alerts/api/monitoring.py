"""Monitoring as code over HTTP: what ``steward apply`` / ``steward export`` use remotely."""

from __future__ import annotations

from typing import Any

from ninja import Field, Query, Router, Schema

from steward.alerts import yamlio
from steward.api.errors import ApiError
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import get_for, scoped

router = Router(tags=["alerts"])


class ApplyIn(Schema):
    organization_id: int
    yaml: str = Field(max_length=2_000_000)
    filename: str = Field("<request>", max_length=200)
    dry_run: bool = False


class ApplyOut(Schema):
    dry_run: bool
    changed: int
    changes: list[dict[str, str]]


class ExportFilter(Schema):
    organization_id: int | None = None


class ExportOut(Schema):
    organization_id: int
    yaml: str
    data: dict[str, Any]


@router.post("/monitoring/apply", response=ApplyOut)
def apply(request, body: ApplyIn):
    """Create/update checks, rules, channels, ... from a YAML document (idempotent)."""
    org = get_for(Organization.objects, request.auth, Capability.MANAGE, pk=body.organization_id)
    try:
        report = yamlio.apply(body.yaml, org.pk, body.filename, body.dry_run)
    except yamlio.ApplyError as exc:
        raise ApiError(400, "invalid_monitoring_file", str(exc)) from None
    return report.as_dict()


@router.get("/monitoring/export", response=ExportOut)
def export(request, filters: Query[ExportFilter]):
    """The organization's monitoring configuration as YAML (secrets left out).
    ``organization_id`` may be omitted when the caller manages exactly one."""
    org_id = filters.organization_id
    if org_id is None:
        managed = scoped(Organization.objects.all(), request.auth, Capability.MANAGE)
        ids = list(managed.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            raise ApiError(400, "invalid_request", "organization_id: required")
        org_id = ids[0]
    org = get_for(Organization.objects, request.auth, Capability.MANAGE, pk=org_id)
    return {"organization_id": org.pk, "yaml": yamlio.export(org.pk),
            "data": yamlio.export_data(org.pk)}  # fmt: skip
