"""``maintain()``: compaction into chunks, rollups, retention. One worker at a time.

Each step is a short transaction over a range of series ids, so ingest waits at most one
step for the write lock (SQLite) or the compaction advisory lock (PostgreSQL), and a
crash mid-way loses nothing: raw samples leave the ``raw`` table in the very transaction
that writes their chunk. Every step is idempotent (chunks are merged, rollups recomputed
from the merged chunk), so a second call with the same ``now`` finds nothing to do.

Order of a run:
1. claim (lease / advisory lock), else return ``claimed=False``;
2. move the watermark to ``floor_hour(now - compact_after)``: from that commit on, appends
   below it check chunks for duplicates;
3. if the watermark moved or late samples are flagged: per id range, merge raw samples
   below the watermark into their hour chunks; recompute that hour's 1-minute buckets
   from the merged chunk; merge the hour's bucket into the series' day of hourly buckets;
4. once per hour of ``now``: drop chunks wholly older than each tier's retention.
"""

# S608: SQL here is assembled from fixed fragments (table names, IN-list clauses) only;
# every value travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from steward.tsdb import codec
from steward.tsdb.codec import Float64Array, Int64Array
from steward.tsdb.rollup import CHUNK_SPAN, Buckets, aggregate, combine, merge_keep_first
from steward.tsdb.types import DAY_MS, HOUR_MS, MINUTE_MS, MaintainResult, Tier

if TYPE_CHECKING:
    from steward.tsdb.store import TimeSeriesStore

SERIES_PER_STEP = 250  # ~90,000 samples at 10 s for a 1 h step: a ~0.3 s transaction
RETENTION_SERIES_PER_STEP = 5000
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


def _set_meta(store: TimeSeriesStore, conn: Any, key: str, value: int) -> None:
    store.backend.execute(conn, "UPDATE meta SET value = ? WHERE key = ?", (value, key))


def _run(store: TimeSeriesStore, conn: Any, now_ms: int) -> MaintainResult:
    b = store.backend
    result = MaintainResult()
    target = now_ms - store.compact_after_ms
    target -= target % HOUR_MS
    retention_hour = now_ms - now_ms % HOUR_MS
    with b.write(conn):
        b.lock_compaction(conn)  # appends in flight finish under the old watermark
        b.execute(conn, "INSERT INTO meta VALUES ('retention_hour', 0) ON CONFLICT DO NOTHING")
        watermark = store._meta(conn, "watermark")
        late = store._meta(conn, "late")
        retention_due = store._meta(conn, "retention_hour") < retention_hour
        compact = target > watermark or late != 0
        if target > watermark:
            watermark = target
            _set_meta(store, conn, "watermark", watermark)
        if late:
            _set_meta(store, conn, "late", 0)  # set again by any late append from now on
        top = b.execute(conn, "SELECT coalesce(max(id), 0) FROM series").fetchone()[0]
    result.watermark_ms = watermark
    buckets = _old_buckets(store, conn, watermark) if compact else []
    if buckets:
        for lo in range(1, int(top) + 1, SERIES_PER_STEP):
            with b.write(conn):
                b.lock_compaction(conn)
                _compact_range(store, conn, lo, lo + SERIES_PER_STEP, buckets, result)
        b.after_compaction(conn)
    if retention_due:
        _apply_retention(store, conn, now_ms, int(top), result)
        with b.write(conn):
            _set_meta(store, conn, "retention_hour", retention_hour)
    return result


def _old_buckets(store: TimeSeriesStore, conn: Any, watermark: int) -> list[int]:
    """The distinct buckets of ``raw`` below the watermark, one index probe each."""
    out: list[int] = []
    after = -(2**62)
    while True:
        row = store.backend.execute(
            conn,
            "SELECT min(bucket) FROM raw WHERE bucket > ? AND bucket < ?",
            (after, watermark),
        ).fetchone()
        if row[0] is None:
            return out
        after = int(row[0])
        out.append(after)


