"""The alert feeder thread (``runtime.observe_soon``) holds no database session when idle.

It is a daemon thread that lives as long as the process. Keeping its connection between
rounds held one PostgreSQL session per server process for ever, and kept the test run from
dropping its database ("There are N other sessions using the database").
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from steward.alerting.model import Sample
from steward.alerts import runtime
from steward.tenancy.models import Organization


@pytest.mark.django_db(transaction=True)
def test_the_feeder_closes_its_connection_when_a_round_ends():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("Django never closes an in-memory SQLite connection (it would lose the data)")
    org = Organization.objects.create(name="Feeder")
    opened = []

    def remember(sender, connection, **kwargs) -> None:
        if threading.current_thread().name == "alerts-feeder":
            opened.append(connection)

    connection_created.connect(remember)
    try:
        runtime.observe_soon(org.pk, [Sample("feeder_probe", {}, time.time(), 1.0)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            opened and all(c.connection is None for c in opened)
        ):
            time.sleep(0.05)
    finally:
        connection_created.disconnect(remember)
    assert opened, "the feeder ran a round on a database connection of its own"
    assert all(c.connection is None for c in opened), "the idle feeder still holds a session"


@pytest.mark.parametrize(
    ("last_round_s", "delay"),
    [
        (0.0, runtime.FEED_DELAY_S),  # quick rounds: the usual quarter of a second
        (0.05, runtime.FEED_DELAY_S),
        (0.2, 0.2 * runtime.FEED_GATHER_RATIO),  # slow rounds: gather longer
        (5.0, runtime.FEED_DELAY_MAX_S),  # never longer than this
    ],
)
def test_the_feeder_gathers_longer_after_slow_rounds(last_round_s, delay):
    assert runtime.gather_delay(last_round_s) == pytest.approx(delay)
