"""The alerts list (tabs, filters, bulk acknowledge), one alert (timeline, actions, the
metric around the event) and the operator actions, which go through the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from steward import __version__
from steward.alerts import problems
from steward.alerts.api.alerts import AlertFilter, filter_alerts
from steward.alerts.models import Alert, AlertEvent, CheckDefinition
from steward.api.errors import ApiError
from steward.console.alerts import charts
from steward.console.alerts.common import (
    ActionRefused,
    alerts_view,
    can,
    get_object,
    operate,
    refused_text,
)
from steward.console.common import in_current_org, shows_organization
from steward.console.core.redirects import safe_next
from steward.inventory.models import Device, Site
from steward.tenancy.roles import Capability

PAGE_SIZE = 50
MAX_BULK = 200
SEVERITIES = tuple((key, key.capitalize()) for key in problems.SEVERITY_ORDER)
SNOOZES = (("60", "1 hour"), ("240", "4 hours"), ("1440", "1 day"))
# Labels worth matching when silencing "alerts like this one".
SILENCE_LABELS = ("alertname", "device", "check", "mountpoint", "target", "site")


@dataclass(frozen=True)
class Tab:
    key: str
    title: str
    phases: str  # AlertFilter.status: a status or comma-separated phases
    empty: str


TABS = (
    Tab("firing", "Firing", ",".join(problems.FIRING_PHASES), "Nothing is firing."),
    Tab("acknowledged", "Acknowledged", "acknowledged", "No acknowledged alerts."),
    Tab("silenced", "Snoozed & muted", "snoozed,muted", "No snoozed or muted alerts."),
    Tab("resolved", "Resolved", "resolved", "No resolved alerts yet."),
)
TAB_BY_KEY = {t.key: t for t in TABS}

SEVERITY_RANK = Case(
    When(severity="critical", then=Value(0)),
    When(severity="warning", then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def list_queryset():
    # The rule for its metric: alert_value shows a ratio's value as a percentage.
    return Alert.objects.select_related("organization", "site", "device", "rule").defer(
        "description"
    )


def _filters(request: HttpRequest, tab: Tab) -> AlertFilter:
    get = request.GET
    severity = get.get("severity", "")
    return AlertFilter(
        site_id=_int(get.get("site")),
        device_id=_int(get.get("device")),
        severity=severity if severity in dict(SEVERITIES) else "",
        status=tab.phases,
        label=[v.strip() for v in get.getlist("label") if v.strip()][:10],
    )


def _search(qs, query: str):
    if not query:
        return qs
    return qs.filter(
        Q(title__icontains=query)
        | Q(rule_name__icontains=query)
        | Q(device__hostname__icontains=query)
        | Q(fingerprint=query)
    )


def _counts(base) -> dict[str, int]:
    """Alerts per tab, under the same filters: one query."""
    out = base.aggregate(**{t.key: Count("pk", filter=_tab_q(t)) for t in TABS})
    return {k: v or 0 for k, v in out.items()}


def _tab_q(tab: Tab) -> Q:
    if tab.phases == "resolved":
        return Q(status="resolved")
    return Q(phase__in=tab.phases.split(","))


def in_tab(key: str) -> Q:
    """The alerts on tab ``key`` ("firing", ...): what the dashboard and the device list
    count, so their numbers are the rows the tab they link to lists."""
    return _tab_q(TAB_BY_KEY[key])


@alerts_view
def alert_list(request: HttpRequest) -> HttpResponse:
    tab = TAB_BY_KEY.get(request.GET.get("tab", ""), TABS[0])
    query = request.GET.get("q", "").strip()[:200]
    filters = _filters(request, tab)
    scoped = in_current_org(request, list_queryset())
    error = ""
    try:
        unphased = _search(filter_alerts(scoped, filters.model_copy(update={"status": ""})), query)
        alerts = _search(filter_alerts(scoped, filters), query)
    except ApiError as exc:
        error = exc.detail[:1].upper() + exc.detail[1:]
        unphased = alerts = scoped.none()
    if tab.key == "resolved":
        alerts = alerts.order_by("-resolved_at", "-id")
    else:
        alerts = alerts.annotate(rank=SEVERITY_RANK).order_by("rank", "-started_at", "-id")
    page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = _counts(unphased)
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("tab", None)
    context = {
        "section": "alerts",
        "tab": tab,
        "tabs": [(t, counts[t.key]) for t in TABS],
        "page_obj": page,
        "q": query,
        "error": error,
        "filters": filters,
        "labels": filters.label,
        "severities": SEVERITIES,
        "sites": in_current_org(request, Site.objects.select_related("organization")),
        "device": (
            in_current_org(request, Device.objects.only("pk", "hostname", "organization_id"))
            .filter(pk=filters.device_id)
            .first()
            if filters.device_id
            else None
        ),
        "filtered": bool(
            query or filters.site_id or filters.device_id or filters.severity or filters.label
        ),
        "keep": params.urlencode(),
        "show_organization": shows_organization(request),
        "can_operate": can(request, Capability.OPERATE),
        "can_manage": can(request, Capability.MANAGE),
        "here": request.get_full_path(),
        "now": timezone.now(),
    }
    template = "console/alerts/list.html"
    if request.headers.get("X-Steward-Fragment") == "alerts":
        template = "console/alerts/_live.html"
    return render(request, template, context)


@require_POST
@alerts_view
def bulk_ack(request: HttpRequest) -> HttpResponse:
    """Acknowledge the selected alerts, each through the engine like the API's ``/ack``."""
    back = safe_next(request, request.POST.get("next")) or reverse("console:alerts")
    ids = [int(v) for v in request.POST.getlist("alert") if v.isdigit()][:MAX_BULK]
    note = request.POST.get("note", "").strip()[:2000]
    if not ids:
        messages.info(request, "Select the alerts to acknowledge first.")
        return redirect(back)
    chosen = in_current_org(request, Alert.objects.all(), Capability.OPERATE).filter(pk__in=ids)
    done = 0
    for alert in chosen:
        try:
            operate(request, alert, "ack", note=note)
        except ActionRefused:
            continue
        done += 1
    if done:
        messages.success(request, f"Acknowledged {done} alert{'s' if done != 1 else ''}.")
    skipped = len(ids) - done
    if skipped:
        messages.warning(request, f"{skipped} alert{'s were' if skipped != 1 else ' was'} not "
                         "acknowledged (resolved already, or not yours to act on).")  # fmt: skip
    return redirect(back)


