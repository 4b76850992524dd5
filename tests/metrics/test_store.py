"""get_store(): one store per process, opened from the settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from steward import tsdb
from steward.metrics import store


@pytest.fixture
def fake_open(monkeypatch):
    opened: list[tuple[str, dict]] = []

    def open_store(target, limits=None, retention=None, schema=None):
        kwargs = {"limits": limits, "retention": retention, "schema": schema}
        opened.append((target, kwargs))
        return object()

    monkeypatch.setattr(tsdb, "open_store", open_store, raising=False)
    monkeypatch.setattr(store, "_store", None)
    store.set_store_for_tests(None)
    return opened


def test_sqlite_installs_get_a_separate_file_in_the_data_directory(
    settings, fake_open, monkeypatch
):
    monkeypatch.setattr(store, "uses_postgres", lambda: False)
    first = store.get_store()
    assert store.get_store() is first  # one per process
    [(target, kwargs)] = fake_open
    assert target == str(Path(settings.STEWARD_HOME) / "metrics.sqlite3")
    assert kwargs["schema"] is None


def test_postgres_installs_use_djangos_database_in_schema_tsdb(fake_open, monkeypatch):
    monkeypatch.setattr(store, "uses_postgres", lambda: True)
    monkeypatch.setattr(store, "store_target", lambda: "postgresql://db/steward")
    store.get_store()
    [(target, kwargs)] = fake_open
    assert (target, kwargs["schema"]) == ("postgresql://db/steward", "tsdb")


def test_the_postgres_url_is_djangos_database_with_credentials_encoded():
    db = {
        "NAME": "steward",
        "USER": "st@ff",
        "PASSWORD": "p:w/d",
        "HOST": "db.example",
        "PORT": "5433",
    }
    assert store.postgres_url(db) == "postgresql://st%40ff:p%3Aw%2Fd@db.example:5433/steward"
    assert store.postgres_url({"NAME": "s", "HOST": "::1"}) == "postgresql://[::1]/s"
    assert store.postgres_url({"NAME": "s"}) == "postgresql:///s"  # local socket


def test_limits_come_from_metrics_options(settings, fake_open, monkeypatch):
    @dataclasses.dataclass
    class Limits:
        max_series_per_org: int = 100
        max_label_value_length: int = 10

    monkeypatch.setattr(tsdb, "Limits", Limits, raising=False)
    settings.STEWARD = {**settings.STEWARD, "metrics_max_series_per_org": 5}
    store.get_store()
    assert fake_open[0][1]["limits"] == Limits(max_series_per_org=5)


def test_retention_and_series_limits_come_from_their_options(settings, fake_open):
    from steward.tsdb.types import DAY_MS, HOUR_MS, Limits, Retention

    settings.STEWARD = {
        **settings.STEWARD,
        "metrics_retention_raw_days": 3,
        "metrics_retention_minute_days": 30,
        "metrics_retention_hour_days": 400,
        "metrics_max_series_per_device": 500,
        "metrics_max_series_per_org": 9_000,
        "metrics_active_series_hours": 6,
    }
    store.get_store()
    kwargs = fake_open[0][1]
    assert kwargs["retention"] == Retention(3 * DAY_MS, 30 * DAY_MS, 400 * DAY_MS)
    limits = kwargs["limits"]
    assert (limits.max_series_per_device, limits.max_series_per_org) == (500, 9_000)
    assert limits.active_series_ms == 6 * HOUR_MS
    assert dataclasses.replace(limits, max_series_per_device=10_000, max_series_per_org=1_000_000,
                               active_series_ms=Limits.active_series_ms) == Limits()  # fmt: skip


def test_the_options_defaults_are_the_stores_own(settings, fake_open):
    from steward.tsdb.types import Limits, Retention

    store.get_store()  # the test settings hold every option's default
    kwargs = fake_open[0][1]
    assert (kwargs["retention"], kwargs["limits"]) == (Retention(), Limits())


def test_tests_can_swap_the_store(fake_open):
    mine = object()
    store.set_store_for_tests(mine)  # type: ignore[arg-type]
    assert store.get_store() is mine
    store.set_store_for_tests(None)
    assert store.get_store() is not mine


def test_the_chunk_cache_option_sizes_the_process_cache(settings, fake_open, monkeypatch):
    from steward.tsdb import chunkcache

    monkeypatch.setattr(store, "uses_postgres", lambda: False)
    monkeypatch.setitem(settings.STEWARD, "metrics_chunk_cache_mb", 3)
    try:
        store.get_store()
        assert chunkcache.shared().max_bytes == 3 * 2**20
    finally:
        chunkcache.configure(chunkcache.DEFAULT_MAX_BYTES)
