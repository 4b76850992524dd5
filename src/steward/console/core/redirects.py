"""Where to send someone next, without becoming an open redirect."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, value: str | None) -> str | None:
    """``value`` if it is a URL on this site (same host, same or safer scheme), else None."""
    if not value:
        return None
    if url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return None
