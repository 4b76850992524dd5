"""``Columns`` (line protocol's fast path) append exactly as the same rows as tuples.

Two stores get the same history; one is handed each batch as ``(series_id, ts, value)``
tuples, the other as ``Columns``. Results, stored rows, series bounds (cached and in the
table) and bucket generations must match: first value wins on a duplicate (series, ts),
refusals outside the time window are counted, late rows go through the chunk check.
"""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from steward.tsdb import open_store
from steward.tsdb.store import Columns, TimeSeriesStore
from steward.tsdb.types import HOUR_MS, MINUTE_MS, AppendResult, Sample
from tests.tsdb.conftest import T0, Clock
from tests.tsdb.helpers import labels, name_is

Rows = list[tuple[int, int, float]]


def _pair(tmp_path: Path) -> tuple[TimeSeriesStore, TimeSeriesStore]:
    clock = Clock()
    return (
        open_store(tmp_path / "rows.sqlite3", clock=clock),
        open_store(tmp_path / "cols.sqlite3", clock=clock),
    )


def _register(stores: tuple[TimeSeriesStore, ...], count: int, ts: int) -> list[int]:
    """``count`` series in every store, in the same order (so with the same ids)."""
    ids: list[list[int]] = []
    for store in stores:
        batch = [Sample(labels(f"m{i}", device=str(i % 7)), ts, -1.0) for i in range(count)]
        store.append(1, batch)
        ids.append([store.series_id(1, s.labels) for s in batch])  # type: ignore[misc]
    assert all(one == ids[0] for one in ids)
    return ids[0]


def _columns(rows: Rows) -> Columns:
    """Rows as columns, grouped into runs of equal timestamps the way ``split_known``
    builds them (one run per change of timestamp, never empty)."""
    return Columns.from_rows(rows)


def _state(store: TimeSeriesStore) -> tuple[object, ...]:
    conn = sqlite3.connect(store.backend.path)  # type: ignore[attr-defined]
    try:
        raw = [
            (sid, ts, "nan" if value is None or math.isnan(value) else value)
            for sid, ts, value in conn.execute("SELECT series_id, ts, value FROM raw ORDER BY 1, 2")
        ]
        series = conn.execute("SELECT id, first_ms, last_ms FROM series ORDER BY id").fetchall()
        gens = conn.execute("SELECT bucket, gen FROM raw_gen ORDER BY bucket").fetchall()
        meta = conn.execute("SELECT key, value FROM meta WHERE key <> 'lease' ORDER BY key")
        return raw, series, gens, meta.fetchall(), dict(store.registry.bounds)
    finally:
        conn.close()


def _same(a: AppendResult, b: AppendResult) -> None:
    assert (a.accepted, a.duplicates, a.rejected, a.new_series, a.errors) == (
        b.accepted,
        b.duplicates,
        b.rejected,
        b.new_series,
        b.errors,
    )


@pytest.mark.parametrize("seed", range(12))
def test_columns_store_what_the_same_rows_as_tuples_store(tmp_path: Path, seed: int):
    rng = random.Random(seed)
    by_rows, by_cols = _pair(tmp_path)
    ids = _register((by_rows, by_cols), 40, T0 - 30 * MINUTE_MS)
    if seed % 3 == 0:  # some rows will be late: below the compaction watermark
        for store in (by_rows, by_cols):
            with store.backend.write(store.backend.conn()):
                store.backend.conn().execute(
                    "UPDATE meta SET value = ? WHERE key = 'watermark'", (T0 - 20 * MINUTE_MS,)
                )
    for step in range(6):
        stamps = [T0 - 25 * MINUTE_MS + 10_000 * rng.randrange(60) for _ in range(3)]
        if seed % 2:
            stamps.append(T0 + 3 * HOUR_MS)  # in the future: refused and counted
        if seed % 4 == 1:
            stamps.append(T0 - 400 * 24 * HOUR_MS)  # too old: refused and counted
        rows: Rows = []
        for ts in rng.sample(stamps, len(stamps)):
            chosen = rng.sample(ids, rng.randrange(1, len(ids)))
            if step % 2:
                chosen.sort()  # ascending ids (the usual case) and, here, not
            for sid in chosen:
                value = rng.choice([rng.random(), float(step), math.nan, -0.0, 1e300])
                rows.append((sid, ts, value))
        rows += rng.sample(rows, min(len(rows), 5))  # duplicates within the call...
        samples = [  # ...known series by labels, and a new one now and then
            Sample(labels(f"m{rng.randrange(40)}", device="x"), stamps[0], 7.0),
            Sample(labels(f"m{rng.randrange(40)}"), stamps[0], 8.0),
        ]
        if step == 3:
            samples.append(Sample(labels("brand_new"), stamps[-1], 9.0))
        want = by_rows.append_resolved(1, rows, samples)
        got = by_cols.append_resolved(1, _columns(rows), samples)
        _same(want, got)
        assert _state(by_rows) == _state(by_cols)
    by_rows.close()
    by_cols.close()


