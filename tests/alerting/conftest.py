"""Shared helpers: a controllable clock and small builders (no Django here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z, an arbitrary fixed instant


@dataclass
class Clock:
    """The only source of time in these tests: every call takes ``clock.now``."""

    now: float = T0

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def utc(text: str) -> float:
    """POSIX time of an ISO-8601 UTC instant, e.g. ``utc("2025-03-30T01:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
