"""On SQLite, one alert-engine round per organization at a time across the host's
processes (``runtime._host_round_lock``), so no round runs inside the write lock."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from django.db import connection

from steward.alerts import runtime

pytestmark = pytest.mark.skipif(
    runtime.fcntl is None, reason="file locks (fcntl) are POSIX-only: rounds race there"
)

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def held_elsewhere(path, seconds: float) -> subprocess.Popen:
    """Another process holding ``path``'s lock for ``seconds`` (returns once it holds it)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_round_waits_for_another_process_round(tmp_path):
    path = tmp_path / "db.sqlite3-alert-rounds-1.lock"
    child = held_elsewhere(path, 0.6)
    started = time.monotonic()
    with runtime._host_round_lock(path, wait_s=10) as taken:
        waited = time.monotonic() - started
    child.wait(5)
    assert taken
    assert waited >= 0.4


def test_a_lock_held_too_long_does_not_stop_the_round(tmp_path):
    path = tmp_path / "db.sqlite3-alert-rounds-1.lock"
    child = held_elsewhere(path, 3)
    started = time.monotonic()
    with runtime._host_round_lock(path, wait_s=0.2) as taken:
        waited = time.monotonic() - started
    child.kill()
    child.wait(5)
    assert not taken
    assert waited < 2


def test_organizations_do_not_wait_for_each_other(tmp_path, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")
    monkeypatch.setitem(connection.settings_dict, "NAME", str(tmp_path / "steward.sqlite3"))
    one, two = runtime.round_lock_path(1), runtime.round_lock_path(2)
    assert one is not None and two is not None and one != two
    assert one.parent == tmp_path
    child = held_elsewhere(one, 3)
    try:
        with runtime._host_round_lock(two, wait_s=0.5) as taken:
            assert taken
    finally:
        child.kill()
        child.wait(5)


@pytest.mark.parametrize(
    ("vendor", "name"),
    [
        ("sqlite", "file:memorydb_default?mode=memory&cache=shared"),
        ("sqlite", ":memory:"),
        ("postgresql", "steward"),
    ],
)
def test_no_lock_where_one_process_owns_the_database_or_rows_lock(monkeypatch, vendor, name):
    monkeypatch.setattr(connection, "vendor", vendor)
    monkeypatch.setitem(connection.settings_dict, "NAME", name)
    assert runtime.round_lock_path(1) is None


@pytest.mark.django_db(transaction=True)
def test_an_engine_round_takes_the_lock(world, tmp_path, monkeypatch):
    path = tmp_path / "rounds.lock"
    monkeypatch.setattr(runtime, "round_lock_path", lambda organization_id: path)
    runtime.forget()
    runtime.run(world.acme.pk, lambda engine, now: [])  # creates the state row
    child = held_elsewhere(path, 0.6)
    started = time.monotonic()
    runtime.run(world.acme.pk, lambda engine, now: [])
    waited = time.monotonic() - started
    child.wait(5)
    runtime.forget()
    assert waited >= 0.4


@pytest.mark.django_db
def test_inside_an_outer_transaction_the_lock_is_not_taken(tmp_path):
    path = tmp_path / "rounds.lock"
    child = held_elsewhere(path, 3)
    try:
        assert connection.in_atomic_block  # the test's own transaction
        started = time.monotonic()
        with runtime._host_round_lock(path, wait_s=5) as taken:
            assert not taken
        assert time.monotonic() - started < 1
    finally:
        child.kill()
        child.wait(5)
