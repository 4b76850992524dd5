"""``maintain()``: compaction into chunks, rollups, retention. One worker at a time.

Each step is a short transaction over a range of series ids, followed by a pause as long
as the step (``_step``), so ingest waits at most one step for the write lock (SQLite) or
the compaction advisory lock (PostgreSQL) and has it at least half the time, and a
crash mid-way loses nothing: raw samples leave the ``raw`` table in the very transaction
that writes their chunk. Every step is idempotent (chunks are merged, rollups recomputed
from the merged chunk), so a second call with the same ``now`` finds nothing to do.

Order of a run:
1. claim (lease / advisory lock), else return ``claimed=False``;
2. move the watermark to ``floor(now - compact_after_ms, compact_step_ms)`` (5 min and
   5 min by default: the worker calls this every minute, and a run moves it every 5
   minutes, keeping the last 5-10 minutes in ``raw``): from that commit on, appends
   below it check chunks for duplicates;
3. if ``raw`` holds rows below the watermark (the watermark moved, late samples came,
   or a run stopped mid-way: one index probe tells): per id range, merge raw samples
   below the watermark into their hour chunks (the hour being filled has a partial
   chunk, merged again at every step); recompute that hour's 1-minute buckets from the
   merged chunk; replace the hour's bucket in the series' day of hourly buckets (partial
   too while the hour fills: reads join it with the rows above the watermark). A range
   that fails is retried one series at a time, so a series that cannot be compacted (a
   corrupt chunk) stays in ``raw`` alone, and the run raises its first error once the
   rest, retention included, is done. A run that fails or stops mid-way raises the
   ``late`` flag again (cleared in step 2), so it stays true for a Steward that still
   compacts only when flagged;
4. once per hour of ``now``: drop chunks wholly older than each tier's retention.

Because step 3 runs every few minutes for every series, its cost per series and run is
what counts (an hourly watermark paid it once an hour): a range of series is handled as
flat numpy arrays, chunks decoded and encoded in batches (``codec.decode_many``,
``codec.encode_many``) and buckets computed for all series at once
(``rollup.aggregate_keyed``), with no Python loop per series.
"""

# S608: SQL here is assembled from fixed fragments (table names, IN-list clauses) only;
# every value travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from steward.tsdb import codec
from steward.tsdb.backends import RAW_BUCKET_MS
from steward.tsdb.codec import Float64Array, Int64Array
from steward.tsdb.rollup import (
    CHUNK_SPAN,
    KeyedBuckets,
    aggregate_keyed,
    combine_keyed,
    runs,
)
from steward.tsdb.types import DAY_MS, HOUR_MS, MINUTE_MS, MaintainResult, Tier

if TYPE_CHECKING:
    from steward.tsdb.store import TimeSeriesStore

# Series per compaction transaction: ~90,000 samples at 10 s for an hourly step (a
# ~0.3 s transaction); smaller steps take more series at once (up to 1,000: ~30,000
# samples in 5 minutes plus 1,000 partial chunks re-merged, ~0.1 s), as the batches
# amortise better (-15 % CPU at 5-minute steps).
SERIES_PER_STEP = 250
MAX_SERIES_PER_STEP = 1000
RETENTION_SERIES_PER_STEP = 5000
# After a failed step, series retried one by one: this many failing first, none done, and
# the failure is taken for the store's, not a series' (see _compact_one_by_one).
SYSTEMIC_FAILURES = 3
# After a step that held the write lock at least YIELD_FROM_S, the run leaves it free for
# as long as it held it (at most YIELD_AT_MOST_S): ingest writers queued on it get their
# turn. Without the pause a run re-took the lock at once, step after step (an flock has no
# queue: the holder that asks again first wins), and with 1,000 simulated devices the
# server's ingest threads waited seconds behind 0.2-0.6 s steps.
YIELD_FROM_S = 0.02
YIELD_AT_MOST_S = 1.0
_pause = time.sleep
logger = logging.getLogger(__name__)
_UPSERT = (
    "INSERT INTO {table} (series_id, start_ts, n, data) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (series_id, start_ts) DO UPDATE SET n = excluded.n, data = excluded.data"
)


def maintain(store: TimeSeriesStore, now_ms: int) -> MaintainResult:
    b = store.backend
    conn = b.conn()
    token = b.try_claim(conn)
    if token is None:
        return MaintainResult(claimed=False)
    try:
        return _run(store, conn, now_ms)
    finally:
        b.release(conn, token)


