"""Test-wide settings live in tests/settings.py (chosen before Django starts).

Fixtures shared by every directory: ``browser`` (tests/browser.py), a headless Chromium
for the Playwright tests, the reset of the alert engine's per-process caches around
every test (tests/engines.py), ``open_real_store`` (a real metrics store installed as the
server's), and the release of long-lived threads' database sessions before the test
databases are dropped.
"""

import pytest

from tests.browser import browser  # noqa: F401
from tests.engines import _fresh_alert_caches  # noqa: F401


@pytest.fixture
def open_real_store(tmp_path):
    """Opens a real SQLite metrics store in ``tmp_path`` (keyword arguments go to
    ``open_store``) and installs it as the server's store, with the ingest paths'
    per-process series caches emptied; afterwards uninstalls and closes it and empties
    the caches again, so no later test meets its series ids."""
    from steward.metrics import agent, ingest
    from steward.metrics.store import set_store_for_tests
    from steward.tsdb import open_store

    opened = []

    def forget() -> None:
        ingest.line_series.clear()
        ingest.forget_metadata_cache()
        agent.forget_known_series()

    def make(**kwargs):
        store = open_store(tmp_path / "metrics.sqlite3", **kwargs)
        opened.append(store)
        forget()
        set_store_for_tests(store)
        return store

    yield make
    set_store_for_tests(None)
    forget()
    for store in opened:
        store.close()


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
