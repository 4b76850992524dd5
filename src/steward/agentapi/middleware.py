"""Refuse oversized agent bodies before anything reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

AGENT_PREFIX = "/api/v1/agent/"


class AgentBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(AGENT_PREFIX):
            limit = settings.STEWARD["agent_max_body"]
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = limit + 1
            if length > limit:
                return JsonResponse(
                    {
                        "detail": f"request body of {length} bytes exceeds the {limit}-byte limit",
                        "code": "too_large",
                    },
                    status=413,
                )
        return self.get_response(request)
