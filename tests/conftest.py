"""Test-wide settings live in tests/settings.py (chosen before Django starts).

Fixtures shared by every directory: ``browser`` (tests/browser.py), a headless Chromium
for the Playwright tests, the reset of the alert engine's per-process caches around
every test (tests/engines.py), and the release of long-lived threads' database sessions
before the test databases are dropped.
"""

import pytest

from tests.browser import browser  # noqa: F401
from tests.engines import _fresh_alert_caches  # noqa: F401


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's test databases, and before they are dropped, the connections of
    threads that outlive a test closed (PostgreSQL refuses to drop a database that still
    has sessions: "There are N other sessions using the database")."""
    yield
    import gc

    from steward.metrics import ingest, store

    ingest.close_ingest_threads()  # their Django connections
    store.close_store()  # the metrics store's connections, one per thread that used it
    # Threads that have ended (the live server's request threads) leave their Django
    # connection in a reference cycle: only the cycle collector frees (and closes) it.
    gc.collect()
