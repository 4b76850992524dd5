"""Notification channels (``steward.notify``): list with health, create/edit with
write-only secrets, "send test", and each channel's delivery log.

Everything goes through ``steward.notify.services`` — the functions the API calls — so the
validation and the secret handling are the same (docs/notifications.md).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from steward.console.alerts import fields as f
from steward.console.alerts.common import alerts_view, can, get_object
from steward.console.alerts.config import _target_org
from steward.console.common import in_current_org, principal, shows_organization
from steward.notify import services
from steward.notify.models import Channel, Delivery
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import scoped

KINDS = (("email", "Email (SMTP)"), ("webhook", "Webhook (signed JSON)"),
         ("apprise", "Apprise (Slack, Teams, Telegram, ntfy, …)"))  # fmt: skip
SECURITY = (("starttls", "STARTTLS"), ("ssl", "TLS (SMTPS)"), ("none", "None"))
SECRET_FIELDS = {"email": ("password",), "webhook": ("secret",), "apprise": ("apprise_url",)}
SECRET_KEY = {"password": "password", "secret": "secret", "apprise_url": "url"}


def queryset():
    return Channel.objects.select_related("organization", "health")


class ChannelForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=KINDS, widget=forms.Select(attrs={"data-channel-kind": ""}))
    enabled = forms.BooleanField(required=False, initial=True)
    max_attempts = forms.IntegerField(min_value=1, max_value=20, initial=5)
    timeout = forms.FloatField(
        required=False,
        min_value=0.1,
        max_value=60,
        help_text="Seconds (default: email 10, webhook 5, apprise 10)",
    )
    # email
    host = forms.CharField(required=False, max_length=255, label="SMTP host")
    port = forms.IntegerField(required=False, min_value=1, max_value=65535, initial=587)
    security = forms.ChoiceField(choices=SECURITY, required=False, initial="starttls")
    username = forms.CharField(required=False, max_length=255)
    from_address = forms.CharField(required=False, max_length=255, label="From address")
    to = f.Lines(label="To", help_text="Recipients, one a line")
    password = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    # webhook
    url = forms.CharField(required=False, max_length=2000, label="URL",
                          help_text="Visible to everyone who can see the channel: put "
                          "credentials in the secret.")  # fmt: skip
    secret = forms.CharField(
        required=False,
        max_length=500,
        label="Signing secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="HMAC key; generated when left empty on creation.",
    )
    # apprise
    apprise_url = forms.CharField(required=False, max_length=2000, label="Apprise URL",
                                  widget=forms.PasswordInput(render_value=False,
                                                             attrs={"autocomplete": "off"}),
                                  help_text="slack://…, msteams://…, tgram://… (secret as a "
                                  "whole)")  # fmt: skip

    def config(self) -> dict[str, Any]:
        d = self.cleaned_data
        kind = d["kind"]
        out: dict[str, Any] = {}
        if kind == "email":
            out = {"host": d["host"], "port": d["port"] or 587,
                   "security": d["security"] or "starttls", "username": d["username"],
                   "from_address": d["from_address"], "to": f.lines(d["to"])}  # fmt: skip
        elif kind == "webhook":
            out = {"url": d["url"]}
        if d["timeout"]:
            out["timeout"] = d["timeout"]
        return out

    def secrets(self) -> dict[str, str]:
        """Only the secrets typed in: an empty box keeps the stored value."""
        d = self.cleaned_data
        return {SECRET_KEY[n]: d[n] for n in SECRET_FIELDS[d["kind"]] if d[n]}

    def add_settings_error(self, message: str) -> None:
        where, _, text = message.partition(": ")
        name = where.split(".")[-1]
        name = {"url": "apprise_url"}.get(name, name) if where.startswith("secrets") else name
        if name in self.fields:
            self.add_error(name, text or message)
        else:
            self.add_error(None, message)


def _initial(channel: Channel) -> dict[str, Any]:
    cfg = dict(channel.config or {})
    return {"name": channel.name, "kind": channel.kind, "enabled": channel.enabled,
            "max_attempts": channel.max_attempts, **cfg,
            "to": "\n".join(cfg.get("to", []))}  # fmt: skip


@alerts_view
def channel_list(request: HttpRequest) -> HttpResponse:
    items = list(in_current_org(request, queryset()).order_by("name")[:500])
    for c in items:
        c.masked = services.masked(c)
    return render(request, "console/alerts/channels.html", {
        "section": "channels", "items": items, "can_edit": can(request, Capability.MANAGE),
        "show_organization": shows_organization(request),
    })  # fmt: skip


@alerts_view
def channel_create(request: HttpRequest) -> HttpResponse:
    if not can(request, Capability.MANAGE):
        raise Http404
    org = _target_org(request, Capability.MANAGE)
    if org is None:
        orgs = scoped(Organization.objects.order_by("name"), principal(request), Capability.MANAGE)
        return render(request, "console/alerts/pick_org.html",
                      {"section": "channels", "kind": {"singular": "channel"}, "orgs": orgs,
                       "query": request.GET.urlencode()})  # fmt: skip
    form = ChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            channel, generated = services.create_channel(
                org.pk, form.cleaned_data["name"], form.cleaned_data["kind"], form.config(),
                form.secrets(), enabled=form.cleaned_data["enabled"],
                max_attempts=form.cleaned_data["max_attempts"], created_by=request.user,
            )  # fmt: skip
        except services.InvalidSettings as exc:
            form.add_settings_error(str(exc))
        except services.DuplicateName as exc:
            form.add_error("name", str(exc))
        else:
            if generated:
                return render(request, "console/alerts/channel_created.html",
                              {"section": "channels", "channel": channel,
                               "generated": generated})  # fmt: skip
            messages.success(request, f"Created channel “{channel.name}”.")
            return redirect("console:alert-channels")
    return render(
        request,
        "console/alerts/channel_form.html",
        {"section": "channels", "form": form, "org": org, "obj": None},
    )


@alerts_view
def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object(request, queryset(), pk=pk)
    editable = can(request, Capability.MANAGE, channel.organization_id)
    if request.method == "POST":
        principal(request).require(Capability.MANAGE, channel.organization_id)
        data = request.POST.copy()
        data["kind"] = channel.kind  # the kind of a channel never changes
        form = ChannelForm(data)
        if form.is_valid():
            changes = {"name": form.cleaned_data["name"], "config": form.config(),
                       "secrets": form.secrets(), "enabled": form.cleaned_data["enabled"],
                       "max_attempts": form.cleaned_data["max_attempts"]}  # fmt: skip
            # A full form replaces the visible settings (keys left empty are dropped).
            channel.config = {}
            try:
                services.update_channel(channel, changes)
            except services.InvalidSettings as exc:
                form.add_settings_error(str(exc))
            except services.DuplicateName as exc:
                form.add_error("name", str(exc))
            else:
                messages.success(request, f"Saved channel “{channel.name}”.")
                return redirect("console:alert-channels")
            channel.refresh_from_db()
    else:
        form = ChannelForm(initial=_initial(channel))
    form.fields["kind"].disabled = True
    if not editable:
        for field in form.fields.values():
            field.disabled = True
    return render(request, "console/alerts/channel_form.html", {
        "section": "channels", "form": form, "org": channel.organization, "obj": channel,
        "masked": services.masked(channel), "editable": editable,
    })  # fmt: skip


@require_POST
@alerts_view
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object(request, Channel.objects.all(), Capability.MANAGE, pk=pk)
    delivery = services.send_test(channel, request.user.email)
    if delivery.status == "sent":
        messages.success(request, f"Test message sent through “{channel.name}”.")
    else:
        error = delivery.last_error or delivery.status
        messages.error(request, f"The test message through “{channel.name}” failed: {error}")
    return redirect(reverse("console:alert-channel-deliveries", args=[channel.pk]))


@require_POST
@alerts_view
def channel_delete(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object(request, Channel.objects.all(), Capability.MANAGE, pk=pk)
    name = channel.name
    channel.delete()
    messages.success(request, f"Deleted channel “{name}” and its delivery log.")
    return redirect("console:alert-channels")


@alerts_view
def channel_deliveries(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object(request, queryset(), pk=pk)
    deliveries = (
        Delivery.objects.filter(channel=channel)
        .defer("payload")
        .prefetch_related("attempt_log")
        .order_by("-created_at", "-id")
    )
    page = Paginator(deliveries, 50).get_page(request.GET.get("page"))
    return render(request, "console/alerts/channel_deliveries.html", {
        "section": "channels", "channel": channel, "page_obj": page,
        "can_edit": can(request, Capability.MANAGE, channel.organization_id),
    })  # fmt: skip
