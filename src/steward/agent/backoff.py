"""Capped, jittered exponential backoff, shared by the runner and the check-results sender.

A server restart must not be met by every agent at the same instant, so each delay is
drawn at random below its ceiling ("equal jitter", as in the AWS Architecture Blog's
"Exponential Backoff And Jitter").
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Exponential delays, doubled per failure up to ``maximum``, with "equal jitter":
    each delay is drawn from [d/2, d] so that agents cut off together drift apart."""

    def __init__(
        self, initial: float, maximum: float, rand: Callable[[], float] = random.random
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self._rand = rand
        self.failures = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * 2**self.failures)
        self.failures += 1
        return ceiling / 2 + self._rand() * ceiling / 2

    def reset(self) -> None:
        self.failures = 0
