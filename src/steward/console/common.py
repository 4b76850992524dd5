"""What every console view needs: the principal, the selected organization, scoping.

Console views use the same ``Principal`` and ``scoped()``/``get_for()`` as the API, so the
tenant rules are the same whichever door a person comes through.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from steward.ops.middleware import client_address
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Forbidden, NotFound, Principal, get_for, scoped

SESSION_ORG_KEY = "steward_org_id"


def principal(request: HttpRequest) -> Principal:
    cached = getattr(request, "_steward_principal", None)
    if cached is None:
        cached = Principal(user=request.user, source="console", address=client_address(request))
        request._steward_principal = cached  # type: ignore[attr-defined]
    return cached


def current_org(request: HttpRequest) -> Organization | None:
    """The organization chosen in the switcher, or None for "all my organizations"."""
    if hasattr(request, "_steward_org"):
        return request._steward_org  # type: ignore[attr-defined]
    org = None
    org_id = request.session.get(SESSION_ORG_KEY)
    if org_id:
        org = scoped(Organization.objects.all(), principal(request)).filter(pk=org_id).first()
        if org is None:  # membership removed since it was chosen
            request.session.pop(SESSION_ORG_KEY, None)
    request._steward_org = org  # type: ignore[attr-defined]
    return org


def shows_organization(request: HttpRequest) -> bool:
    """Whether a list's rows need their organization's name: "all my organizations" is
    chosen and spans more than one (a superuser's: every organization, counted once per
    request)."""
    if current_org(request) is not None:
        return False
    org_ids = principal(request).organization_ids()
    if org_ids is not None:
        return len(org_ids) > 1
    cached = getattr(request, "_steward_several_orgs", None)
    if cached is None:
        cached = request._steward_several_orgs = Organization.objects.count() > 1  # type: ignore[attr-defined]
    return cached


def in_current_org(
    request: HttpRequest, queryset: QuerySet, capability: Capability = Capability.VIEW
) -> QuerySet:
    """Scope to the caller's organizations, then narrow to the switcher's choice."""
    qs = scoped(queryset, principal(request), capability)
    org = current_org(request)
    if org is not None:
        path = queryset.model.tenant_path
        qs = qs.filter(**{"pk" if path == "pk" else path: org.pk})
    return qs


def get_or_404(
    request: HttpRequest, queryset: QuerySet, capability: Capability = Capability.VIEW, **lookup
):
    """``get_for`` with console semantics: other tenants' objects are 404."""
    try:
        return get_for(queryset, principal(request), capability, **lookup)
    except NotFound:
        raise Http404 from None


def console_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required; ``Forbidden`` from the scoping layer becomes a 403 page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Forbidden as exc:
            return render(request, "403.html", {"reason": str(exc)}, status=403)

    return wrapper
