"""Retry delays: exponential backoff with jitter, pure.

``delay(n)`` is the wait after the n-th failed attempt: ``base * 2**(n-1)`` capped at
``cap``, then "equal jitter" — a uniform draw in the upper half — so that many deliveries
failing together (an endpoint that was down) do not come back in lock-step, while the
wait never drops below half the nominal delay (AWS Architecture Blog, "Exponential Backoff
and Jitter", 2015).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

BASE = timedelta(seconds=30)
CAP = timedelta(hours=1)


def delay(
    attempt: int,
    base: timedelta = BASE,
    cap: timedelta = CAP,
    rng: Callable[[], float] = random.random,
    retry_after: float | None = None,
) -> timedelta:
    """Wait before the next attempt, after ``attempt`` (1-based) failed attempts.

    A server's ``Retry-After`` (seconds) wins when it asks for longer, but never beyond cap.
    """
    nominal = min(cap.total_seconds(), base.total_seconds() * 2 ** max(0, attempt - 1))
    seconds = nominal / 2 + rng() * nominal / 2
    if retry_after is not None:
        seconds = max(seconds, min(retry_after, cap.total_seconds()))
    return timedelta(seconds=seconds)
