"""Reads: find the matching series, then merge their chunks and recent samples.

Finding series uses the registry's indexes for the most selective matcher the database
can answer (``__name__="x"``, else ``steward_device="n"``, else the metric names matched
in Python), then evaluates every matcher in Python on the cached label sets. Every read
runs in one snapshot (``Backend.read``) so a compaction committing meanwhile is never
seen half-done; samples are still de-duplicated by timestamp as a second line of defence.

Raw samples of many series travel as flat arrays sorted by (series, time): chunks are
decoded in batches (``codec.decode_many``) and recent rows go from the cursor into one
array, so a fleet query makes no Python object per sample. ``select_columns`` hands
those arrays to the PromQL engine as they are; ``select`` cuts them per series.
"""

# S608: SQL here is assembled from fixed fragments (table names, IN-list clauses) only;
# every value travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from steward.tsdb import codec
from steward.tsdb.backends import RAW_BUCKET_MS
from steward.tsdb.codec import Float64Array, Int64Array
from steward.tsdb.labels import compile_matchers
from steward.tsdb.registry import BOUNDS_SLACK_MS
from steward.tsdb.rollup import (
    CHUNK_SPAN,
    STEP,
    Buckets,
    aggregate,
    combine,
    field_values,
    raw_field_values,
)
from steward.tsdb.types import (
    DEVICE_LABEL,
    METRIC_NAME,
    Matcher,
    MatchOp,
    MetricType,
    RollupField,
    SeriesData,
    SeriesMetadata,
    Tier,
)

if TYPE_CHECKING:
    from steward.tsdb.store import TimeSeriesStore

CHUNK_TABLE = {Tier.RAW: "chunk_raw", Tier.MINUTE: "chunk_1m", Tier.HOUR: "chunk_1h"}


class Candidate(NamedTuple):
    sid: int
    org_id: int
    labels: dict[str, str]
    first_ms: int
    last_ms: int


_DEVICE_LIST = re.compile(r"^[0-9]+(\|[0-9]+)*$")


def device_values(matchers: Sequence[Matcher]) -> list[str]:
    """The devices a ``steward_device`` matcher names outright: ``="3"`` or ``=~"3|12|40"``
    (the regex is anchored, so a plain list of ids means exactly those); else []."""
    for m in matchers:
        if m.name != DEVICE_LABEL or not m.value:
            continue
        if m.op is MatchOp.EQ:
            return [m.value]
        if m.op is MatchOp.RE and _DEVICE_LIST.match(m.value):
            return sorted(set(m.value.split("|")))
    return []


def candidates(
    store: TimeSeriesStore, conn: Any, org_ids: Collection[int] | None, matchers: Sequence[Matcher]
) -> list[Candidate]:
    """Series of the given orgs matching every matcher, in id (creation) order."""
    b = store.backend
    where: list[str] = []
    params: list[Any] = []
    if org_ids is not None:
        if not org_ids:
            return []
        clause, param = b.id_filter("org_id", sorted(org_ids))
        where.append(clause)
        params.append(param)
    name_eq = next(
        (m.value for m in matchers if m.name == METRIC_NAME and m.op is MatchOp.EQ), None
    )
    devices = device_values(matchers)
    if devices:
        # With a metric name too: the charts and the fleet page ask for one metric of a few
        # devices out of thousands; both columns in SQL spare testing every series' labels.
        clause, param = b.id_filter("device", devices, text=True)
        where.append(clause)
        params.append(param)
    if name_eq is not None:
        where.append("metric = ?")
        params.append(name_eq)
    elif devices:
        pass
    elif any(m.name == METRIC_NAME for m in matchers):
        names = metric_names(store, conn, org_ids)
        test = compile_matchers([m for m in matchers if m.name == METRIC_NAME])
        wanted = [n for n in names if test({METRIC_NAME: n})]
        if not wanted:
            return []
        clause, param = b.id_filter("metric", wanted, text=True)
        where.append(clause)
        params.append(param)
    sql = "SELECT id, org_id, first_ms, last_ms FROM series"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = b.execute(conn, sql + " ORDER BY id", params).fetchall()
    registry = store.registry
    registry.load_labels(conn, [int(r[0]) for r in rows])
    test = compile_matchers(matchers)
    out = []
    cached = registry.labels
    for sid, org_id, first_ms, last_ms in rows:
        labels = cached[int(sid)][1]
        if test(labels):
            out.append(Candidate(int(sid), int(org_id), labels, int(first_ms), int(last_ms)))
    return out