@contextlib.contextmanager
def _step(store: TimeSeriesStore, conn: Any) -> Iterator[None]:
    """A maintenance write transaction that leaves the lock free afterwards for as long
    as it held it (see YIELD_FROM_S)."""
    with store.backend.write(conn):
        started = time.monotonic()  # once the lock is ours: waiting for it is not holding
        yield
    held = time.monotonic() - started
    if held >= YIELD_FROM_S:
        _pause(min(held, YIELD_AT_MOST_S))


def _set_meta(store: TimeSeriesStore, conn: Any, key: str, value: int) -> None:
    store.backend.execute(conn, "UPDATE meta SET value = ? WHERE key = ?", (value, key))


def _run(store: TimeSeriesStore, conn: Any, now_ms: int) -> MaintainResult:
    b = store.backend
    result = MaintainResult()
    target = now_ms - store.compact_after_ms
    target -= target % store.compact_step_ms
    retention_hour = now_ms - now_ms % HOUR_MS
    with b.write(conn):
        b.lock_compaction(conn)  # appends in flight finish under the old watermark
        b.execute(conn, "INSERT INTO meta VALUES ('retention_hour', 0) ON CONFLICT DO NOTHING")
        watermark = store._meta(conn, "watermark")
        late = store._meta(conn, "late")
        retention_due = store._meta(conn, "retention_hour") < retention_hour
        if target > watermark:
            watermark = target
            _set_meta(store, conn, "watermark", watermark)
        if late:
            _set_meta(store, conn, "late", 0)  # set again by any late append from now on
        top = b.execute(conn, "SELECT coalesce(max(id), 0) FROM series").fetchone()[0]
    result.watermark_ms = watermark
    # Looked for at every run, not only when the watermark moved or the late flag is up: a
    # run killed mid-way (the flag cleared, the watermark moved) left rows below the
    # watermark that nothing else would flag. With none, this is one index probe.
    buckets = _old_buckets(store, conn, watermark)
    failure: Exception | None = None
    if buckets:
        per = min(MAX_SERIES_PER_STEP, SERIES_PER_STEP * HOUR_MS // store.compact_step_ms // 3)
        per = max(SERIES_PER_STEP, per)
        done = False
        try:
            for lo in range(1, int(top) + 1, per):
                try:
                    _compact_step(store, conn, lo, lo + per, buckets, watermark, result)
                except Exception as error:
                    # One series that cannot be compacted (a corrupt chunk) must not keep
                    # the others of its range in raw: retry them one by one. If none of
                    # several can be done, the trouble is not one series' (disk full).
                    failure = failure or error
                    if not _compact_one_by_one(
                        store, conn, lo, lo + per, buckets, watermark, result
                    ):
                        raise
            done = failure is None
        finally:
            if not done:
                # Rows are left below the watermark: keep the late flag (cleared above)
                # true (the next run finds them by itself; older versions need it).
                _raise_late_flag(store, conn)
        b.after_compaction(conn)
    if retention_due:
        _apply_retention(store, conn, now_ms, int(top), result)
        with b.write(conn):
            _set_meta(store, conn, "retention_hour", retention_hour)
    if failure is not None:
        raise failure
    return result


def _compact_step(
    store: TimeSeriesStore,
    conn: Any,
    lo: int,
    hi: int,
    buckets: list[int],
    watermark: int,
    result: MaintainResult,
) -> None:
    """``_compact_range`` in a transaction of its own."""
    with _step(store, conn):
        store.backend.lock_compaction(conn)
        _compact_range(store, conn, lo, hi, buckets, watermark, result)


def _compact_one_by_one(
    store: TimeSeriesStore,
    conn: Any,
    lo: int,
    hi: int,
    buckets: list[int],
    watermark: int,
    result: MaintainResult,
) -> bool:
    """After a failed step: compact the range's series with rows below the watermark
    one at a time, logging those that fail. False (stopping there) once the first
    ``SYSTEMIC_FAILURES`` all failed: the trouble is not a series' own (a full disk), and
    a thousand more attempts would only fill the log."""
    b = store.backend
    in_buckets, p_buckets = b.id_filter("bucket", buckets)
    cur = b.execute(
        conn,
        f"SELECT DISTINCT series_id FROM raw WHERE {in_buckets} "
        "AND series_id >= ? AND series_id < ? AND ts < ?",
        (p_buckets, lo, hi, watermark),
    )
    ids = sorted(int(sid) for (sid,) in cur.fetchall())
    failed = done = 0
    for sid in ids:
        try:
            _compact_step(store, conn, sid, sid + 1, buckets, watermark, result)
            done += 1
        except Exception:
            failed += 1
            logger.exception("cannot compact series %d; its samples stay in raw", sid)
            if not done and failed >= SYSTEMIC_FAILURES:
                return False
    return True


def _raise_late_flag(store: TimeSeriesStore, conn: Any) -> None:
    try:
        with store.backend.write(conn):
            _set_meta(store, conn, "late", 1)
    except Exception:
        logger.exception("cannot flag the rows left in raw for the next maintain()")


def _old_buckets(store: TimeSeriesStore, conn: Any, watermark: int) -> list[int]:
    """The distinct buckets of ``raw`` below the watermark, one index probe each."""
    return store.backend.raw_buckets(conn, watermark)


def _compact_range(
    store: TimeSeriesStore,
    conn: Any,
    lo: int,
    hi: int,
    buckets: list[int],
    watermark: int,
    result: MaintainResult,
) -> None:
    """Move raw samples below the watermark of series lo <= id < hi into chunks.

    All the series of the range are processed together, as flat arrays sorted by
    (series, time): their stored hour chunks decoded in one batch, merged with the new
    rows (the stored sample winning on equal timestamps), then every hour chunk, its
    1-minute buckets and its day of hourly buckets computed and encoded in batches
    (``codec.encode_many``). With the watermark moving every few minutes the hour
    being filled is re-merged at every step, so the cost per series and run matters
    more than the cost per sample.
    """
    b = store.backend
    in_buckets, p_buckets = b.id_filter("bucket", buckets)
    # ts < watermark: a raw bucket straddles the watermark unless its width divides the
    # step (a 2-minute bucket, 1-minute steps); its rows above the watermark stay.
    where = f"{in_buckets} AND series_id >= ? AND series_id < ? AND ts < ?"
    params = (p_buckets, lo, hi, watermark)
    # coalesce: SQLite stores NaN as NULL (see reads._recent_rows).
    cur = b.execute(
        conn, f"SELECT series_id, ts, coalesce(value, 'NaN') FROM raw WHERE {where}", params
    )
    flat = np.fromiter(chain.from_iterable(cur), dtype=np.float64).reshape(-1, 3)
    if not len(flat):
        return
    new_sid = flat[:, 0].astype(np.int64)  # exact: ids and ms timestamps are < 2**53
    new_ts = flat[:, 1].astype(np.int64)
    new_values = np.ascontiguousarray(flat[:, 2])
    order = np.lexsort((new_ts, new_sid))
    new_sid, new_ts, new_values = new_sid[order], new_ts[order], new_values[order]
    new_hours = new_ts - new_ts % HOUR_MS
    first, _ = runs(new_sid, new_hours)
    keys = set(zip(new_sid[first].tolist(), new_hours[first].tolist(), strict=True))
    s_sid, s_ts, s_cols = _load(store, conn, "chunk_raw", lo, hi, keys, 1)
    # Stored rows first: on equal (series, ts) the first, the stored sample, stays.
    sid, ts, (values,) = _merge_first(
        np.concatenate((s_sid, new_sid)),
        np.concatenate((s_ts, new_ts)),
        [np.concatenate((s_cols[0], new_values))],
    )
    hours = ts - ts % HOUR_MS
    first, ends = runs(sid, hours)
    sizes = ends - first
    raw_out = list(
        zip(
            sid[first].tolist(),
            hours[first].tolist(),
            sizes.tolist(),
            codec.encode_many(ts, [values], sizes),
            strict=True,
        )
    )
    minutes = aggregate_keyed(sid, ts, values, MINUTE_MS)
    m_hours = minutes.starts - minutes.starts % HOUR_MS
    first, ends = runs(minutes.keys, m_hours)
    sizes = ends - first
    minute_out = list(
        zip(
            minutes.keys[first].tolist(),
            m_hours[first].tolist(),
            sizes.tolist(),
            codec.encode_many(minutes.starts, minutes.columns, sizes),
            strict=True,
        )
    )
    # An hour with only NaN (staleness markers) has no buckets.
    minute_gone = keys - {(k, h) for k, h, _, _ in minute_out}
    b.executemany(conn, _UPSERT.format(table="chunk_raw"), raw_out)
    b.executemany(conn, _UPSERT.format(table="chunk_1m"), minute_out)
    if minute_gone:
        b.executemany(
            conn, "DELETE FROM chunk_1m WHERE series_id = ? AND start_ts = ?", sorted(minute_gone)
        )
    hour_out = _merge_hourly(store, conn, lo, hi, combine_keyed(minutes, HOUR_MS))
    b.executemany(conn, _UPSERT.format(table="chunk_1h"), hour_out)
    b.execute(conn, f"DELETE FROM raw WHERE {where}", params)
    # The buckets' rows changed: new generations (the empty ones' dropped), so no
    # reader serves them from its head cache as they were (head.py).
    touched = np.unique(new_ts - new_ts % RAW_BUCKET_MS)
    b.forget_buckets(conn, touched.tolist())
    result.compacted_samples += len(new_ts)
    result.compacted_series += len({k for k, _ in keys})
    result.chunks_written += len(raw_out) + len(minute_out) + len(hour_out)


def _merge_first(
    sid: Int64Array, ts: Int64Array, cols: list[Float64Array]
) -> tuple[Int64Array, Int64Array, list[Float64Array]]:
    """Rows sorted by (series, ts), the FIRST of rows with equal (series, ts) kept."""
    order = np.lexsort((ts, sid))  # stable
    sid, ts = sid[order], ts[order]
    keep = np.ones(len(ts), dtype=bool)
    keep[1:] = (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])
    return sid[keep], ts[keep], [c[order][keep] for c in cols]


