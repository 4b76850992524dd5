"""The dashboard and the organization switcher."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from steward.console.common import (
    SESSION_ORG_KEY,
    console_view,
    current_org,
    in_current_org,
    principal,
    shows_organization,
)
from steward.console.core import attention
from steward.console.core.redirects import safe_next
from steward.inventory.models import Device, Site, Status, StatusChange, offline_cutoff
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import scoped

RECENT_OFFLINE = 10
SITES_SHOWN = 12


@console_view
def dashboard(request: HttpRequest) -> HttpResponse:
    if principal(request).organization_ids(Capability.VIEW) == []:
        return redirect("console:portal")  # requesters (no VIEW anywhere) use the portal
    counts = in_current_org(request, Device.objects.all()).status_counts()
    active = Q(devices__revoked_at__isnull=True)
    sites = (
        in_current_org(request, Site.objects.select_related("organization"))
        .annotate(
            total=Count("devices", filter=active),
            online=Count("devices", filter=active & Q(devices__last_seen__gte=offline_cutoff())),
        )
        .order_by("-total", "organization__name", "name")
    )
    recent_offline = (
        in_current_org(request, StatusChange.objects.filter(status=Status.OFFLINE))
        .select_related("device__site", "device__organization")
        .defer("device__inventory", "device__notes")
        .order_by("-at")[:RECENT_OFFLINE]
    )
    total = counts["online"] + counts["offline"]
    return render(
        request,
        "console/home.html",
        {
            "counts": counts,
            "total": total,
            "online_percent": round(100 * counts["online"] / total) if total else None,
            "organization": current_org(request),
            "can_manage": principal(request).organization_ids(Capability.MANAGE) != [],
            "sites": sites[:SITES_SHOWN],
            "recent_offline": recent_offline,
            "alerts": attention.firing_alerts(request),
            "checks": attention.failing_checks(request),
            "tickets": attention.open_tickets(request, timezone.now()),
            "show_organization": shows_organization(request),
        },
    )


@console_view
@require_POST
def switch_organization(request: HttpRequest) -> HttpResponse:
    """Remember the organization chosen in the top bar ("" = all of mine) in the session."""
    choice = request.POST.get("organization", "").strip()
    if not choice:
        request.session.pop(SESSION_ORG_KEY, None)
    else:
        allowed = scoped(Organization.objects.all(), principal(request))
        org = allowed.filter(pk=int(choice)).first() if choice.isdigit() else None
        if org is None:
            messages.error(request, "That organization is not available to you.")
        else:
            request.session[SESSION_ORG_KEY] = org.pk
    return redirect(safe_next(request, request.POST.get("next")) or "console:home")
