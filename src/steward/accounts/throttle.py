"""Login throttling: N failures per account *or* per address within the lock-out window.

Counting per account stops a password guesser spreading over addresses; counting per
address stops one address trying many accounts. Rows live in the database so every replica
sees the same count.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from steward.accounts.models import LoginFailure


def _window_start():
    return timezone.now() - timedelta(seconds=settings.STEWARD["login_lockout"])


def is_throttled(email: str, address: str | None) -> bool:
    limit = settings.STEWARD["login_max_failures"]
    recent = LoginFailure.objects.filter(at__gte=_window_start())
    if recent.filter(email=email.lower()).count() >= limit:
        return True
    return bool(address) and recent.filter(address=address).count() >= limit * 4


def record_failure(email: str, address: str | None) -> None:
    LoginFailure.objects.create(email=email.lower(), address=address)


def clear(email: str) -> None:
    LoginFailure.objects.filter(email=email.lower()).delete()


def prune() -> int:
    """Drop records older than the window (run by the worker)."""
    deleted, _ = LoginFailure.objects.filter(at__lt=_window_start()).delete()
    return deleted
