"""Tenant isolation, in one place.

Every queryset that reaches a user (API, console, CLI through the API) is built with
``scoped()``; every single object is fetched with ``get_for()``. Models declare their path
to the owning organization in ``tenant_path`` ("pk" for Organization itself,
"organization" for direct children). Nothing else filters by organization by hand.

Objects of organizations the caller does not belong to are *absent* (404), never
"forbidden" (403): a 403 would confirm that the id exists. Inside the caller's own
organizations, a role that lacks the capability gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models

from steward.tenancy.roles import Capability, Role, grants, lower

if TYPE_CHECKING:
    from steward.accounts.models import User

M = TypeVar("M", bound=models.Model)


class NotFound(Exception):
    """The object does not exist for this caller (whether or not it exists at all)."""


class Forbidden(Exception):
    """The caller can see the object but its role does not allow the action."""


@dataclass
class Principal:
    """Who is asking: a user, optionally through an API token with a role ceiling."""

    user: User
    token_role: Role | None = None
    source: str = "api"
    address: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_superuser(self) -> bool:
        return bool(self.user.is_superuser and self.user.is_active)

    @cached_property
    def roles(self) -> dict[int, Role]:
        """Effective role per organization id (token ceiling applied)."""
        from steward.tenancy.models import Membership

        rows = Membership.objects.filter(user=self.user).values_list("organization_id", "role")
        return {org_id: lower(Role(role), self.token_role) for org_id, role in rows}

    def role_in(self, organization_id: int) -> Role | None:
        if self.is_superuser:
            return lower(Role.OWNER, self.token_role)
        return self.roles.get(organization_id)

    def can(self, capability: Capability, organization_id: int) -> bool:
        return grants(self.role_in(organization_id), capability)

    def organization_ids(self, capability: Capability = Capability.VIEW) -> list[int] | None:
        """Organizations where the capability holds; ``None`` means all (superuser)."""
        if self.is_superuser and grants(lower(Role.OWNER, self.token_role), capability):
            return None
        return [org for org, role in self.roles.items() if grants(role, capability)]

    def require(self, capability: Capability, organization_id: int) -> None:
        if not self.can(capability, organization_id):
            if self.role_in(organization_id) is None:
                raise NotFound
            raise Forbidden(f"your role does not allow '{capability.value}' here")


def scoped(
    queryset: models.QuerySet[M], principal: Principal, capability: Capability = Capability.VIEW
) -> models.QuerySet[M]:
    """Restrict a queryset to the organizations where the principal holds ``capability``."""
    org_ids = principal.organization_ids(capability)
    if org_ids is None:
        return queryset
    path = queryset.model.tenant_path  # type: ignore[attr-defined]
    return queryset.filter(**{f"{path}__in": org_ids})


def organization_of(obj: models.Model) -> int:
    path: str = type(obj).tenant_path  # type: ignore[attr-defined]
    if path == "pk":
        return int(obj.pk)
    value: Any = obj
    for part in path.split("__"):
        value = getattr(value, part)
    return int(value.pk)


def get_for(
    queryset: models.QuerySet[M],
    principal: Principal,
    capability: Capability = Capability.VIEW,
    **lookup: Any,
) -> M:
    """Fetch one object the principal may see, then check the capability on it.

    Not visible at all -> ``NotFound``; visible but not allowed -> ``Forbidden``.
    """
    try:
        obj = scoped(queryset, principal, Capability.VIEW).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise NotFound from None
    principal.require(capability, organization_of(obj))
    return obj
