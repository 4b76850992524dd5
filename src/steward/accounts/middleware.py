"""Enforce an organization's "require two-factor" setting for console sessions."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

# Paths a signed-in user without 2FA may still reach while setting it up.
ALLOWED_PREFIXES = (
    "/account/2fa/",
    "/logout/",
    "/static/",
    "/api/",
    "/healthz",
    "/readyz",
    "/metrics",
)


def two_factor_required(user) -> bool:
    if not user.is_authenticated or user.totp_enabled:
        return False
    return user.memberships.filter(organization__require_2fa=True).exists()


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.user.is_authenticated
            and not request.path.startswith(ALLOWED_PREFIXES)
            and two_factor_required(request.user)
        ):
            return redirect("console:totp-setup")
        return self.get_response(request)