def metric_names(store: TimeSeriesStore, conn: Any, org_ids: Collection[int] | None) -> list[str]:
    sql = "SELECT DISTINCT metric FROM series"
    params: list[Any] = []
    if org_ids is not None:
        if not org_ids:
            return []
        clause, param = store.backend.id_filter("org_id", sorted(org_ids))
        sql += " WHERE " + clause
        params.append(param)
    return sorted(r[0] for r in store.backend.execute(conn, sql, params).fetchall())


def _in_range(c: Candidate, start_ms: int, end_ms: int) -> bool:
    return c.first_ms <= end_ms and c.last_ms + BOUNDS_SLACK_MS >= start_ms


class SeriesColumns(NamedTuple):
    """Samples of many series in one pair of arrays, series ``i`` owning the rows
    ``offsets[i]:offsets[i + 1]`` (time order). The PromQL engine works on exactly this
    shape; handing it over as is spares a list of Python numbers per sample."""

    labels: list[dict[str, str]]
    timestamps: Int64Array
    values: Float64Array
    offsets: Int64Array

    @classmethod
    def of(cls, data: Sequence[SeriesData]) -> SeriesColumns:
        """The same samples from ``SeriesData`` (rollup tiers, other stores)."""
        ts = [np.asarray(s.timestamps, dtype=np.int64) for s in data]
        vs = [np.asarray(s.values, dtype=np.float64) for s in data]
        offsets = np.zeros(len(data) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in ts], out=offsets[1:])
        return cls(
            [dict(s.labels) for s in data],
            np.concatenate(ts) if ts else np.zeros(0, np.int64),
            np.concatenate(vs) if vs else np.zeros(0, np.float64),
            offsets,
        )


class _Rows(NamedTuple):
    """Samples of many series, sorted by (series position, timestamp)."""

    pos: Int64Array  # the series' index in the sorted id array the rows were read for
    ts: Int64Array
    values: Float64Array


def _empty_rows() -> _Rows:
    return _Rows(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))


def _sort_rows(rows: _Rows) -> _Rows:
    """Order by (position, ts), keeping the FIRST of rows with equal (position, ts).

    Rows arrive as runs already in (position, ts) order (chunks as read, then recent rows
    as the B-tree returns them, bucket by bucket), so a stable sort by position (timsort:
    a merge of the runs) usually finishes the job; the two-key sort with de-duplication
    runs only when a check finds rows out of order or repeated.
    """
    if len(rows.pos) < 2:
        return rows
    order = np.argsort(rows.pos, kind="stable")
    pos, ts = rows.pos[order], rows.ts[order]
    if not bool(np.any((pos[1:] == pos[:-1]) & (ts[1:] <= ts[:-1]))):
        return _Rows(pos, ts, rows.values[order])
    order = np.lexsort((rows.ts, rows.pos))  # stable: the first of equal keys stays first
    pos, ts = rows.pos[order], rows.ts[order]
    keep = np.ones(len(pos), dtype=bool)
    keep[1:] = (pos[1:] != pos[:-1]) | (ts[1:] != ts[:-1])
    return _Rows(pos[keep], ts[keep], rows.values[order][keep])


def _chunk_blobs(
    store: TimeSeriesStore, conn: Any, tier: Tier, ids: list[int], lo: int, hi: int
) -> tuple[Int64Array, list[bytes]]:
    """(series id, blob) of the chunks of ``tier`` whose span meets [lo, hi], in (series,
    time) order."""
    where, param = store.backend.id_filter("series_id", ids)
    cur = store.backend.execute(
        conn,
        f"SELECT series_id, data FROM {CHUNK_TABLE[tier]} WHERE {where} "
        "AND start_ts > ? AND start_ts <= ? ORDER BY series_id, start_ts",
        (param, lo - CHUNK_SPAN[tier], hi),
    )
    rows = cur.fetchall()
    sids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    # sqlite3 hands out bytes, psycopg memoryview (only that needs a copy).
    return sids, [r[1] if isinstance(r[1], bytes) else bytes(r[1]) for r in rows]


