"""The monitoring configuration in the console: one table of kinds, the same four views
(list, create, edit, delete) for each, plus a few one-button actions (enable/disable a
rule, expire a silence, run a check now).

Saving goes through the API's own code path (``common.save_item``), so validation, name
conflicts and the engine's config version are the same whichever door is used.
Capabilities as in the API: silences need *operate* (technicians silence); the rest
*manage* (admins). Everyone with *view* reads the lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from steward.alerting.oncall import who_is_on_call
from steward.alerts import checklist, runner, specs
from steward.alerts import models as m
from steward.alerts.api.config import ping_url
from steward.alerts.config import _rotation
from steward.checks import types
from steward.console.alerts import forms as af
from steward.console.alerts.common import SaveFailed, alerts_view, can, get_object, save_item
from steward.console.common import current_org, in_current_org, principal, shows_organization
from steward.inventory.models import Device
from steward.notify.models import Channel
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import scoped


@dataclass(frozen=True)
class ConfigKind:
    key: str  # the monitoring-file list name (specs, API routes)
    url: str  # URL name prefix: "alert-rule" -> alert-rules, alert-rule-create, ...
    title: str
    singular: str
    form: type[af.SpecForm]
    capability: Capability
    queryset: Callable[[], QuerySet]
    intro: str = ""
    related: tuple[str, ...] = field(default_factory=tuple)


KINDS: dict[str, ConfigKind] = {
    k.key: k
    for k in (
        ConfigKind("rules", "alert-rule", "Alert rules", "rule", af.RuleForm, Capability.MANAGE,
                   lambda: m.AlertRule.objects.select_related("organization", "escalation")
                   .prefetch_related("channels"),
                   "When an alert fires. The default pack is created for every organization; "
                   "edit or disable its rules freely, they are never overwritten."),
        ConfigKind("silences", "alert-silence", "Silences", "silence", af.SilenceForm,
                   Capability.OPERATE,
                   lambda: m.Silence.objects.select_related("organization"),
                   "Matching alerts are still evaluated and recorded, but nobody is notified."),
        ConfigKind("maintenance_windows", "alert-window", "Maintenance windows",
                   "maintenance window", af.WindowForm, Capability.MANAGE,
                   lambda: m.MaintenanceWindow.objects.select_related("organization"),
                   "Weekly slots in which matching alerts notify nobody."),
        ConfigKind("escalation_policies", "alert-escalation", "Escalation policies",
                   "escalation policy", af.EscalationForm, Capability.MANAGE,
                   lambda: m.EscalationPolicy.objects.select_related("organization"),
                   "Who hears about an alert nobody acknowledges, and when."),
        ConfigKind("rotations", "alert-rotation", "On-call rotations", "rotation",
                   af.RotationForm, Capability.MANAGE,
                   lambda: m.Rotation.objects.select_related("organization"),
                   "Rosters escalation steps can page."),
        ConfigKind("checks", "alert-check", "Checks", "check", af.CheckForm, Capability.MANAGE,
                   lambda: m.CheckDefinition.objects.select_related("organization", "device",
                                                                    "status"),
                   "Agent-side checks run on their device; server-side checks run in the "
                   "worker. A hard non-OK state raises the “Check failing” alert."),
        ConfigKind("heartbeats", "alert-heartbeat", "Heartbeats", "heartbeat",
                   af.HeartbeatForm, Capability.MANAGE,
                   lambda: m.HeartbeatCheck.objects.select_related("organization"),
                   "Jobs that ping Steward (cron, backups, CI). A missing ping raises an "
                   "alert."),
    )
}  # fmt: skip


def _names(model: Any, org_id: int) -> list[str]:
    return list(model.objects.filter(organization_id=org_id).order_by("name")
                .values_list("name", flat=True))  # fmt: skip


def form_kwargs(kind: ConfigKind, org_id: int) -> dict[str, Any]:
    kw: dict[str, Any] = {"channels": _names(Channel, org_id)}
    if kind.key == "rules":
        kw["escalations"] = _names(m.EscalationPolicy, org_id)
    if kind.key == "checks":
        kw["devices"] = list(
            Device.objects.active()
            .filter(organization_id=org_id)
            .order_by("hostname")
            .values_list("hostname", flat=True)
        )
        kw["types"] = types()
    return kw  # fmt: skip


def _target_org(request: HttpRequest, capability: Capability) -> Organization | None:
    """The organization a new item goes to: ``?org=``, the switcher's, or the only one."""
    allowed = scoped(Organization.objects.all(), principal(request), capability)
    raw = request.GET.get("org") or request.POST.get("org") or ""
    if raw.isdigit():
        return allowed.filter(pk=int(raw)).first()
    org = current_org(request)
    if org is not None:
        return allowed.filter(pk=org.pk).first()
    found = list(allowed[:2])
    return found[0] if len(found) == 1 else None