def _silence_query(alert: Alert) -> str:
    from urllib.parse import urlencode

    labels = alert.labels or {}
    matchers = [f'{k}="{labels[k]}"' for k in SILENCE_LABELS if labels.get(k)]
    return urlencode({"org": alert.organization_id, "matchers": "\n".join(matchers),
                      "reason": f"Alert #{alert.pk}: {alert.title or alert.rule_name}",
                      "from_alert": alert.pk})  # fmt: skip


@alerts_view
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object(request, Alert.objects.select_related("organization", "site", "device",
                                                               "rule"), pk=pk)  # fmt: skip
    events = AlertEvent.objects.filter(alert=alert).order_by("-at", "-id")
    check = None
    if alert.labels.get("check"):
        check = (
            CheckDefinition.objects.filter(
                organization_id=alert.organization_id, name=alert.labels["check"]
            )
            .select_related("status", "device")
            .first()
        )
    metric_charts = charts.metric_charts(alert)
    check_charts = charts.check_charts(alert) if check is not None else []
    active = alert.status in ("pending", "firing")
    return render(
        request,
        "console/alerts/detail.html",
        {
            "section": "alerts",
            "alert": alert,
            "events": events,
            "labels": sorted((k, v) for k, v in (alert.labels or {}).items() if v != ""),
            "check": check,
            "charts": metric_charts + check_charts,
            "window": charts.window(alert),
            "active": active,
            "can_operate": can(request, Capability.OPERATE, alert.organization_id),
            "snoozes": SNOOZES,
            "silence_query": _silence_query(alert),
        },
    )


def _until(request: HttpRequest) -> float | None:
    minutes = request.POST.get("minutes", "")
    if minutes.isdigit() and 1 <= int(minutes) <= 60 * 24 * 30:
        return (timezone.now() + timedelta(minutes=int(minutes))).timestamp()
    raw = request.POST.get("until", "").strip()
    parsed: datetime | None = parse_datetime(raw) if raw else None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed.timestamp()


ACTION_DONE = {
    "ack": "Acknowledged.",
    "unack": "Acknowledgement removed: the alert is firing again.",
    "snooze": "Snoozed.",
    "unsnooze": "Snooze ended.",
    "mute": "Muted until resolved: no more notifications for this episode.",
    "unmute": "Unmuted.",
}


@require_POST
@alerts_view
def alert_action(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object(request, Alert.objects.all(), Capability.OPERATE, pk=pk)
    back = reverse("console:alert", args=[alert.pk])
    op = request.POST.get("op", "")
    if op not in ACTION_DONE:
        messages.error(request, "Unknown action.")
        return redirect(back)
    arguments: dict = {}
    if op == "ack":
        arguments["note"] = request.POST.get("note", "").strip()[:2000]
    elif op == "snooze":
        until = _until(request)
        if until is None or until <= timezone.now().timestamp():
            messages.error(request, "Snooze: choose a duration, or a date and time in the future.")
            return redirect(back)
        arguments["until"] = until
    try:
        operate(request, alert, op, **arguments)
    except ActionRefused as exc:
        messages.error(request, refused_text(exc))
    else:
        messages.success(request, ACTION_DONE[op])
    return redirect(back)


@require_GET
@cache_control(public=True, max_age=3600)
def alerts_js(request: HttpRequest) -> HttpResponse:
    body = render_to_string("console/alerts/alerts.js", {"version": __version__})
    return HttpResponse(body, content_type="text/javascript; charset=utf-8")