def _read_chunks(
    store: TimeSeriesStore, conn: Any, tier: Tier, ids: list[int], lo: int, hi: int
) -> list[tuple[int, Int64Array, list[Float64Array]]]:
    """Decoded chunks of ``tier`` whose span meets [lo, hi], in (series, time) order."""
    sids, blobs = _chunk_blobs(store, conn, tier, ids, lo, hi)
    ts, cols, sizes = codec.decode_many(blobs)
    out = []
    start = 0
    for sid, end in zip(sids.tolist(), np.cumsum(sizes).tolist(), strict=True):
        out.append((sid, ts[start:end], [c[start:end] for c in cols]))
        start = end
    return out


def _chunk_rows(store: TimeSeriesStore, conn: Any, ids: Int64Array, lo: int, hi: int) -> _Rows:
    """Raw samples in [lo, hi] from ``chunk_raw``, in (position, ts) order."""
    sids, blobs = _chunk_blobs(store, conn, Tier.RAW, ids.tolist(), lo, hi)
    if not blobs:
        return _empty_rows()
    ts, cols, sizes = codec.decode_many(blobs)
    pos = np.repeat(np.searchsorted(ids, sids), sizes)
    keep = (ts >= lo) & (ts <= hi)
    if bool(keep.all()):
        return _Rows(pos, ts, cols[0])
    return _Rows(pos[keep], ts[keep], cols[0][keep])


def _recent_rows(store: TimeSeriesStore, conn: Any, ids: Int64Array, lo: int, hi: int) -> _Rows:
    """Samples of the ``raw`` table with lo <= ts <= hi, in (position, ts) order."""
    b = store.backend
    lo_bucket = lo - lo % RAW_BUCKET_MS
    first = b.execute(conn, "SELECT min(bucket) FROM raw WHERE bucket >= ?", (lo_bucket,))
    first_bucket = first.fetchone()[0]
    if first_bucket is None or first_bucket > hi:
        return _empty_rows()
    # One seek per (bucket, series): list the buckets, never a range (see RAW_BUCKET_MS).
    buckets = list(range(int(first_bucket), hi + 1, RAW_BUCKET_MS))
    in_buckets, p_buckets = b.id_filter("bucket", buckets)
    in_series, p_series = b.id_filter("series_id", ids.tolist())
    # coalesce: SQLite stores a NaN as NULL; the text 'NaN' is a float to numpy (and to
    # PostgreSQL, which stores NaN as such and never gets here with a NULL).
    cur = b.execute(
        conn,
        f"SELECT series_id, ts, coalesce(value, 'NaN') FROM raw WHERE {in_buckets} "
        f"AND {in_series} AND ts >= ? AND ts <= ?",
        (p_buckets, p_series, lo, hi),
    )
    # Straight from the cursor into one array: no list of rows, no per-row Python. A
    # float64 holds ids and ms timestamps exactly (both < 2**53).
    flat = np.fromiter(chain.from_iterable(cur), dtype=np.float64).reshape(-1, 3)
    rows = _Rows(
        np.searchsorted(ids, flat[:, 0].astype(np.int64)),
        flat[:, 1].astype(np.int64),
        np.ascontiguousarray(flat[:, 2]),
    )
    return _sort_rows(rows)


def _split(rows: _Rows) -> tuple[list[int], list[Int64Array], list[Float64Array]]:
    """Per-series views of sorted rows: (positions, timestamps, values)."""
    if not len(rows.pos):
        return [], [], []
    cuts = np.flatnonzero(rows.pos[1:] != rows.pos[:-1]) + 1
    positions = rows.pos[np.concatenate(([0], cuts))].tolist()
    return positions, np.split(rows.ts, cuts), np.split(rows.values, cuts)


def _by_id(ids: Int64Array, rows: _Rows) -> dict[int, tuple[Int64Array, Float64Array]]:
    positions, ts, values = _split(rows)
    return {int(ids[p]): (t, v) for p, t, v in zip(positions, ts, values, strict=True)}


