"""API: the audit log, for admins of the organizations it concerns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema

from steward.api.pagination import Page, paginate
from steward.audit.models import AuditEntry
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import scoped

router = Router(tags=["audit"])


class AuditEntryOut(Schema):
    id: int
    at: datetime
    actor: str
    source: str
    address: str | None
    action: str
    object_type: str
    object_id: str
    object: str
    organization_id: int | None
    changes: dict[str, Any]


@router.get("/audit", response=Page[AuditEntryOut])
def list_audit(
    request,
    organization_id: int | None = None,
    object_type: str = "",
    actor: str = "",
    limit: int = 100,
    offset: int = 0,
):
    qs = scoped(AuditEntry.objects.all(), request.auth, Capability.MANAGE)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    return paginate(
        qs,
        limit,
        offset,
        lambda e: AuditEntryOut(
            id=e.pk,
            at=e.at,
            actor=e.actor_label,
            source=e.source,
            address=e.address,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            object=e.object_repr,
            organization_id=e.organization_id,
            changes=e.changes,
        ),
    )
