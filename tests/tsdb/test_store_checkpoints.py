"""SQLite's WAL is checkpointed by a thread of the store's, not inside a writer's COMMIT.

What matters: the WAL stays bounded under a steady stream of writes (it restarts from
its beginning, which only happens once every frame is in the database file), a reader
keeps its snapshot throughout, the thread ends with ``close()``, and a forked process
(``steward serve --workers``) starts a checkpointer of its own.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.tsdb import open_store
from steward.tsdb.backends import SqliteBackend
from steward.tsdb.store import Columns, TimeSeriesStore
from steward.tsdb.types import HOUR_MS, MINUTE_MS, Sample
from tests.tsdb.conftest import T0
from tests.tsdb.helpers import labels, name_is


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[TimeSeriesStore]:
    store = open_store(tmp_path / "m.sqlite3", clock=lambda: T0)
    try:
        yield store
    finally:
        store.close()


def _no_autocheckpoint(store: TimeSeriesStore) -> None:
    """Only the background thread checkpoints (this thread's writer never does)."""
    store.backend.conn().execute("PRAGMA wal_autocheckpoint=0")


def _wait_for(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _fill(store: TimeSeriesStore, series: int, rounds: int, start: int) -> None:
    batch = [Sample(labels(f"m{i}"), start, 0.0) for i in range(series)]
    store.append(1, batch)
    ids = [store.series_id(1, s.labels) for s in batch]
    for r in range(1, rounds):
        cols = Columns()
        cols.add(start + r * 10_000, ids, [float(r)] * series)  # type: ignore[arg-type]
        assert store.append_resolved(1, cols).accepted == series


def test_the_wal_restarts_and_stays_bounded_without_autocheckpoints(sqlite_store: TimeSeriesStore):
    store = sqlite_store
    backend = store.backend
    assert isinstance(backend, SqliteBackend)
    _no_autocheckpoint(store)
    wal = Path(f"{backend.path}-wal")
    # ~1.8 MB of WAL per _fill: without checkpoints the WAL ends at ~26 MB.
    for r in range(15):
        _fill(store, 2_000, 10, T0 - 50 * MINUTE_MS + r * 100_000)
        checkpointer = backend._checkpointer
        assert checkpointer is not None
        done = checkpointer.checkpoints
        _wait_for(lambda c=checkpointer, d=done: c.checkpoints > d)
    assert wal.stat().st_size < 8 * 1024 * 1024
    [series] = store.select([1], name_is("m7"), T0 - HOUR_MS, T0)
    assert len(series.timestamps) == 150


def test_a_checkpoint_copies_every_frame_even_while_writers_write(sqlite_store: TimeSeriesStore):
    store = sqlite_store
    backend = store.backend
    assert isinstance(backend, SqliteBackend)
    _no_autocheckpoint(store)
    stop = threading.Event()

    def writer() -> None:
        _no_autocheckpoint(store)  # this thread's connection
        r = 0
        while not stop.is_set() and r < 9_000:  # 1 ms apart: never a duplicate
            _fill(store, 200, 2, T0 - 40 * MINUTE_MS + r)
            r += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.2)
        conn = backend._connect()
        try:
            # The unlocked pass races the writer; the tail under its lock catches up.
            busy, log, done = backend.checkpoint(conn)
        finally:
            with backend._conns_lock:
                fd = backend._lock_fds.pop(id(conn), None)
            if fd is not None:
                os.close(fd)
            conn.close()
    finally:
        stop.set()
        thread.join()
    assert busy == 0 and log == done


def test_a_reader_keeps_its_snapshot_across_checkpoints(sqlite_store: TimeSeriesStore):
    store = sqlite_store
    backend = store.backend
    assert isinstance(backend, SqliteBackend)
    _fill(store, 100, 3, T0 - 30 * MINUTE_MS)
    reader = sqlite3.connect(backend.path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        before = reader.execute("SELECT count(*) FROM raw").fetchone()[0]
        _fill(store, 100, 5, T0 - 20 * MINUTE_MS)  # the same series: more rows
        checkpointer = backend._checkpointer
        assert checkpointer is not None
        done = checkpointer.checkpoints
        _wait_for(lambda: checkpointer.checkpoints > done)
        assert reader.execute("SELECT count(*) FROM raw").fetchone()[0] == before == 300
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM raw").fetchone()[0] == 800
    finally:
        reader.close()


def test_close_ends_the_thread_and_a_new_process_starts_its_own(tmp_path: Path):
    store = open_store(tmp_path / "m.sqlite3", clock=lambda: T0)
    backend = store.backend
    assert isinstance(backend, SqliteBackend)
    store.append(1, [Sample(labels(), T0 - 60_000, 1.0)])
    checkpointer = backend._checkpointer
    assert checkpointer is not None and checkpointer._thread.is_alive()
    checkpointer.pid = -1  # as if this were a child forked after the first commit
    store.append(1, [Sample(labels(), T0 - 50_000, 1.0)])
    assert backend._checkpointer is not checkpointer
    renewed = backend._checkpointer
    assert renewed is not None
    checkpointer.stop()
    store.close()
    assert not renewed._thread.is_alive()
    assert backend._lock_fds == {}


def test_checkpoints_stay_in_the_writers_when_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(SqliteBackend, "CHECKPOINT_INTERVAL_S", None)
    store = open_store(tmp_path / "m.sqlite3", clock=lambda: T0)
    try:
        store.append(1, [Sample(labels(), T0 - 60_000, 1.0)])
        assert store.backend._checkpointer is None  # type: ignore[attr-defined]
    finally:
        store.close()


def test_a_store_dropped_without_close_ends_its_thread(tmp_path: Path):
    # Stores are not always closed (tests open hundreds): the thread must not keep its
    # store alive, and must end when the store goes.
    import gc

    store = open_store(tmp_path / "m.sqlite3", clock=lambda: T0)
    store.append(1, [Sample(labels("m"), T0 - MINUTE_MS, 1.0)])
    checkpointer = store.backend._checkpointer
    assert checkpointer is not None
    _wait_for(lambda: checkpointer.checkpoints >= 1)
    del store
    gc.collect()
    checkpointer._thread.join(10)
    assert not checkpointer._thread.is_alive()