def _read_recent(
    store: TimeSeriesStore, conn: Any, ids: list[int], lo: int, hi: int
) -> dict[int, tuple[Int64Array, Float64Array]]:
    """Samples of the ``raw`` table with lo <= ts <= hi, per series id."""
    id_arr = np.array(sorted(ids), dtype=np.int64)
    return _by_id(id_arr, _recent_rows(store, conn, id_arr, lo, hi))


def _raw_rows(
    store: TimeSeriesStore, conn: Any, ids: Int64Array, start_ms: int, end_ms: int
) -> _Rows:
    """Raw samples in [start, end] of the series ``ids`` (sorted), chunks and recent rows
    merged, in (position, ts) order; a sample in both counts once, as the chunk has it."""
    # Recent samples first: if a compaction slipped in between (it cannot inside the
    # snapshot, but the order makes it harmless anyway) rows would be seen twice, not lost.
    recent = _recent_rows(store, conn, ids, start_ms, end_ms)
    chunks = _chunk_rows(store, conn, ids, start_ms, end_ms)
    if not len(recent.pos):
        return chunks
    if not len(chunks.pos):
        return recent
    return _merge_rows(chunks, recent, len(ids))


def _merge_rows(chunks: _Rows, recent: _Rows, count: int) -> _Rows:
    """Chunk rows and recent rows, both in (position, ts) order, merged in that order.

    With the watermark minutes behind now, a "last hour" read has both for every
    series, and each series' recent rows all come after its chunk rows: each row's place
    is then its series' offset plus its rank, no sort (a stable sort of the 2.9 M rows of
    bench/query.py's fleet query took ~150 ms). Only when a recent row is not after its
    series' chunk rows (a late sample not yet compacted, a duplicate) does it sort, the
    chunk row winning over a recent one with the same timestamp.
    """
    c_count = np.bincount(chunks.pos, minlength=count)
    r_count = np.bincount(recent.pos, minlength=count)
    c_start = np.cumsum(c_count) - c_count  # first row of each series in chunks
    r_start = np.cumsum(r_count) - r_count
    both = np.flatnonzero((c_count > 0) & (r_count > 0))
    if bool(np.any(chunks.ts[c_start[both] + c_count[both] - 1] >= recent.ts[r_start[both]])):
        # Chunk rows first, so they win over a recent row with the same timestamp.
        joined = _Rows(*(np.concatenate((a, b)) for a, b in zip(chunks, recent, strict=True)))
        return _sort_rows(joined)
    offset = np.cumsum(c_count + r_count) - c_count - r_count  # first row in the merge
    c_dest = offset[chunks.pos] + np.arange(len(chunks.pos)) - c_start[chunks.pos]
    r_dest = offset[recent.pos] + c_count[recent.pos]
    r_dest += np.arange(len(recent.pos)) - r_start[recent.pos]
    total = len(chunks.pos) + len(recent.pos)
    out = _Rows(np.empty(total, np.int64), np.empty(total, np.int64), np.empty(total, np.float64))
    for target, a, b in zip(out, chunks, recent, strict=True):
        target[c_dest] = a
        target[r_dest] = b
    return out


def _raw_arrays(
    store: TimeSeriesStore, conn: Any, ids: list[int], start_ms: int, end_ms: int
) -> dict[int, tuple[Int64Array, Float64Array]]:
    id_arr = np.array(sorted(ids), dtype=np.int64)
    return _by_id(id_arr, _raw_rows(store, conn, id_arr, start_ms, end_ms))


