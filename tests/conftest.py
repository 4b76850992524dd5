"""Test-wide settings live in tests/settings.py (chosen before Django starts).

Fixtures shared by every directory: ``browser`` (tests/browser.py), a headless Chromium
for the Playwright tests, and the reset of the alert engine's per-process caches around
every test (tests/engines.py).
"""

from tests.browser import browser  # noqa: F401
from tests.engines import _fresh_alert_caches  # noqa: F401
