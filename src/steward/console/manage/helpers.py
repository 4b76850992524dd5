"""What the management views share: who may do what where, and paging."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

from steward.console.common import in_current_org
from steward.tenancy.models import Organization
from steward.tenancy.roles import RANK, Capability, Role, can_assign
from steward.tenancy.scoping import Forbidden

PER_PAGE = 50


def orgs_where(request: HttpRequest, capability: Capability) -> QuerySet[Organization]:
    """Organizations (narrowed by the switcher) where the caller holds ``capability``."""
    return in_current_org(request, Organization.objects.all(), capability)


def require_somewhere(request: HttpRequest, capability: Capability) -> QuerySet[Organization]:
    """Like ``orgs_where``, but a page nobody here may use is a 403, not an empty list."""
    orgs = orgs_where(request, capability)
    if not orgs.exists():
        raise Forbidden(f"Your role does not allow '{capability.value}' here.")
    return orgs


def assignable_roles(assigner: Role | None) -> list[Role]:
    """Roles ``assigner`` may hand out, most powerful first."""
    if assigner is None:
        return []
    return sorted((r for r in RANK if can_assign(assigner, r)), key=RANK.__getitem__, reverse=True)


def role_choices(roles: list[Role]) -> list[tuple[str, str]]:
    return [(role.value, role.value.capitalize()) for role in roles]


def paginate(request: HttpRequest, queryset: QuerySet, per_page: int = PER_PAGE) -> Page:
    """The requested page; out-of-range or malformed page numbers give the nearest page."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))
