"""The audit log of the organizations the caller manages, filtered and paged."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from steward.audit.models import AuditEntry
from steward.console.common import console_view, in_current_org
from steward.console.manage.forms import AuditFilterForm
from steward.console.manage.helpers import paginate, require_somewhere
from steward.tenancy.roles import Capability

NOTHING = "∅"


def _show(value: Any) -> str:
    return NOTHING if value is None or value == "" else str(value)


def change_lines(changes: dict[str, Any]) -> list[tuple[str, str]]:
    """``changes`` as (field, "old → new") pairs, in the registry's two shapes.

    Field changes are ``[old, new]``; many-to-many changes are ``{"added": [labels]}``
    (or "removed", "cleared") — see ``steward.audit.registry``.
    """
    lines = []
    for name, change in changes.items():
        if isinstance(change, list | tuple) and len(change) == 2:
            text = f"{_show(change[0])} → {_show(change[1])}"
        elif isinstance(change, dict):
            text = "; ".join(
                f"{verb} {', '.join(map(str, labels)) or NOTHING}"
                for verb, labels in change.items()
            )
        else:
            text = _show(change)
        lines.append((name, text))
    return lines


@console_view
def audit_list(request: HttpRequest) -> HttpResponse:
    require_somewhere(request, Capability.MANAGE)
    entries = in_current_org(request, AuditEntry.objects.all(), Capability.MANAGE)
    object_types = sorted(entries.order_by().values_list("object_type", flat=True).distinct())
    form = AuditFilterForm(request.GET or None, object_types=object_types)
    if form.is_valid():
        data = form.cleaned_data
        if data["object_type"]:
            entries = entries.filter(object_type=data["object_type"])
        if data["actor"]:
            entries = entries.filter(actor_label__icontains=data["actor"].strip())
        if data["since"]:
            entries = entries.filter(at__date__gte=data["since"])
        if data["until"]:
            entries = entries.filter(at__date__lte=data["until"])
    page = paginate(request, entries)
    for entry in page:
        entry.change_lines = change_lines(entry.changes)  # type: ignore[attr-defined]
    return render(request, "console/manage/audit.html", {"page": page, "form": form})