def _compact_range(
    store: TimeSeriesStore, conn: Any, lo: int, hi: int, buckets: list[int], result: MaintainResult
) -> None:
    """Move raw samples of series lo <= id < hi in the given buckets into chunks."""
    b = store.backend
    in_buckets, p_buckets = b.id_filter("bucket", buckets)
    where = f"{in_buckets} AND series_id >= ? AND series_id < ?"
    rows = b.execute(
        conn, f"SELECT series_id, ts, value FROM raw WHERE {where}", (p_buckets, lo, hi)
    ).fetchall()
    if not rows:
        return
    arr = np.array(rows, dtype=np.float64)  # exact for ids and ms; NULL (NaN) -> NaN
    arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))]
    sids = arr[:, 0].astype(np.int64)
    ts = arr[:, 1].astype(np.int64)
    values = np.ascontiguousarray(arr[:, 2])
    hours = ts - ts % HOUR_MS
    cut = np.flatnonzero((sids[1:] != sids[:-1]) | (hours[1:] != hours[:-1])) + 1
    starts = np.concatenate(([0], cut)).tolist()
    ends = np.concatenate((cut, [len(ts)])).tolist()
    keys = [(int(sids[s]), int(hours[s])) for s in starts]
    stored = _load_chunks(store, conn, "chunk_raw", lo, hi, sorted({h for _, h in keys}))
    raw_out: list[tuple[int, int, int, bytes]] = []
    minute_out: list[tuple[int, int, int, bytes]] = []
    minute_gone: list[tuple[int, int]] = []
    hourly: dict[tuple[int, int], list[Buckets]] = defaultdict(list)
    for (sid, hour), s, e in zip(keys, starts, ends, strict=True):
        run_ts, run_values = ts[s:e], values[s:e]
        old = stored.get((sid, hour))
        if old is not None:
            run_ts, cols = merge_keep_first([old[0], run_ts], [old[1], [run_values]])
            run_values = cols[0]
        raw_out.append((sid, hour, len(run_ts), codec.encode(run_ts, [run_values])))
        minutes = aggregate(run_ts, run_values, MINUTE_MS)
        if len(minutes.starts):
            minute_out.append(
                (sid, hour, len(minutes.starts), codec.encode(minutes.starts, minutes.columns))
            )
            hourly[(sid, hour - hour % DAY_MS)].append(combine(minutes, HOUR_MS))
        else:  # only NaN (staleness markers) in this hour: no buckets
            minute_gone.append((sid, hour))
        result.compacted_samples += e - s
    b.executemany(conn, _UPSERT.format(table="chunk_raw"), raw_out)
    b.executemany(conn, _UPSERT.format(table="chunk_1m"), minute_out)
    if minute_gone:
        b.executemany(
            conn, "DELETE FROM chunk_1m WHERE series_id = ? AND start_ts = ?", minute_gone
        )
    hour_out = _merge_hourly(store, conn, lo, hi, hourly)
    b.executemany(conn, _UPSERT.format(table="chunk_1h"), hour_out)
    b.execute(conn, f"DELETE FROM raw WHERE {where}", (p_buckets, lo, hi))
    result.compacted_series += len({sid for sid, _ in keys})
    result.chunks_written += len(raw_out) + len(minute_out) + len(hour_out)


def _load_chunks(
    store: TimeSeriesStore, conn: Any, table: str, lo: int, hi: int, starts: list[int]
) -> dict[tuple[int, int], tuple[Int64Array, list[Float64Array]]]:
    where, param = store.backend.id_filter("start_ts", starts)
    cur = store.backend.execute(
        conn,
        f"SELECT series_id, start_ts, data FROM {table} "
        f"WHERE series_id >= ? AND series_id < ? AND {where}",
        (lo, hi, param),
    )
    return {(int(sid), int(st)): codec.decode(bytes(data)) for sid, st, data in cur.fetchall()}


def _merge_hourly(
    store: TimeSeriesStore,
    conn: Any,
    lo: int,
    hi: int,
    hourly: dict[tuple[int, int], list[Buckets]],
) -> list[tuple[int, int, int, bytes]]:
    """New hourly buckets replace stored ones of the same hour in the series' day chunk."""
    if not hourly:
        return []
    stored = _load_chunks(store, conn, "chunk_1h", lo, hi, sorted({d for _, d in hourly}))
    out = []
    for (sid, day), new in hourly.items():
        # Newest first so that merge_keep_first keeps the recomputed bucket.
        ts_parts = [bk.starts for bk in reversed(new)]
        col_parts = [bk.columns for bk in reversed(new)]
        old = stored.get((sid, day))
        if old is not None:
            ts_parts.append(old[0])
            col_parts.append(old[1])
        starts, cols = merge_keep_first(ts_parts, col_parts)
        out.append((sid, day, len(starts), codec.encode(starts, cols)))
    return out


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
        with b.write(conn):
            for table, cutoff in cutoffs.items():
                cur = b.execute(
                    conn,
                    f"DELETE FROM {table} WHERE series_id >= ? AND series_id < ? AND start_ts <= ?",
                    (lo, hi, cutoff),
                )
                result.deleted_chunks += max(int(cur.rowcount), 0)
    with b.write(conn):
        # Recent samples older than raw retention: only there if compaction never ran.
        cur = b.execute(
            conn, "DELETE FROM raw WHERE bucket < ?", (now_ms - store.retention.of(Tier.RAW),)
        )
        result.deleted_raw += max(int(cur.rowcount), 0)
