"""Test-wide settings live in tests/settings.py (chosen before Django starts).

Fixtures shared by every directory: ``browser`` (tests/browser.py), a headless Chromium
for the Playwright tests.
"""

from tests.browser import browser  # noqa: F401