def _join_buckets(
    ts_parts: list[Int64Array], col_parts: list[list[Float64Array]], step: int
) -> tuple[Int64Array, list[Float64Array]]:
    """Stored buckets (chunks, in time order) then recent ones (computed from ``raw``):
    concatenated, and two with the same start COMBINED (min of mins, sum of sums, the
    recent one's last).

    They share a start only in the bucket holding the watermark: the stored part covers
    the samples below it, the recent part those above (the watermark moves in steps of
    ``compact_step_ms``, so the hour being filled has a partial bucket in ``chunk_1h``),
    and the two halves together are the whole bucket, neither alone. Stored buckets of
    one series never overlap (one chunk per series and span).
    """
    if len(ts_parts) == 1:
        return ts_parts[0], col_parts[0]
    ts = np.concatenate(ts_parts)
    ncols = len(col_parts[0])
    cols = [np.concatenate([p[i] for p in col_parts]) for i in range(ncols)]
    if len(ts) < 2 or bool(np.all(ts[1:] > ts[:-1])):
        return ts, cols
    order = np.argsort(ts, kind="stable")  # stored before recent on equal starts
    joined = combine(Buckets(ts[order], [c[order] for c in cols]), step)
    return joined.starts, joined.columns


def _rollup_buckets(
    store: TimeSeriesStore, conn: Any, tier: Tier, ids: list[int], start_ms: int, end_ms: int
) -> dict[int, Buckets]:
    """Buckets whose END is in [start, end]: stored ones below the watermark, plus recent
    ones computed now from the ``raw`` rows above it, the bucket holding the watermark
    joined from both (``_join_buckets``). Late rows below the watermark are left to the
    next ``maintain()``, which merges them and recomputes their buckets."""
    step = STEP[tier]
    first_start = start_ms - step  # the earliest bucket start whose end is >= start
    first_start += -first_start % step
    last_start = end_ms - step
    watermark = store._meta(conn, "watermark")
    recent: dict[int, Buckets] = {}
    if end_ms > watermark:
        # Not compacted yet: aggregate the raw table's samples on the fly.
        lo = max(watermark, first_start)
        for sid, (ts, values) in _read_recent(store, conn, ids, lo, end_ms - 1).items():
            recent[sid] = aggregate(ts, values, step)
    parts: dict[int, tuple[list[Int64Array], list[list[Float64Array]]]] = {}
    if first_start < watermark:
        hi = min(last_start, watermark - 1)
        for sid, ts, cols in _read_chunks(store, conn, tier, ids, first_start, hi):
            keep = (ts >= first_start) & (ts <= last_start) & (ts < watermark)
            p = parts.setdefault(sid, ([], []))
            p[0].append(ts[keep])
            p[1].append([c[keep] for c in cols])
    for sid, buckets in recent.items():
        p = parts.setdefault(sid, ([], []))
        p[0].append(buckets.starts)
        p[1].append(buckets.columns)
    out = {}
    for sid, (ts_parts, col_parts) in parts.items():
        starts, cols = _join_buckets(ts_parts, col_parts, step)
        keep = (starts >= first_start) & (starts <= last_start)
        if np.any(keep):
            out[sid] = Buckets(starts[keep], [c[keep] for c in cols])
    return out


def select(
    store: TimeSeriesStore,
    org_ids: Collection[int] | None,
    matchers: Sequence[Matcher],
    start_ms: int,
    end_ms: int,
    tier: Tier,
    field: RollupField,
) -> list[SeriesData]:
    """Series with at least one point in [start, end] on ``tier`` (``Store.select``)."""
    if end_ms < start_ms:
        return []
    b = store.backend
    conn = b.conn()
    with b.read(conn):
        # A bucket ending at start_ms holds samples from up to one step before it.
        since = start_ms - STEP.get(tier, 0)
        found = [
            c for c in candidates(store, conn, org_ids, matchers) if _in_range(c, since, end_ms)
        ]
        if not found:
            return []
        ids = [c.sid for c in found]
        if tier is Tier.RAW:
            samples = _raw_arrays(store, conn, ids, start_ms, end_ms)
            out = []
            for c in found:
                got = samples.get(c.sid)
                if got is not None:
                    values = raw_field_values(got[1], field)
                    out.append(SeriesData(dict(c.labels), got[0].tolist(), values.tolist()))
            return out
        buckets = _rollup_buckets(store, conn, tier, ids, start_ms, end_ms)
        keys = {(c.org_id, c.labels.get(METRIC_NAME, "")) for c in found if c.sid in buckets}
        types = store.metric_types(conn, keys) if field is RollupField.VALUE else {}
    step = STEP[tier]
    out = []
    for c in found:
        bk = buckets.get(c.sid)
        if bk is None:
            continue
        kind = _metric_type(types.get((c.org_id, c.labels.get(METRIC_NAME, ""))))
        values = field_values(bk, field, kind)
        out.append(SeriesData(dict(c.labels), (bk.starts + step).tolist(), values.tolist()))
    return out


