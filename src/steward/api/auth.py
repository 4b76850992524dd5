"""API authentication: bearer API tokens, or the console's session (with CSRF).

Both produce a ``Principal`` in ``request.auth`` and put the caller into the audit context,
so every change made through the API is attributed.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from steward.accounts.models import ApiToken
from steward.audit import context
from steward.ops.middleware import client_address
from steward.tenancy.scoping import Principal


def _principal(request: HttpRequest, user, token: ApiToken | None) -> Principal:
    principal = Principal(
        user=user,
        token_role=token.role_ceiling if token else None,
        source="api",
        address=client_address(request),
    )
    label = user.email if token is None else f"{user.email} (token {token.prefix}…)"
    context.set_actor(
        context.Actor(user=user, label=label, source="api", address=principal.address)
    )
    return principal


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        api_token = ApiToken.authenticate(token)
        if api_token is None:
            return None
        return _principal(request, api_token.user, api_token)


class SessionAuth(APIKeyCookie):
    """The signed-in console user; unsafe methods need the CSRF token like any form."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Principal | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        from steward.accounts.middleware import two_factor_required

        if two_factor_required(user):
            return None
        return _principal(request, user, None)
