"""Put the signed-in console user and the client address into the audit context."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from steward.audit import context
from steward.ops.middleware import client_address


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user if request.user.is_authenticated else None
        source = "api" if request.path.startswith("/api/") else "console"
        with context.acting_as(
            user=user,
            label=user.email if user else "anonymous",
            source=source,
            address=client_address(request),
        ):
            return self.get_response(request)