# --------------------------------------------------------------------- lists


def _rows(kind: ConfigKind, items: list[Any]) -> list[Any]:
    now = timezone.now()
    for item in items:
        if kind.key == "silences":
            item.active = item.starts_at <= now < item.ends_at
            item.expired = item.ends_at <= now
        elif kind.key == "heartbeats":
            item.ping_url = ping_url(item)
        elif kind.key == "rotations":
            try:
                item.on_call = who_is_on_call(_rotation(item), now.timestamp())
            except Exception:  # an invalid stored roster must not break the list
                item.on_call = None
        elif kind.key == "rules":
            item.spec_summary = rule_summary(item)
    return items


def rule_summary(rule: m.AlertRule) -> str:
    """The condition in one line, e.g. ``steward_load_per_core > 2 for 15m``."""
    cond = rule.condition or {}
    kind = cond.get("kind")
    if kind == "threshold":
        reducer = cond.get("reducer", "last")
        metric = cond["metric"] if reducer == "last" else f"{reducer}({cond['metric']})"
        text = f"{metric} {cond.get('op')} {cond.get('threshold'):g}"
    elif kind == "absence":
        text = f"no {cond.get('metric')} for {specs.fmt_duration(cond.get('seconds'))}"
    elif kind == "check":
        text = f"check {cond.get('check', '*')} not OK"
    elif kind == "forecast":
        text = f"{cond.get('resource')} runs out within {specs.fmt_duration(cond.get('within_s'))}"
    elif kind == "anomaly":
        what = cond.get("signal") or cond.get("metric")
        text = f"anomaly score of {what} >= {cond.get('level', 0.5):g}"
    elif kind == "disk_health":
        text = f"disk {cond.get('disk', '*')} health {cond.get('min_level', 'warning')} or worse"
    else:
        text = f"no contact for {specs.fmt_duration(cond.get('after_s', 120))}"
    if rule.for_s:
        text += f" for {specs.fmt_duration(rule.for_s)}"
    return text


@alerts_view
def config_list(request: HttpRequest, key: str) -> HttpResponse:
    kind = KINDS[key]
    qs = in_current_org(request, kind.queryset())
    show = request.GET.get("show", "")
    if kind.key == "silences":
        now = timezone.now()
        qs = qs.filter(ends_at__lte=now) if show == "expired" else qs.filter(ends_at__gt=now)
    device = status = ""
    if kind.key == "checks":
        if request.GET.get("device", "").isdigit():
            device = request.GET["device"]
            qs = qs.filter(device_id=int(device))
        # As GET /api/v1/checks?status= and the dashboard's "Failing checks" tile; an
        # unknown value filters nothing.
        if request.GET.get("status", "") in checklist.FILTERS:
            status = request.GET["status"]
            qs = checklist.with_status(qs, status)
    items = _rows(kind, list(qs[:500]))
    return render(request, f"console/alerts/config_{kind.key}.html", {
        "section": kind.key, "kind": kind, "items": items, "show": show,
        "status": status, "check_statuses": checklist.STATUSES,
        "filter_device": device,
        "can_edit": can(request, kind.capability),
        "can_operate": can(request, Capability.OPERATE),
        "show_organization": shows_organization(request),
    })  # fmt: skip


# --------------------------------------------------------------------- create, edit, delete


def _save_form(request: HttpRequest, kind: ConfigKind, form: af.SpecForm, org_id: int,
               obj: Any = None) -> Any:  # fmt: skip
    spec = form.to_spec()
    if obj is not None:
        stored = specs.kind(kind.key).export(obj)
        spec = {**{k: v for k, v in stored.items() if k not in form.controlled}, **spec}
    if kind.key == "silences" and obj is None:
        spec["author"] = principal(request).user.email
    try:
        return save_item(kind.key, org_id, spec, obj)
    except SaveFailed as exc:
        form.add_spec_error(exc.field, exc.message)
        return None


def _initial_from_query(kind: ConfigKind, request: HttpRequest) -> dict[str, Any]:
    if kind.key != "silences":
        return {}
    get = request.GET
    return {k: get[k] for k in ("matchers", "reason") if get.get(k)}


@alerts_view
def config_create(request: HttpRequest, key: str) -> HttpResponse:
    kind = KINDS[key]
    if not can(request, kind.capability):
        raise Http404
    org = _target_org(request, kind.capability)
    if org is None:
        orgs = scoped(Organization.objects.order_by("name"), principal(request), kind.capability)
        return render(request, "console/alerts/pick_org.html",
                      {"section": kind.key, "kind": kind, "orgs": orgs,
                       "query": request.GET.urlencode()})  # fmt: skip
    kw = form_kwargs(kind, org.pk)
    if request.method == "POST":
        form = kind.form(request.POST, **kw)
        if form.is_valid():
            saved = _save_form(request, kind, form, org.pk)
            if saved is not None:
                messages.success(request, f"Created {kind.singular} “{saved}”.")
                return redirect(reverse(f"console:{kind.url}s"))
    else:
        form = kind.form(initial=_initial_from_query(kind, request), **kw)
    return render(request, "console/alerts/form.html", {
        "section": kind.key, "kind": kind, "form": form, "org": org, "obj": None,
        "cancel": reverse(f"console:{kind.url}s"),
    })  # fmt: skip


