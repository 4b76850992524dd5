from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from tests.server.conftest import *  # noqa: F403

# Until the lead adds "steward.insights" to INSTALLED_APPS (tests/insights/LEAD_TODO.md),
# the app's models cannot load: skip collecting these tests instead of breaking the suite.
INSTALLED = "steward.insights" in django_settings.INSTALLED_APPS
collect_ignore_glob = [] if INSTALLED else ["test_*.py", "isolation.py", "urls.py", "data.py"]

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


@pytest.fixture(autouse=True)
def _insights_urls(settings):
    from tests.insights import urls

    if not urls.MOUNTED:
        settings.ROOT_URLCONF = "tests.insights.urls"
