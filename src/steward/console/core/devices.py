"""Device pages: the list (with the API's filters), one device, its software."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from steward.alerts import problems
from steward.console.common import (
    console_view,
    get_or_404,
    in_current_org,
    principal,
    shows_organization,
)
from steward.console.core import presenters
from steward.inventory.filters import STATUSES, DeviceFilter
from steward.inventory.models import Device, InstalledSoftware, Site, Tag
from steward.metrics import collection
from steward.tenancy.roles import Capability

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
SOFTWARE_PAGE_SIZE = 100
SOFTWARE_PREVIEW = 12
HISTORY_LENGTH = 20
OS_CHOICES_MAX = 200


def _page_size(request: HttpRequest) -> int:
    raw = request.GET.get("per_page", "")
    return int(raw) if raw.isdigit() and int(raw) in PAGE_SIZES else DEFAULT_PAGE_SIZE


def list_queryset():
    """Devices as the list shows them: no inventory document (it can be large), no notes."""
    return (
        Device.objects.select_related("organization", "site")
        .prefetch_related("tags")
        .defer("inventory", "notes")
    )


@console_view
def device_list(request: HttpRequest) -> HttpResponse:
    filters = DeviceFilter.from_mapping(request.GET)
    devices = in_current_org(request, list_queryset())
    page = Paginator(filters.apply(devices), _page_size(request)).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    found = problems.for_devices([d.pk for d in page.object_list])
    for device in page.object_list:
        device.problems = found.get(device.pk, problems.NONE)
    os_names = (
        in_current_org(request, Device.objects.active())
        .exclude(os_name="")
        .order_by("os_name")
        .values_list("os_name", flat=True)
        .distinct()[:OS_CHOICES_MAX]
    )
    return render(
        request,
        "console/devices/list.html",
        {
            "page_obj": page,
            "filters": filters,
            "filtered": any(k != "sort" for k in filters.as_query()),
            "statuses": STATUSES,
            "sites": in_current_org(request, Site.objects.select_related("organization")),
            "tags": in_current_org(request, Tag.objects.all())
            .order_by("name")
            .values_list("name", flat=True)
            .distinct(),
            "os_names": os_names,
            "show_organization": shows_organization(request),
            "can_manage": principal(request).organization_ids(Capability.MANAGE) != [],
            "page_sizes": PAGE_SIZES,
            "page_size": page.paginator.per_page,
        },
    )


def detail_queryset():
    return Device.objects.select_related("organization", "site").prefetch_related("tags")


@console_view
def device_detail(request: HttpRequest, pk: int) -> HttpResponse:
    device = get_or_404(request, detail_queryset(), pk=pk)
    who = principal(request)
    software = device.software.all()
    inventory = device.inventory or {}
    return render(
        request,
        "console/devices/detail.html",
        {
            "device": device,
            "can_operate": who.can(Capability.OPERATE, device.organization_id),
            "can_delete": who.can(Capability.MANAGE, device.organization_id),
            "collection": collection.interval_for(
                collection.Scope(
                    device.organization_id, device_id=device.pk, device_site_id=device.site_id
                )
            ),
            "file_systems": presenters.file_systems(inventory),
            "disks": presenters.disks(inventory),
            "interfaces": presenters.interfaces(inventory),
            "sessions": presenters.sessions(inventory),
            "swap_bytes": presenters.swap_bytes(inventory),
            "bios_version": presenters.bios_version(inventory),
            "cpu_max_mhz": presenters.cpu_max_mhz(inventory),
            "software": software[:SOFTWARE_PREVIEW],
            "software_count": software.count(),
            "history": device.status_changes.all()[:HISTORY_LENGTH],
        },
    )


@console_view
def device_software(request: HttpRequest, pk: int) -> HttpResponse:
    device = get_or_404(request, detail_queryset().defer("inventory"), pk=pk)
    query = request.GET.get("q", "").strip()[:200]
    software = InstalledSoftware.objects.filter(device=device).order_by("name", "version")
    total = software.count()
    if query:
        software = software.filter(name__icontains=query)
    page = Paginator(software, SOFTWARE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/devices/software.html",
        {
            "device": device,
            "page_obj": page,
            "q": query,
            "total": total,
        },
    )