def _load(
    store: TimeSeriesStore,
    conn: Any,
    table: str,
    lo: int,
    hi: int,
    keys: set[tuple[int, int]],
    width: int,
) -> tuple[Int64Array, Int64Array, list[Float64Array]]:
    """The stored chunks of ``table`` with a (series, start) in ``keys``, decoded in one
    batch: series id, timestamp and ``width`` columns of every row."""
    where, param = store.backend.id_filter("start_ts", sorted({st for _, st in keys}))
    cur = store.backend.execute(
        conn,
        f"SELECT series_id, start_ts, data FROM {table} "
        f"WHERE series_id >= ? AND series_id < ? AND {where}",
        (lo, hi, param),
    )
    found = [(int(sid), bytes(data)) for sid, st, data in cur.fetchall() if (sid, st) in keys]
    if not found:
        empty = np.zeros(0, np.float64)
        return np.zeros(0, np.int64), np.zeros(0, np.int64), [empty] * width
    ts, cols, sizes = codec.decode_many([data for _, data in found])
    sids = np.repeat(np.array([sid for sid, _ in found], dtype=np.int64), sizes)
    return sids, ts, cols


def _merge_hourly(
    store: TimeSeriesStore, conn: Any, lo: int, hi: int, hourly: KeyedBuckets
) -> list[tuple[int, int, int, bytes]]:
    """New hourly buckets replace stored ones of the same hour in the series' day chunk
    (a partial hour's bucket is replaced as the hour fills)."""
    if not len(hourly.keys):
        return []
    days = hourly.starts - hourly.starts % DAY_MS
    keys = set(zip(hourly.keys.tolist(), days.tolist(), strict=True))
    s_sid, s_ts, s_cols = _load(store, conn, "chunk_1h", lo, hi, keys, len(hourly.columns))
    # New buckets first, so that they win over the stored ones of the same hour.
    sid, starts, cols = _merge_first(
        np.concatenate((hourly.keys, s_sid)),
        np.concatenate((hourly.starts, s_ts)),
        [np.concatenate((n, o)) for n, o in zip(hourly.columns, s_cols, strict=True)],
    )
    days = starts - starts % DAY_MS
    first, ends = runs(sid, days)
    sizes = ends - first
    blobs = codec.encode_many(starts, cols, sizes)
    return list(zip(sid[first].tolist(), days[first].tolist(), sizes.tolist(), blobs, strict=True))


