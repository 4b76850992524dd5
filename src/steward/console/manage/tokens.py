"""The signed-in user's own API tokens: list, create (the secret is shown once), revoke.

Tokens belong to a person, not to an organization, so they are looked up by owner rather
than through the tenant scoping: nobody, not even a superuser, sees another user's tokens.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from steward.accounts.models import ApiToken
from steward.console.common import console_view
from steward.console.manage.forms import ApiTokenForm
from steward.console.manage.helpers import paginate


def _own_tokens(request: HttpRequest) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user_id=request.user.pk)


@console_view
def token_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/manage/api_tokens.html",
        {
            "page": paginate(request, _own_tokens(request)),
        },
    )


@console_view
def token_create(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        days = data["expires_in_days"]
        token, secret = ApiToken.issue(
            request.user,
            data["name"],
            data["role"],  # type: ignore[arg-type]
            timedelta(days=days) if days else None,
        )
        # Shown in this response only; the database keeps the hash.
        return render(
            request,
            "console/manage/api_token_created.html",
            {
                "token": token,
                "secret": secret,
            },
        )
    return render(
        request,
        "console/manage/form_page.html",
        {
            "title": "New API token",
            "form": form,
            "submit": "Create token",
            "cancel": "console:api-tokens",
        },
    )


@console_view
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = _own_tokens(request).filter(pk=pk).first()
    if token is None:
        raise Http404
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save()
        messages.success(request, f"API token {token.name} revoked.")
    return redirect("console:api-tokens")
