"""Enrollment tokens: list, create (the secret is shown once), revoke."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from steward.console.common import console_view, get_or_404, in_current_org
from steward.console.manage.forms import EnrollmentTokenForm
from steward.console.manage.helpers import paginate, require_somewhere
from steward.inventory.api import enroll_command
from steward.inventory.models import EnrollmentToken
from steward.tenancy.models import Site
from steward.tenancy.roles import Capability


@console_view
def token_list(request: HttpRequest) -> HttpResponse:
    require_somewhere(request, Capability.MANAGE)
    tokens = in_current_org(
        request,
        EnrollmentToken.objects.select_related("site", "organization", "created_by"),
        Capability.MANAGE,
    )
    return render(
        request,
        "console/manage/enrollment_tokens.html",
        {
            "page": paginate(request, tokens),
        },
    )


@console_view
def token_create(request: HttpRequest) -> HttpResponse:
    require_somewhere(request, Capability.MANAGE)
    sites = in_current_org(request, Site.objects.select_related("organization"), Capability.MANAGE)
    initial = {"site": request.GET.get("site")} if request.GET.get("site") else None
    form = EnrollmentTokenForm(request.POST or None, sites=sites, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        token, secret = EnrollmentToken.issue(
            data["site"],
            data["name"],
            timedelta(hours=data["expires_in_hours"]),
            data["max_uses"],
            created_by=request.user,
        )
        # Rendered in the POST response itself, never stored (not even in the session):
        # this page is the only place the secret ever appears.
        return render(
            request,
            "console/manage/enrollment_token_created.html",
            {
                "token": token,
                "secret": secret,
                "command": enroll_command(secret),
            },
        )
    return render(
        request,
        "console/manage/form_page.html",
        {
            "title": "New enrollment token",
            "form": form,
            "submit": "Create token",
            "cancel": "console:enrollment-tokens",
            "no_sites": not sites.exists(),
        },
    )


@console_view
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_or_404(request, EnrollmentToken.objects.all(), Capability.MANAGE, pk=pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save()
        messages.success(
            request,
            f"Enrollment token {token.name} revoked: no new device can "
            "enroll with it. Devices already enrolled are not affected.",
        )
    return redirect("console:enrollment-tokens")
