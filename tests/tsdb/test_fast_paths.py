"""``series_id``/``append_resolved`` (ingest's fast path) and connection reuse across threads."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from steward.tsdb import open_store
from steward.tsdb.backends import RAW_BUCKET_MS, SCHEMA_VERSION
from steward.tsdb.store import TimeSeriesStore
from steward.tsdb.types import HOUR_MS, Sample
from tests.tsdb.conftest import T0
from tests.tsdb.helpers import labels, name_is, run


def test_series_id_knows_only_series_appended_through_this_process(store: TimeSeriesStore):
    a = labels("node_load1")
    assert store.series_id(1, a) is None
    store.append(1, run(a, T0 - 60_000, 3))
    sid = store.series_id(1, a)
    assert isinstance(sid, int)
    assert store.series_id(2, a) is None  # ids are per organization


def test_append_resolved_stores_rows_and_samples_in_one_call(store: TimeSeriesStore):
    a, b = labels("node_load1"), labels("node_load5")
    store.append(1, run(a, T0 - 60_000, 1))
    sid = store.series_id(1, a)
    assert sid is not None
    result = store.append_resolved(
        1, [(sid, T0 - 50_000, 2.0), (sid, T0 - 60_000, 9.0)], run(b, T0 - 60_000, 2)
    )
    assert (result.accepted, result.duplicates, result.new_series) == (3, 1, 1)
    [series] = store.select([1], name_is("node_load1"), T0 - HOUR_MS, T0)
    assert list(series.timestamps) == [T0 - 60_000, T0 - 50_000]
    assert list(series.values) == [0.0, 2.0]  # the replayed (sid, ts) kept its first value


def test_append_resolved_parts_counts_each_part_in_one_transaction(store: TimeSeriesStore):
    a, b, c = labels("node_load1"), labels("node_load5"), labels("node_load15")
    store.append(1, run(a, T0 - 60_000, 1) + run(b, T0 - 60_000, 1))
    sid_a, sid_b = store.series_id(1, a), store.series_id(1, b)
    assert sid_a is not None and sid_b is not None
    writes = 0
    real_write = store.backend.write

    def counting_write(conn):
        nonlocal writes
        writes += 1
        return real_write(conn)

    store.backend.write = counting_write  # type: ignore[method-assign]
    first, second = store.append_resolved_parts(
        1,
        [
            ([(sid_a, T0 - 50_000, 2.0), (sid_a, T0 - 60_000, 9.0)], run(c, T0 - 60_000, 1)),
            ([(sid_b, T0 - 50_000, 3.0), (sid_b, T0 + 2 * HOUR_MS, 1.0)], ()),
        ],
    )
    assert writes == 1
    assert (first.accepted, first.duplicates, first.rejected, first.new_series) == (2, 1, 0, 1)
    assert (second.accepted, second.duplicates, second.rejected) == (1, 0, 1)
    [series] = store.select([1], name_is("node_load5"), T0 - HOUR_MS, T0)
    assert list(series.values) == [0.0, 3.0]


def test_append_resolved_applies_the_time_window(store: TimeSeriesStore):
    a = labels("node_load1")
    store.append(1, run(a, T0 - 60_000, 1))
    sid = store.series_id(1, a)
    assert sid is not None
    result = store.append_resolved(1, [(sid, T0 + 2 * HOUR_MS, 1.0), (sid, T0, 1.0)])
    assert (result.accepted, result.rejected) == (1, 1)
    assert result.errors[0].startswith("node_load1: sample at")


def test_append_resolved_widens_the_series_bounds(store: TimeSeriesStore):
    a = labels("node_load1")
    store.append(1, [Sample(a, T0 - 3 * HOUR_MS, 1.0)])
    sid = store.series_id(1, a)
    assert sid is not None
    store.append_resolved(1, [(sid, T0, 2.0)])
    # series() sees it around T0 only if series.last_ms was widened by the append.
    assert store.series([1], name_is("node_load1"), T0 - 60_000, T0) == [
        store.registry.labels[sid][1]
    ]


def test_a_thread_that_ended_hands_its_connection_to_the_next(store: TimeSeriesStore):
    # Django under ASGI runs each request on a new thread: connections must not pile up.
    seen = []

    def use() -> None:
        seen.append(store.backend.conn())
        store.append(1, run(labels(), T0 - 60_000, 1))

    for _ in range(5):
        t = threading.Thread(target=use)
        t.start()
        t.join()
    assert len({id(c) for c in seen}) == 1
    assert len(store.backend._conns) <= 2  # this thread's (setup) and the reused one


def test_threads_alive_at_once_get_connections_of_their_own(store: TimeSeriesStore):
    ready = threading.Barrier(3)
    seen = []

    def use() -> None:
        seen.append(store.backend.conn())
        ready.wait()

    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    ready.wait()
    for t in threads:
        t.join()
    assert seen[0] is not seen[1]


def test_a_large_append_counts_duplicates_across_insert_runs(store: TimeSeriesStore):
    # SQLite inserts runs of 512, 64 and 8 rows, then single rows: 600 rows use them all.
    a = labels("node_load1")
    store.append(1, [Sample(a, T0 - 600_000 + 1_000 * i, -1.0) for i in range(0, 600, 7)])
    sid = store.series_id(1, a)
    assert sid is not None
    rows = [(sid, T0 - 600_000 + 1_000 * i, float(i)) for i in range(600)]
    rows.insert(300, (sid, T0 - 600_000 + 1_000 * 5, 99.0))  # again within the call
    rows.append((sid, T0 - 600_000 + 1_000 * 599, 99.0))  # again, in the single-row tail
    result = store.append_resolved(1, rows)
    stored_before = len(range(0, 600, 7))
    assert (result.accepted, result.duplicates) == (600 - stored_before, stored_before + 2)
    [series] = store.select([1], name_is("node_load1"), T0 - HOUR_MS, T0)
    got = dict(zip(series.timestamps, series.values, strict=True))
    assert len(got) == 600
    assert got[T0 - 600_000] == -1.0  # stored earlier: kept
    # Two equal rows in one call: one is stored (on SQLite, in call order, the first).
    twice = got[T0 - 600_000 + 5_000]
    assert twice == 5.0 if store.backend.kind == "sqlite" else twice in (5.0, 99.0)
    assert got[T0 - 600_000 + 599_000] == 599.0


def test_append_parts_counts_each_part_apart_in_one_transaction(store: TimeSeriesStore):
    a, b = labels("node_load1"), labels("steward_agent_spool_bytes")
    store.append(1, run(a, T0 - 60_000, 1))
    writes = []
    real = store.backend.write

    def counting(conn):
        writes.append(1)
        return real(conn)

    store.backend.write = counting  # type: ignore[method-assign]
    first, second = store.append_parts(
        1, [run(a, T0 - 60_000, 3), [Sample(b, T0, 7.0), Sample(b, T0 + 3 * HOUR_MS, 1.0)]]
    )
    assert len(writes) == 1
    assert (first.accepted, first.duplicates, first.rejected, first.new_series) == (2, 1, 0, 0)
    assert (second.accepted, second.duplicates, second.rejected, second.new_series) == (1, 0, 1, 1)
    assert store.append_parts(1, [[], []]) == [first.__class__(), first.__class__()]
    assert len(writes) == 1  # nothing to write: no transaction


def test_append_resolved_widens_bounds_per_series_in_a_mixed_call(store: TimeSeriesStore):
    # Both rows lie inside the span of all cached bounds together, but the first is
    # before its own series' first sample: the quick whole-call check must not hide it.
    a, b = labels("node_load1"), labels("node_load5")
    store.append(1, [Sample(a, T0 - HOUR_MS, 1.0), *run(b, T0 - 3 * HOUR_MS, 2, 3 * HOUR_MS)])
    sid_a, sid_b = store.series_id(1, a), store.series_id(1, b)
    assert sid_a is not None and sid_b is not None
    around = T0 - 2 * HOUR_MS
    store.append_resolved(1, [(sid_a, around, 2.0), (sid_b, around + 30_000, 2.0)])
    assert store.series([1], name_is("node_load1"), around - 60_000, around) == [
        store.registry.labels[sid_a][1]
    ]
    [series] = store.select([1], name_is("node_load5"), T0 - 4 * HOUR_MS, T0)
    assert list(series.timestamps) == [T0 - 3 * HOUR_MS, around + 30_000, T0]


def _pragma(store: TimeSeriesStore, name: str) -> int:
    return int(store.backend.conn().execute(f"PRAGMA {name}").fetchone()[0])


def test_a_new_sqlite_store_has_16k_pages_and_checkpoints_every_40_mib(tmp_path: Path):
    store = open_store(tmp_path / "new.sqlite3", clock=lambda: T0)
    try:
        assert _pragma(store, "page_size") == 16_384
        assert _pragma(store, "wal_autocheckpoint") == 2_560
    finally:
        store.close()


def test_an_existing_4k_store_keeps_its_pages_and_its_samples(tmp_path: Path):
    # A store created before the page size changed: opening it must not need a rebuild.
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute("PRAGMA page_size=4096")
    old.execute("PRAGMA journal_mode=WAL")
    old.close()
    store = open_store(path, clock=lambda: T0)
    try:
        assert _pragma(store, "page_size") == 4_096
        assert _pragma(store, "wal_autocheckpoint") == 10_240
        a = labels("node_load1")
        assert store.append(1, run(a, T0 - 60_000, 3)).accepted == 3
    finally:
        store.close()
    store = open_store(path, clock=lambda: T0)
    try:
        [series] = store.select([1], name_is("node_load1"), T0 - HOUR_MS, T0)
        assert len(series.timestamps) == 3
    finally:
        store.close()


def _meta(store: TimeSeriesStore, key: str) -> int | None:
    row = store.backend.execute(
        store.backend.conn(), "SELECT value FROM meta WHERE key = ?", (key,)
    ).fetchone()
    return None if row is None else int(row[0])


def test_a_new_store_records_its_raw_bucket_width(store: TimeSeriesStore):
    assert _meta(store, "raw_bucket_ms") == RAW_BUCKET_MS
    assert _meta(store, "schema_version") == SCHEMA_VERSION


def test_a_store_with_2_minute_buckets_is_rebucketed_on_open(
    make_store: Callable[..., TimeSeriesStore],
):
    # A store of schema version 1: raw rows bucketed by 2 minutes, no width in meta.
    # Samples every 10 s from 1 min before a 2-minute boundary: the read from the
    # middle of the old bucket below is the one that listed the wrong buckets.
    a = labels("node_load1")
    start = T0 - 10 * 60_000 - 60_000
    old = make_store()
    assert old.append(1, run(a, start, 30)).accepted == 30
    b, conn = old.backend, old.backend.conn()
    with b.write(conn):
        b.execute(conn, "UPDATE raw SET bucket = ts / 120000 * 120000")
        b.execute(conn, "DELETE FROM meta WHERE key = 'raw_bucket_ms'")
        b.execute(conn, "UPDATE meta SET value = 1 WHERE key = 'schema_version'")
    old.close()

    store = make_store()
    assert _meta(store, "raw_bucket_ms") == RAW_BUCKET_MS
    assert _meta(store, "schema_version") == SCHEMA_VERSION
    conn = store.backend.conn()
    buckets = store.backend.execute(conn, "SELECT bucket, ts FROM raw").fetchall()
    assert len(buckets) == 30
    assert all(bucket == ts - ts % RAW_BUCKET_MS for bucket, ts in buckets)
    lo = start + 30_000  # inside what was the first 2-minute bucket, past its start
    [series] = store.select([1], name_is("node_load1"), lo, T0)
    assert list(series.timestamps) == [start + i * 10_000 for i in range(3, 30)]
    # Appends and duplicates keep working on the rebucketed rows.
    result = store.append(1, run(a, start, 31))
    assert (result.accepted, result.duplicates) == (1, 30)


def test_rows_out_of_series_order_keep_the_first_of_equal_rows(store: TimeSeriesStore):
    # The SQLite backend sorts a call's rows by series id before inserting them: a
    # stable sort, so of two rows with the same (series, ts) the first given still wins.
    a, b = labels("node_load1"), labels("node_load5")
    store.append(1, run(a, T0 - HOUR_MS, 1) + run(b, T0 - HOUR_MS, 1))
    sid_a, sid_b = store.series_id(1, a), store.series_id(1, b)
    assert sid_a is not None and sid_b is not None and sid_a < sid_b
    t = T0 - 60_000
    rows = [(sid_b, t, 1.0), (sid_a, t, 2.0), (sid_b, t, 3.0), (sid_a, t + 10_000, 4.0)]
    result = store.append_resolved(1, rows)
    assert (result.accepted, result.duplicates) == (3, 1)
    [series] = store.select([1], name_is("node_load5"), t, T0)
    assert (list(series.timestamps), list(series.values)) == ([t], [1.0])
    [series] = store.select([1], name_is("node_load1"), t, T0)
    assert (list(series.timestamps), list(series.values)) == ([t, t + 10_000], [2.0, 4.0])
