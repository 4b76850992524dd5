"""Fixtures: a store on SQLite (tmp_path) and, when reachable, on PostgreSQL.

The PostgreSQL variant uses STEWARD_TEST_PG_URL or STEWARD_DATABASE_URL when either is a
postgresql:// URL (CI sets one), else a local server on 127.0.0.1:5432 if one answers;
otherwise it is skipped. Every test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from steward.tsdb import TimeSeriesStore, open_store
from steward.tsdb.backends import PostgresBackend
from steward.tsdb.types import HOUR_MS

LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
# 2025-11-29 04:00:00 UTC, a whole hour: the frozen "now" of every test.
T0 = 1_764_388_800_000
assert T0 % HOUR_MS == 0


@functools.cache
def pg_url() -> str | None:
    for name in ("STEWARD_TEST_PG_URL", "STEWARD_DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgresql://", "postgres://")):
            return url
    try:
        import psycopg

        with psycopg.connect(LOCAL_PG, connect_timeout=2):
            return LOCAL_PG
    except Exception:
        return None


def pg_url_or_skip() -> str:
    """The PostgreSQL URL for a test, or skip it (no server reachable)."""
    url = pg_url()
    if url is None:
        if os.environ.get("CI") == "true":  # .ci/run promises the PostgreSQL variants
            pytest.fail("no PostgreSQL reachable under CI=true (set STEWARD_TEST_PG_URL)")
        pytest.skip("no PostgreSQL reachable (set STEWARD_TEST_PG_URL)")
    return url


class Clock:
    """Frozen, settable time in ms (the store's idea of now)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(target, schema) for open_store."""
    if request.param == "sqlite":
        yield str(tmp_path / "metrics.sqlite3"), "tsdb"
        return
    url = pg_url_or_skip()
    schema = f"tsdb_test_{uuid.uuid4().hex[:12]}"
    yield url, schema
    backend = PostgresBackend(url, schema)
    backend.drop_schema()
    backend.close()


@pytest.fixture
def make_store(target: tuple[str, str], clock: Clock) -> Iterator[Callable[..., TimeSeriesStore]]:
    """Open (another) store on the test's database; all are closed at the end."""
    opened: list[TimeSeriesStore] = []

    def make(**kwargs: Any) -> TimeSeriesStore:
        kwargs.setdefault("clock", clock)
        store = open_store(target[0], schema=target[1], **kwargs)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., TimeSeriesStore]) -> TimeSeriesStore:
    return make_store()
