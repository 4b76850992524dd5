"""Closing what keeps database sessions open for the life of the process.

``ingest.close_ingest_threads`` (the ingest threads keep their connections between requests
on purpose) and ``store.close_store`` (one metrics-store connection per thread that used
it): at server shutdown and before a test run drops its database those sessions must end.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from steward.metrics import ingest, store
from steward.tenancy.models import Organization


def ingest_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("steward-ingest")]


@pytest.mark.django_db(transaction=True)
def test_closing_the_ingest_threads_ends_them_and_their_connections():
    Organization.objects.create(name="Ingest")
    opened = []

    def remember(sender, connection, **kwargs) -> None:
        if threading.current_thread().name.startswith("steward-ingest"):
            opened.append(connection)

    async def on_every_thread() -> list[int]:
        return await asyncio.gather(
            *(ingest.in_ingest_thread(Organization.objects.count) for _ in range(8))
        )

    ingest.close_ingest_threads()  # a fresh pool: each of its threads opens a connection
    connection_created.connect(remember)
    try:
        assert asyncio.run(on_every_thread()) == [1] * 8
    finally:
        connection_created.disconnect(remember)
    assert opened and ingest_threads()

    ingest.close_ingest_threads()
    assert ingest_threads() == []
    if not (connection.vendor == "sqlite" and connection.is_in_memory_db()):
        # (Django never closes an in-memory SQLite connection: it would lose the data.)
        assert all(c.connection is None for c in opened)
    # The next request starts a new pool.
    assert asyncio.run(on_every_thread()) == [1] * 8
    ingest.close_ingest_threads()


def live(pids: list[int]) -> set[int]:
    """Which of these backend pids still have a session on the test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid = ANY(%s)",
            [pids],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_closing_the_metrics_store_ends_the_sessions_of_every_thread_that_used_it():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no sessions to count (the store is a file of its own)")
    store.set_store_for_tests(None)  # the configured store: the test database, schema tsdb
    try:
        store.close_store()
        opened = store.get_store()
        pids: list[int] = []

        def use_the_store() -> None:
            opened.label_names(None, [])
            pids.append(opened.backend.conn().info.backend_pid)

        threads = [threading.Thread(target=use_the_store) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        use_the_store()
        # Counted by backend pid, not by total: other sessions may come and go meanwhile.
        assert len(set(pids)) == 4  # three threads' connections and this one's
        assert live(pids) == set(pids)
        store.close_store()
        deadline = time.monotonic() + 5  # a server process ends a moment after its client
        while live(pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live(pids) == set()
        assert store.get_store() is not opened  # opened again on the next use
    finally:
        store.close_store()
