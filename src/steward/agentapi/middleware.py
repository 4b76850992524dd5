"""Refuse oversized agent bodies before anything reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

AGENT_PREFIX = "/api/v1/agent/"


def body_limit_response(content_length: str, limit: int) -> JsonResponse | None:
    """The 413 for a declared body over ``limit`` bytes, else None.

    An unreadable ``Content-Length`` counts as too large. Shared with the lean route for
    agent metrics (``steward.server.lean``), which must answer exactly as this middleware.
    """
    try:
        length = int(content_length or 0)
    except ValueError:
        length = limit + 1
    if length <= limit:
        return None
    return JsonResponse(
        {
            "detail": f"request body of {length} bytes exceeds the {limit}-byte limit",
            "code": "too_large",
        },
        status=413,
    )


class AgentBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(AGENT_PREFIX):
            refused = body_limit_response(
                request.META.get("CONTENT_LENGTH") or "", settings.STEWARD["agent_max_body"]
            )
            if refused is not None:
                return refused
        return self.get_response(request)
