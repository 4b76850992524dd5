"""The one way the browser tests launch Chromium: Debian's, headless, through Playwright.

``tests/conftest.py`` makes the ``browser`` fixture below available to every test; a test
asks for it (with ``live_server``) and gets a launched Playwright ``Browser``. Without
/usr/bin/chromium the test is skipped (``apt-get install chromium``, see
scripts/system-packages.sh), except on CI, where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch) -> Iterator[object]:
    """A headless Chromium (``playwright.sync_api.Browser``), closed after the test."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: CI must install chromium for browser tests")
        pytest.skip(f"{CHROMIUM} is not installed (Debian package: chromium)")
    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls
    # from a thread with a running loop unless told it is deliberate.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield chromium
        finally:
            # ORM calls made while Playwright's loop runs get connections of that loop's
            # context, not the thread's: close them here, or each stays open and keeps
            # PostgreSQL from dropping the test database at the end of the run.
            from django.db import connections

            connections.close_all()
            chromium.close()