def _apply_retention(
    store: TimeSeriesStore, conn: Any, now_ms: int, top: int, result: MaintainResult
) -> None:
    """Drop chunks that end at or before now - retention of their tier."""
    b = store.backend
    cutoffs = {
        "chunk_raw": now_ms - store.retention.of(Tier.RAW) - CHUNK_SPAN[Tier.RAW],
        "chunk_1m": now_ms - store.retention.of(Tier.MINUTE) - CHUNK_SPAN[Tier.MINUTE],
        "chunk_1h": now_ms - store.retention.of(Tier.HOUR) - CHUNK_SPAN[Tier.HOUR],
    }
    for lo in range(1, top + 1, RETENTION_SERIES_PER_STEP):
        hi = lo + RETENTION_SERIES_PER_STEP
        with _step(store, conn):
            for table, cutoff in cutoffs.items():
                cur = b.execute(
                    conn,
                    f"DELETE FROM {table} WHERE series_id >= ? AND series_id < ? AND start_ts <= ?",
                    (lo, hi, cutoff),
                )
                result.deleted_chunks += max(int(cur.rowcount), 0)
    with b.write(conn):
        # Recent samples older than raw retention: only there if compaction never ran.
        cutoff = now_ms - store.retention.of(Tier.RAW)
        cur = b.execute(conn, "DELETE FROM raw WHERE bucket < ?", (cutoff,))
        result.deleted_raw += max(int(cur.rowcount), 0)
        b.keep_high_water(conn)
        b.execute(conn, "DELETE FROM raw_gen WHERE bucket < ?", (cutoff,))  # whole buckets
