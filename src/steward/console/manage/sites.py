"""Sites: list with device counts, create, edit, delete (only when no device is left)."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, ProtectedError, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from steward.console.common import console_view, get_or_404, in_current_org, principal
from steward.console.manage.forms import SiteCreateForm, SiteEditForm
from steward.console.manage.helpers import orgs_where, paginate, require_somewhere
from steward.tenancy import services
from steward.tenancy.models import Site
from steward.tenancy.roles import Capability

STILL_HAS_DEVICES = "{site} still has {n} device(s): move or delete them first."


@console_view
def site_list(request: HttpRequest) -> HttpResponse:
    who = principal(request)
    sites = (
        in_current_org(request, Site.objects.select_related("organization"))
        .annotate(device_count=Count("devices", filter=Q(devices__revoked_at__isnull=True)))
        .order_by("organization__name", "name")  # Meta.ordering does not apply to GROUP BY
    )
    page = paginate(request, sites)
    for site in page:
        site.can_manage = who.can(Capability.MANAGE, site.organization_id)  # type: ignore[attr-defined]
    return render(
        request,
        "console/manage/sites.html",
        {
            "page": page,
            "can_create": orgs_where(request, Capability.MANAGE).exists(),
        },
    )


@console_view
def site_create(request: HttpRequest) -> HttpResponse:
    orgs = require_somewhere(request, Capability.MANAGE)
    form = SiteCreateForm(request.POST or None, organizations=orgs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            site = services.create_site(
                principal(request), data["organization"], data["name"], data["description"]
            )
        except services.DuplicateName:
            form.add_error("name", "This organization has a site with this name already.")
        else:
            messages.success(request, f"Site {site} created in {site.organization}.")
            return redirect("console:sites")
    return render(
        request,
        "console/manage/form_page.html",
        {
            "title": "New site",
            "form": form,
            "submit": "Create site",
            "cancel": "console:sites",
        },
    )


@console_view
def site_edit(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_or_404(
        request, Site.objects.select_related("organization"), Capability.MANAGE, pk=pk
    )
    form = SiteEditForm(request.POST or None, instance=site)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Site {site} saved.")
        return redirect("console:sites")
    return render(
        request,
        "console/manage/form_page.html",
        {
            "title": f"Edit site {site.name}",
            "subtitle": site.organization.name,
            "form": form,
            "submit": "Save",
            "cancel": "console:sites",
        },
    )


@console_view
def site_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes. Devices protect their site."""
    site = get_or_404(
        request, Site.objects.select_related("organization"), Capability.MANAGE, pk=pk
    )
    devices = site.devices.count()
    if request.method == "POST":
        try:
            site.delete()
        except ProtectedError:  # devices, including revoked ones, still point at the site
            messages.error(request, STILL_HAS_DEVICES.format(site=site, n=devices))
        else:
            messages.success(request, f"Site {site} deleted.")
        return redirect("console:sites")
    return render(
        request,
        "console/manage/site_delete.html",
        {
            "site": site,
            "devices": devices,
            "tokens": site.enrollment_tokens.count(),
            "refusal": STILL_HAS_DEVICES.format(site=site, n=devices) if devices else "",
        },
    )