def select_columns(
    store: TimeSeriesStore,
    org_ids: Collection[int] | None,
    matchers: Sequence[Matcher],
    start_ms: int,
    end_ms: int,
) -> SeriesColumns:
    """``select(tier=None)`` as flat arrays: what the PromQL engine reads.

    The same series, samples and order as ``select``; on the raw tier the chunks are
    decoded in batches (``codec.decode_many``) and the recent rows go from the cursor
    into one array, so no Python object is made per sample on the way to the engine.
    """
    tier = store.pick_tier(start_ms, end_ms)
    if tier is not Tier.RAW or end_ms < start_ms:
        return SeriesColumns.of(
            select(store, org_ids, matchers, start_ms, end_ms, tier, RollupField.VALUE)
        )
    b = store.backend
    conn = b.conn()
    with b.read(conn):
        found = [
            c for c in candidates(store, conn, org_ids, matchers) if _in_range(c, start_ms, end_ms)
        ]
        if not found:
            return SeriesColumns.of([])
        ids = np.fromiter((c.sid for c in found), dtype=np.int64, count=len(found))
        rows = _raw_rows(store, conn, ids, start_ms, end_ms)
    counts = np.bincount(rows.pos, minlength=len(found))
    has = np.flatnonzero(counts)
    offsets = np.zeros(len(has) + 1, dtype=np.int64)
    np.cumsum(counts[has], out=offsets[1:])
    labels = [dict(found[i].labels) for i in has.tolist()]
    return SeriesColumns(labels, rows.ts, rows.values, offsets)


def _metric_type(value: str | None) -> MetricType:
    try:
        return MetricType(value) if value else MetricType.UNKNOWN
    except ValueError:
        return MetricType.UNKNOWN


def series(
    store: TimeSeriesStore,
    org_ids: Collection[int] | None,
    matchers: Sequence[Matcher],
    start_ms: int,
    end_ms: int,
) -> list[dict[str, str]]:
    b = store.backend
    conn = b.conn()
    with b.read(conn):
        found = candidates(store, conn, org_ids, matchers)
    return [dict(c.labels) for c in found if _in_range(c, start_ms, end_ms)]


def label_names(
    store: TimeSeriesStore, org_ids: Collection[int] | None, matchers: Sequence[Matcher]
) -> list[str]:
    b = store.backend
    conn = b.conn()
    with b.read(conn):
        found = candidates(store, conn, org_ids, matchers)
    names: set[str] = set()
    for c in found:
        names.update(c.labels)
    return sorted(names)


def label_values(
    store: TimeSeriesStore,
    org_ids: Collection[int] | None,
    name: str,
    matchers: Sequence[Matcher],
) -> list[str]:
    b = store.backend
    conn = b.conn()
    with b.read(conn):
        if name == METRIC_NAME and not matchers:
            return metric_names(store, conn, org_ids)  # straight from the index
        found = candidates(store, conn, org_ids, matchers)
    return sorted({c.labels[name] for c in found if name in c.labels})


def metadata(
    store: TimeSeriesStore, org_ids: Collection[int] | None, metric: str | None
) -> list[SeriesMetadata]:
    b = store.backend
    where: list[str] = []
    params: list[Any] = []
    if org_ids is not None:
        if not org_ids:
            return []
        clause, param = b.id_filter("org_id", sorted(org_ids))
        where.append(clause)
        params.append(param)
    if metric is not None:
        where.append("metric = ?")
        params.append(metric)
    sql = "SELECT DISTINCT metric, type, unit, help FROM metadata"
    if where:
        sql += " WHERE " + " AND ".join(where)
    conn = b.conn()
    with b.read(conn):
        rows = b.execute(conn, sql + " ORDER BY metric, type, unit, help", params).fetchall()
    return [SeriesMetadata(m, _metric_type(t), u, h) for m, t, u, h in rows]
