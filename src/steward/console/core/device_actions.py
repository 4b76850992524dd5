"""Changing a device: edit (technicians), revoke (technicians), delete and its metrics
collection interval (admins).

Each view fetches the device with the capability the action needs, so a role without it
gets 403 on GET and POST alike; another organization's device is 404. Changes go through
the ORM and are audited by ``steward.audit.registry``.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from steward.console.common import console_view, get_or_404, principal
from steward.console.core.forms import CollectionIntervalForm, DeviceEditForm
from steward.inventory import services
from steward.inventory.models import Device, Site
from steward.metrics import collection
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import scoped


def _device(request: HttpRequest, pk: int, capability: Capability) -> Device:
    queryset = Device.objects.select_related("organization", "site").defer("inventory")
    return get_or_404(request, queryset, capability, pk=pk)


@console_view
@require_http_methods(["GET", "POST"])
def device_edit(request: HttpRequest, pk: int) -> HttpResponse:
    device = _device(request, pk, Capability.OPERATE)
    # A device moves only between sites of its own organization.
    sites = scoped(
        Site.objects.filter(organization_id=device.organization_id),
        principal(request),
        Capability.OPERATE,
    )
    form = DeviceEditForm(request.POST or None, instance=device, sites=sites)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            device = form.save()
            services.set_tags(device, form.cleaned_data["tags"])
        messages.success(request, f"Saved the changes to {device}.")
        return redirect("console:device", pk=device.pk)
    return render(request, "console/devices/edit.html", {"device": device, "form": form})


@console_view
@require_http_methods(["GET", "POST"])
def device_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    device = _device(request, pk, Capability.OPERATE)
    if device.revoked_at is not None:
        messages.info(request, f"{device} was already revoked.")
        return redirect("console:device", pk=device.pk)
    if request.method == "POST":
        services.revoke(device)
        messages.success(
            request, f"{device} is revoked: its agent can no longer report and will stop."
        )
        return redirect("console:device", pk=device.pk)
    return render(
        request,
        "console/devices/confirm.html",
        {
            "device": device,
            "action": "revoke",
            "title": f"Revoke {device}?",
            "button": "Revoke device",
        },
    )


@console_view
@require_http_methods(["GET", "POST"])
def device_delete(request: HttpRequest, pk: int) -> HttpResponse:
    device = _device(request, pk, Capability.MANAGE)
    if request.method == "POST":
        name = str(device)
        device.delete()
        messages.success(request, f"{name} has been deleted with its inventory and history.")
        return redirect("console:devices")
    return render(
        request,
        "console/devices/confirm.html",
        {
            "device": device,
            "action": "delete",
            "title": f"Delete {device}?",
            "button": "Delete device",
        },
    )


@console_view
@require_http_methods(["GET", "POST"])
def device_collection(request: HttpRequest, pk: int) -> HttpResponse:
    """How often the device's agent collects metrics: its own interval, or inherit."""
    device = _device(request, pk, Capability.MANAGE)
    scope = collection.Scope(
        device.organization_id, device_id=device.pk, device_site_id=device.site_id
    )
    current = collection.interval_for(scope)
    # What the device would get without its own value: the site's, the organization's...
    site = collection.interval_for(collection.Scope(device.organization_id, site_id=device.site_id))
    initial = {"mode": "own" if current.own is not None else "inherit", "seconds": current.own}
    form = CollectionIntervalForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        seconds = form.cleaned_data["seconds"] if form.cleaned_data["mode"] == "own" else None
        collection.set_interval(scope, seconds)
        found = collection.interval_for(scope)
        messages.success(
            request,
            f"{device} now collects metrics every {found.effective} s (from the {found.source}).",
        )
        return redirect("console:device", pk=device.pk)
    return render(
        request,
        "console/devices/collection.html",
        {"device": device, "form": form, "current": current, "inherited": site},
    )
