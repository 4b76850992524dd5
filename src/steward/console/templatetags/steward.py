"""Template tags for console pages: navigation, organization switcher, badges, units.

Load with ``{% load steward %}``. The management pages use the same tags, so the shell,
the status badges and the byte units look the same everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django import template
from django.http import HttpRequest
from django.urls import reverse
from django.utils.text import slugify

from steward.console.common import current_org, principal
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import scoped

register = template.Library()


@dataclass(frozen=True)
class NavItem:
    label: str
    icon: str  # a symbol id in static/steward/icons.svg
    url_name: str | None = None  # None: not built yet, shown as "soon"
    # URL names (within the "console" namespace) starting with one of these mark the item
    # as the current page.
    prefixes: tuple[str, ...] = ()
    capability: Capability | None = None  # needed in at least one organization


MAIN_NAV: tuple[NavItem, ...] = (
    NavItem("Dashboard", "dashboard", "console:home", ("home",)),
    NavItem("Devices", "devices", "console:devices", ("device",)),
    NavItem("Metrics", "reports", "console:fleet", ("fleet",)),
    NavItem("Alerts", "alerts", "console:alerts", ("alert",)),
    NavItem("Tickets", "tickets", "console:tickets", ("ticket", "kb-")),
    NavItem("Automation", "automation"),
    NavItem("Reports", "reports", "console:helpdesk-reports", ("helpdesk-report",)),
)

SETTINGS_NAV: tuple[NavItem, ...] = (
    NavItem("Organizations", "orgs", "console:orgs", ("org",)),
    NavItem("Sites", "sites", "console:sites", ("site",), Capability.MANAGE),
    NavItem("Users", "users", "console:users", ("user", "membership"), Capability.MANAGE),
    NavItem(
        "Enrollment tokens",
        "enroll",
        "console:enrollment-tokens",
        ("enrollment-token",),
        Capability.MANAGE,
    ),
    NavItem("API tokens", "key", "console:api-tokens", ("api-token",)),
    NavItem("Audit log", "audit", "console:audit", ("audit",), Capability.MANAGE),
)


@dataclass(frozen=True)
class NavLink:
    label: str
    icon: str
    href: str | None
    current: bool


def _links(request: HttpRequest, items: tuple[NavItem, ...]) -> list[NavLink]:
    match = getattr(request, "resolver_match", None)
    url_name = match.url_name if match is not None and match.namespace == "console" else ""
    who = principal(request)
    links = []
    for item in items:
        if item.capability is not None and who.organization_ids(item.capability) == []:
            continue
        links.append(
            NavLink(
                label=item.label,
                icon=item.icon,
                href=reverse(item.url_name) if item.url_name else None,
                current=bool(url_name) and url_name.startswith(item.prefixes),
            )
        )
    return links


@register.inclusion_tag("console/includes/nav.html", takes_context=True)
def console_nav(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    return {
        "main": _links(request, MAIN_NAV),
        "settings": _links(request, SETTINGS_NAV),
    }


@register.inclusion_tag("console/includes/org_switcher.html", takes_context=True)
def org_switcher(context: template.Context) -> dict[str, Any]:
    """The organizations the signed-in user can switch between, and the current choice."""
    request = context["request"]
    organizations = list(
        scoped(Organization.objects.only("pk", "name"), principal(request)).order_by("name")
    )
    selected = current_org(request)
    return {
        "organizations": organizations,
        "selected": selected,
        "next": request.path,  # filters of one organization mean nothing in another
        "csrf_token": context.get("csrf_token"),
    }


STATUS_LABELS = {"used-up": "Used up"}


@register.inclusion_tag("console/includes/status.html")
def status_badge(status: Any, label: str = "") -> dict[str, str]:
    """``<span class="status status-online">Online</span>``; the glyph comes from the CSS."""
    key = slugify(str(status))
    return {"key": key, "label": label or STATUS_LABELS.get(key, str(status).capitalize())}


@register.inclusion_tag("console/includes/sort_header.html", takes_context=True)
def sort_header(
    context: template.Context,
    key: str,
    label: str,
    current: str,
    descending_first: bool = False,
    reversible: bool = True,
) -> dict[str, Any]:
    """A sortable column header: a link that sorts by ``key`` (and toggles direction).

    ``descending_first`` suits columns where the newest/largest first is the useful order.
    """
    ascending, descending = key, f"-{key}"
    if current == ascending:
        state, target = "ascending", descending if reversible else ascending
    elif current == descending:
        state, target = "descending", ascending
    else:
        state, target = "", descending if descending_first and reversible else ascending
    query = context["request"].GET.copy()
    query["sort"] = target
    query.pop("page", None)
    return {"label": label, "state": state, "href": "?" + query.urlencode()}


_IEC_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


@register.filter
def bytes_iec(value: Any, digits: int = 1) -> str:
    """1073741824 -> "1.0 GiB": binary units, named as IEC 80000-13 names them."""
    if value is None or value == "" or isinstance(value, bool):
        return ""
    try:
        size = float(value)
    except (TypeError, ValueError):
        return ""
    unit = 0
    while abs(size) >= 1024 and unit < len(_IEC_UNITS) - 1:
        size /= 1024
        unit += 1
    if unit == 0:
        return f"{int(size)} B"
    return f"{size:.{int(digits)}f} {_IEC_UNITS[unit]}"


@register.filter
def alert_value(value: str, rule: Any = None) -> str:
    """An alert's value as people read it. The engine stores it as ``str(float)``
    ("0.9153804204165935"); a rule on a ``_ratio`` metric (the default pack's file
    system, memory and CPU rules) shows it as a percentage ("91.5 %"), one on a
    ``_bytes`` metric in IEC units, other numbers to four significant digits. Text (a
    forecast's sentence) is left as it is."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    if not math.isfinite(number):
        return value
    condition = getattr(rule, "condition", None)
    metric = condition.get("metric", "") if isinstance(condition, dict) else ""
    if not isinstance(metric, str):
        metric = ""
    if metric.endswith("_ratio"):
        return f"{number * 100:.1f} %"
    if metric.endswith("_bytes"):
        return bytes_iec(number)
    return f"{number:.4g}"


@register.filter
def gib(value: Any) -> str:
    """Memory in GiB with one decimal, the unit people size machines in."""
    if value is None or value == "" or isinstance(value, bool):
        return ""
    try:
        return f"{float(value) / 2**30:.1f} GiB"
    except (TypeError, ValueError):
        return ""


@register.filter
def link_speed(mbps: Any) -> str:
    """A link speed in Mb/s as people say it: 100 -> "100 Mb/s", 2500 -> "2.5 Gb/s"."""
    if not isinstance(mbps, int) or isinstance(mbps, bool) or mbps <= 0:
        return ""
    if mbps >= 1000:
        return f"{mbps / 1000:g} Gb/s"
    return f"{mbps} Mb/s"
