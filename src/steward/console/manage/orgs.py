"""Organizations: list, create (staff superusers), edit (owners)."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from steward.console.common import console_view, get_or_404, in_current_org, principal
from steward.console.manage.forms import OrganizationCreateForm, OrganizationEditForm
from steward.inventory.models import Device
from steward.tenancy import services
from steward.tenancy.models import Membership, Organization, Site
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Forbidden


def _count(model: type, **extra) -> Coalesce:
    """Rows of ``model`` per organization, as a subquery.

    Three subqueries instead of three joins: joining sites, devices and members at once
    would multiply the rows (sites x devices x members) before counting.
    """
    rows = (
        model._default_manager.filter(organization=OuterRef("pk"), **extra)
        .order_by()
        .values("organization")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def organizations_with_counts(queryset: QuerySet[Organization]) -> QuerySet[Organization]:
    return queryset.annotate(
        site_count=_count(Site),
        device_count=_count(Device, revoked_at__isnull=True),
        member_count=_count(Membership),
    )


@console_view
def org_list(request: HttpRequest) -> HttpResponse:
    who = principal(request)
    orgs = list(organizations_with_counts(in_current_org(request, Organization.objects.all())))
    for org in orgs:
        org.my_role = who.role_in(org.pk)  # type: ignore[attr-defined]
        org.can_edit = who.can(Capability.OWN, org.pk)  # type: ignore[attr-defined]
    return render(
        request,
        "console/manage/orgs.html",
        {
            "organizations": orgs,
            "can_create": who.is_superuser,
        },
    )


@console_view
def org_create(request: HttpRequest) -> HttpResponse:
    who = principal(request)
    if not who.is_superuser:
        raise Forbidden("Only staff superusers create organizations.")
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.create_organization(who, form.cleaned_data["name"])
        except services.DuplicateName as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Organization {org} created; you are its owner.")
            return redirect("console:orgs")
    return render(
        request,
        "console/manage/form_page.html",
        {
            "title": "New organization",
            "form": form,
            "submit": "Create organization",
            "cancel": "console:orgs",
        },
    )


@console_view
def org_edit(request: HttpRequest, pk: int) -> HttpResponse:
    org = get_or_404(request, Organization.objects.all(), Capability.OWN, pk=pk)
    form = OrganizationEditForm(request.POST or None, instance=org)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Organization {org} saved.")
        return redirect("console:orgs")
    return render(
        request,
        "console/manage/form_page.html",
        {
            "title": f"Edit {org.name}",
            "form": form,
            "submit": "Save",
            "cancel": "console:orgs",
        },
    )