@alerts_view
def config_edit(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    kind = KINDS[key]
    obj = get_object(request, kind.queryset(), pk=pk)
    editable = can(request, kind.capability, obj.organization_id)
    kw = form_kwargs(kind, obj.organization_id)
    if request.method == "POST":
        principal(request).require(kind.capability, obj.organization_id)
        form = kind.form(request.POST, **kw)
        if form.is_valid():
            saved = _save_form(request, kind, form, obj.organization_id, obj)
            if saved is not None:
                messages.success(request, f"Saved {kind.singular} “{saved}”.")
                return redirect(reverse(f"console:{kind.url}s"))
    else:
        form = kind.form(initial=kind.form.initial_from(specs.kind(kind.key).export(obj)), **kw)
    if not editable:
        for bound in form.fields.values():
            bound.disabled = True
    extra: dict[str, Any] = {}
    if kind.key == "heartbeats":
        extra["ping_url"] = ping_url(obj)
        extra["pings"] = obj.pings.all()[:20]
    if kind.key == "checks":
        extra["status"] = getattr(obj, "status", None)
        if can(request, Capability.OPERATE, obj.organization_id):
            extra["run_url"] = reverse("console:alert-check-run", args=[obj.pk])
    if editable:
        extra["delete_url"] = reverse(f"console:{kind.url}-delete", args=[obj.pk])
    return render(request, "console/alerts/form.html", {
        "section": kind.key, "kind": kind, "form": form, "org": obj.organization, "obj": obj,
        "editable": editable, "cancel": reverse(f"console:{kind.url}s"), **extra,
    })  # fmt: skip


@require_POST
@alerts_view
def config_delete(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    kind = KINDS[key]
    obj = get_object(request, kind.queryset(), kind.capability, pk=pk)
    name = str(obj)
    obj.delete()
    messages.success(request, f"Deleted {kind.singular} “{name}”.")
    return redirect(reverse(f"console:{kind.url}s"))


# --------------------------------------------------------------------- one-button actions


@require_POST
@alerts_view
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object(request, KINDS["rules"].queryset(), Capability.MANAGE, pk=pk)
    spec = {**specs.kind("rules").export(rule), "enabled": not rule.enabled}
    try:
        save_item("rules", rule.organization_id, spec, rule)
    except SaveFailed as exc:
        messages.error(request, f"{rule.name}: {exc.field}: {exc.message}")
    else:
        state = "enabled" if spec["enabled"] else "disabled"
        messages.success(request, f"Rule “{rule.name}” {state}.")
    return redirect(reverse("console:alert-rules"))


@require_POST
@alerts_view
def silence_expire(request: HttpRequest, pk: int) -> HttpResponse:
    silence = get_object(request, m.Silence.objects.all(), Capability.OPERATE, pk=pk)
    now = timezone.now()
    spec = specs.kind("silences").export(silence)
    # Ends a second ago; one not started yet (or started within that second) never took
    # effect, and its start moves back so the spec's "ends after starts" still holds.
    spec["starts"] = specs.iso(min(silence.starts_at, now - timedelta(seconds=2)))
    spec["ends"] = specs.iso(now - timedelta(seconds=1))
    spec.pop("duration", None)
    try:
        save_item("silences", silence.organization_id, spec, silence)
    except SaveFailed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Silence “{silence}” expired.")
    return redirect(reverse("console:alert-silences"))


@require_POST
@alerts_view
def check_run(request: HttpRequest, pk: int) -> HttpResponse:
    """As ``POST /api/v1/checks/{id}/run``: server-side now, agent-side at its next pull."""
    check = get_object(request, KINDS["checks"].queryset(), Capability.OPERATE, pk=pk)
    if check.device_id is None:
        runner.run_one(check)
        status = m.CheckStatus.objects.filter(definition=check).first()
        result = f"{status.status}: {status.message}" if status else "no result"
        messages.success(request, f"Ran “{check.name}” — {result}.")
    else:
        m.CheckDefinition.objects.filter(pk=check.pk).update(run_requested_at=timezone.now())
        messages.success(request, f"“{check.name}” runs at the agent's next check-in.")
    back = request.POST.get("next", "")
    return redirect(back if back.startswith("/") and not back.startswith("//")
                    else reverse("console:alert-checks"))  # fmt: skip
