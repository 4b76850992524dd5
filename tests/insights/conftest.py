from __future__ import annotations

import pytest

from tests.server.conftest import *  # noqa: F403

NOW_MS = 1_772_452_800_000  # 2026-03-02 12:00 UTC, a Monday


class Clock:
    def __init__(self, now_ms: int = NOW_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    """The real store on a throw-away SQLite file, with a frozen clock; also get_store()'s."""
    from steward.metrics.store import set_store_for_tests
    from steward.tsdb import open_store

    opened = open_store(tmp_path / "metrics.sqlite3", clock=clock)
    set_store_for_tests(opened)
    yield opened
    set_store_for_tests(None)
    opened.close()