def test_columns_of_one_run_skip_the_sort_and_keep_first_values(tmp_path: Path):
    by_rows, by_cols = _pair(tmp_path)
    ids = _register((by_rows, by_cols), 30, T0 - 30 * MINUTE_MS)
    ts = T0 - 20 * MINUTE_MS
    for ordered in (sorted(ids), sorted(ids, reverse=True), [*ids[10:], *ids[:10]]):
        rows = [(sid, ts, float(sid)) for sid in ordered]
        rows += [(sid, ts, -1.0) for sid in ordered[::3]]  # same (series, ts): first wins
        _same(by_rows.append_resolved(1, rows), by_cols.append_resolved(1, _columns(rows)))
        assert _state(by_rows) == _state(by_cols)
        ts += 10_000
    [series] = by_cols.select([1], name_is("m3"), T0 - HOUR_MS, T0)
    assert list(series.values)[-3:] == [float(ids[3])] * 3
    by_rows.close()
    by_cols.close()


def test_columns_are_not_changed_by_the_append(tmp_path: Path):
    by_rows, by_cols = _pair(tmp_path)
    ids = _register((by_cols,), 5, T0 - 30 * MINUTE_MS)
    cols = Columns()
    cols.add(T0 - 60_000, ids[::-1], [1.0] * 5)
    before = (cols.ids.copy(), cols.values.copy(), cols.runs.copy())
    result = by_cols.append_resolved(1, cols, [Sample(labels("m1", device="1"), T0 - 50_000, 2.0)])
    assert (result.accepted, result.duplicates) == (6, 0)
    assert (cols.ids, cols.values, cols.runs) == before
    by_rows.close()
    by_cols.close()


def test_empty_columns_store_nothing_but_the_samples(store: TimeSeriesStore):
    result = store.append_resolved(1, Columns(), [Sample(labels(), T0 - 60_000, 1.0)])
    assert (result.accepted, result.new_series) == (1, 1)
    assert store.append_resolved(1, Columns()).accepted == 0


def test_columns_on_every_backend(make_store: Callable[..., TimeSeriesStore]):
    # PostgreSQL takes columns through the base class (rows, then its COPY).
    store = make_store()
    [sid, other] = _register((store,), 2, T0 - 30 * MINUTE_MS)
    cols = Columns()
    cols.add(T0 - 20_000, [other, sid, sid], [1.0, 2.0, 3.0])
    cols.add(T0 - 10_000, [sid], [4.0])
    cols.add(T0 + 2 * HOUR_MS, [sid], [5.0])  # outside the window
    result = store.append_resolved(1, cols)
    assert (result.accepted, result.duplicates, result.rejected) == (3, 1, 1)
    [series] = store.select([1], name_is("m0"), T0 - HOUR_MS, T0)
    assert list(series.values)[-2:] == [2.0, 4.0]


def test_columns_iterate_and_expand_as_rows():
    cols = Columns()
    cols.add(5, [1, 2], [0.5, 1.5])
    cols.add(5, [3], [2.5])  # same timestamp: the same run
    cols.add(7, [], [])  # nothing: no run
    cols.add(6, [1], [3.5])
    assert cols.runs == [(0, 5), (3, 6)]
    assert cols.stamps() == [5, 5, 5, 6]
    assert list(cols) == cols.rows() == [(1, 5, 0.5), (2, 5, 1.5), (3, 5, 2.5), (1, 6, 3.5)]
    assert Columns.from_rows(cols.rows()).runs == cols.runs
    assert len(cols) == 4 and cols.distinct_stamps() == {5, 6}


def test_ascending_ids_over_several_runs_store_as_rows_do(tmp_path: Path):
    # Ascending ids take the statements that bind a run's timestamp once, in runs of
    # 512, 64, 8 and single rows: lengths around each, equal (series, ts) rows inside
    # a run (first wins), a timestamp that comes back after another.
    by_rows, by_cols = _pair(tmp_path)
    ids = _register((by_rows, by_cols), 1_300, T0 - 30 * MINUTE_MS)
    rng = random.Random(7)
    stamps = [T0 - 25 * MINUTE_MS + 10_000 * k for k in (0, 1, 2, 1, 3, 4, 5, 6)]
    lengths = [1, 7, 8, 9, 63, 64, 513, 600]
    for _ in range(3):
        cols = Columns()
        at = 0
        for ts, length in zip(stamps, lengths, strict=True):
            chosen = ids[at : at + length]
            if length > 8:
                chosen = sorted([*chosen, chosen[3], chosen[3]])  # equal rows, adjacent
            cols.add(ts, chosen, [rng.random() for _ in chosen])
            at += length
        assert cols.ids == sorted(cols.ids)
        rows = cols.rows()
        _same(by_rows.append_resolved(1, rows), by_cols.append_resolved(1, cols))
        assert _state(by_rows) == _state(by_cols)
        rng.shuffle(lengths)
    by_rows.close()
    by_cols.close()


def test_a_shared_bucket_is_computed_as_sqlite_computes_it():
    from steward.tsdb.backends import RAW_BUCKET_MS, _sql_bucket

    conn = sqlite3.connect(":memory:")
    for ts in (0, 1, 9_999, 10_000, T0 + 12_345, -1, -9_999, -10_000, -10_001, -(2**40) - 7):
        [(want,)] = conn.execute(f"SELECT ?1 - ?1 % {RAW_BUCKET_MS}", (ts,)).fetchall()
        assert _sql_bucket(ts) == want
    conn.close()
