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
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from steward.tsdb import codec, head
from steward.tsdb.backends import RAW_BUCKET_MS
from steward.tsdb.codec import Float64Array, Int64Array
from steward.tsdb.labels import compile_matchers
from steward.tsdb.registry import BOUNDS_SLACK_MS
from steward.tsdb.rollup import (
    CHUNK_SPAN,
    FIELDS,
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
_LO = itemgetter(0)


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
    by_name = next((m for m in matchers if m.name == METRIC_NAME and m.op is MatchOp.EQ), None)
    name_eq = None if by_name is None else by_name.value
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
    cached = registry.labels
    # The name matcher that went into the SQL (metric = labels' __name__) needs no test
    # again: a fleet query's only matcher, 8,000 calls spared.
    rest = [m for m in matchers if m is not by_name]
    if not rest:
        return [
            Candidate(int(sid), int(org_id), cached[int(sid)][1], int(first_ms), int(last_ms))
            for sid, org_id, first_ms, last_ms in rows
        ]
    test = compile_matchers(rest)
    out = []
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


def _decode(store: TimeSeriesStore, blobs: list[bytes]) -> codec.Decoded:
    """``codec.decode_many`` through the store's decoded-chunk cache (``chunkcache.py``;
    None: no cache). Exact either way: the cache is keyed by the blob's bytes."""
    cache = store.chunk_cache
    return codec.decode_many(blobs) if cache is None else cache.decode_many(blobs)


def _read_chunks(
    store: TimeSeriesStore, conn: Any, tier: Tier, ids: list[int], lo: int, hi: int
) -> list[tuple[int, Int64Array, list[Float64Array]]]:
    """Decoded chunks of ``tier`` whose span meets [lo, hi], in (series, time) order."""
    sids, blobs = _chunk_blobs(store, conn, tier, ids, lo, hi)
    ts, cols, sizes = _decode(store, blobs)
    out = []
    start = 0
    for sid, end in zip(sids.tolist(), np.cumsum(sizes).tolist(), strict=True):
        out.append((sid, ts[start:end], [c[start:end] for c in cols]))
        start = end
    return out


class _Runs(NamedTuple):
    """Samples of many series in (position, ts) order, position ``i`` owning the next
    ``counts[i]`` of them: rows without a position array (the chunks of a fleet query
    are millions of samples, and the engine needs only the counts)."""

    ts: Int64Array
    values: Float64Array
    counts: Int64Array


def _runs_of(rows: _Rows, count: int) -> _Runs:
    return _Runs(rows.ts, rows.values, np.bincount(rows.pos, minlength=count))


def _chunk_rows(store: TimeSeriesStore, conn: Any, ids: Int64Array, lo: int, hi: int) -> _Runs:
    """Raw samples in [lo, hi] from ``chunk_raw``, in (position, ts) order."""
    sids, blobs = _chunk_blobs(store, conn, Tier.RAW, ids.tolist(), lo, hi)
    if not blobs:
        return _Runs(np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(len(ids), np.int64))
    ts, cols, sizes = _decode(store, blobs)
    values = cols[0]
    keep = (ts >= lo) & (ts <= hi)
    if not bool(keep.all()):
        # A chunk's samples are in time order: those kept are one run of it.
        seen = np.zeros(len(ts) + 1, np.int64)
        np.cumsum(keep, out=seen[1:])
        ends = np.cumsum(sizes)
        sizes = seen[ends] - seen[ends - sizes]
        ts, values = ts[keep], values[keep]
    counts = np.bincount(np.searchsorted(ids, sids), weights=sizes, minlength=len(ids))
    return _Runs(ts, values, counts.astype(np.int64))


def _recent_rows(store: TimeSeriesStore, conn: Any, ids: Int64Array, lo: int, hi: int) -> _Rows:
    """Samples of the ``raw`` table with lo <= ts <= hi, in (position, ts) order.

    Settled buckets come from the head cache (``head.py``) when the store has one, the
    others from the table, for the requested series only.
    """
    b = store.backend
    lo_bucket = lo - lo % RAW_BUCKET_MS
    first = b.execute(conn, "SELECT min(bucket) FROM raw WHERE bucket >= ?", (lo_bucket,))
    first_bucket = first.fetchone()[0]
    cache = store.head
    if first_bucket is None or first_bucket > hi:
        if cache is not None and cache.rows:  # drop what compaction has taken
            oldest = b.execute(conn, "SELECT min(bucket) FROM raw_gen").fetchone()[0]
            cache.plan(range(0), {}, oldest, store.clock(), 0)
        return _empty_rows()
    buckets = range(int(first_bucket), hi + 1, RAW_BUCKET_MS)
    if cache is None or len(ids) < head.MIN_SERIES:
        return _table_rows(store, conn, ids, list(buckets), lo, hi)
    cur = b.execute(
        conn, "SELECT bucket, gen FROM raw_gen WHERE bucket >= ? AND bucket <= ?", (buckets[0], hi)
    )
    gens = {int(k): int(g) for k, g in cur.fetchall()}
    oldest = b.execute(conn, "SELECT min(bucket) FROM raw_gen").fetchone()[0]
    if not cache.knows_bucket_size and gens:
        # The next-to-newest bucket with rows: the newest may still be filling.
        counted = sorted(gens)[-2:][0]
        sql = "SELECT count(*) FROM raw WHERE bucket = ?"
        cache.learn_bucket_size(int(b.execute(conn, sql, (counted,)).fetchone()[0]))
    span = store.compact_after_ms + store.compact_step_ms
    plan = cache.plan(buckets, gens, oldest, store.clock(), span, ids)
    located: dict[int, head.Located] = {}
    parts = [(c.bucket, _Rows(*head.take(c, ids, lo, hi, located))) for c in plan.cached]
    for bucket in plan.load:
        sql = "SELECT series_id, ts, coalesce(value, 'NaN') FROM raw WHERE bucket = ?"
        cur = b.execute(conn, sql, (bucket,))
        flat = np.fromiter(chain.from_iterable(cur), dtype=np.float64).reshape(-1, 3)
        sids, ts = flat[:, 0].astype(np.int64), flat[:, 1].astype(np.int64)
        whole = head.make_bucket(bucket, gens[bucket], sids, ts, flat[:, 2])
        cache.put(whole)
        parts.append((bucket, _Rows(*head.take(whole, ids, lo, hi))))
    parts.sort(key=_LO)
    if plan.direct:
        rows = _direct_rows(store, conn, cache, plan, gens, ids, lo, hi)
        if not parts or plan.direct[0] > parts[-1][0]:
            parts.append((plan.direct[0], rows))
        elif plan.direct[-1] < parts[0][0]:
            parts.insert(0, (plan.direct[-1], rows))
        else:  # buckets read from the table between cached ones: rare (late samples)
            return _sort_rows(_concat([rows] + [p for _, p in parts]))
    return _interleave([p for _, p in parts], len(ids))


def _direct_rows(
    store: TimeSeriesStore,
    conn: Any,
    cache: head.HeadCache,
    plan: head.Plan,
    gens: dict[int, int],
    ids: Int64Array,
    lo: int,
    hi: int,
) -> _Rows:
    """``_table_rows`` of the plan's direct buckets; those it marks to keep are read
    whole for the series ``ids`` (no ts bound) and kept as partial buckets at the
    generation of this snapshot (``head.py``), then the rows are cut to [lo, hi]."""
    if not plan.keep:
        return _table_rows(store, conn, ids, plan.direct, lo, hi)
    b = store.backend
    in_buckets, p_buckets = b.id_filter("bucket", plan.direct)
    in_series, p_series = b.id_filter("series_id", ids.tolist())
    cur = b.execute(
        conn,
        f"SELECT bucket, series_id, ts, coalesce(value, 'NaN') FROM raw WHERE {in_buckets} "
        f"AND {in_series}",
        (p_buckets, p_series),
    )
    flat = np.fromiter(chain.from_iterable(cur), dtype=np.float64).reshape(-1, 4)
    bucket, sids = flat[:, 0].astype(np.int64), flat[:, 1].astype(np.int64)
    ts, values = flat[:, 2].astype(np.int64), np.ascontiguousarray(flat[:, 3])
    if len(bucket) > 1 and not bool(np.all(bucket[1:] >= bucket[:-1])):
        order = np.argsort(bucket, kind="stable")
        bucket, sids, ts, values = bucket[order], sids[order], ts[order], values[order]
    cover = ids.copy()  # the read's ids: every row of these series is in ``flat``
    cover.flags.writeable = False
    for k in sorted(plan.keep):
        a, z = np.searchsorted(bucket, [k, k + 1]).tolist()
        cache.put(head.make_bucket(k, gens[k], sids[a:z], ts[a:z], values[a:z], cover))
    inside = (ts >= lo) & (ts <= hi)
    if not bool(inside.all()):
        sids, ts, values = sids[inside], ts[inside], values[inside]
    return _sort_rows(_Rows(np.searchsorted(ids, sids), ts, np.ascontiguousarray(values)))


def _table_rows(
    store: TimeSeriesStore, conn: Any, ids: Int64Array, buckets: list[int], lo: int, hi: int
) -> _Rows:
    """Rows of ``buckets`` of the ``raw`` table for the series ``ids`` with lo <= ts <=
    hi, in (position, ts) order."""
    b = store.backend
    # One seek per (bucket, series): list the buckets, never a range (see RAW_BUCKET_MS).
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


def _concat(parts: list[_Rows]) -> _Rows:
    return _Rows(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))


def _stack_alike(parts: list[_Rows]) -> list[_Rows]:
    """Consecutive parts with the same positions, one row each (buckets of the same
    series at 10 s: the usual case), joined into one part: a transposed stack, series
    by series, no per-row placement."""
    out: list[_Rows] = []
    run: list[_Rows] = []
    for part in [*parts, _empty_rows()]:  # the sentinel flushes the last run
        if run and len(part.pos) == len(run[0].pos) and np.array_equal(part.pos, run[0].pos):
            run.append(part)
            continue
        if len(run) > 1 and bool(np.all(run[0].pos[1:] > run[0].pos[:-1])):
            out.append(
                _Rows(
                    np.repeat(run[0].pos, len(run)),
                    np.stack([r.ts for r in run], axis=1).ravel(),
                    np.stack([r.values for r in run], axis=1).ravel(),
                )
            )
        else:
            out.extend(run)
        run = [part]
    return out


def _interleave(parts: list[_Rows], count: int) -> _Rows:
    """Parts each in (position, ts) order, every timestamp of a part before every one of
    the next (raw buckets in order): merged in (position, ts) order without a sort, each
    row's place being its series' offset plus the rows of earlier parts plus its rank."""
    parts = _stack_alike([p for p in parts if len(p.pos)])
    if not parts:
        return _empty_rows()
    if len(parts) == 1:
        return parts[0]
    counts = np.stack([np.bincount(p.pos, minlength=count) for p in parts])
    per_series = counts.sum(axis=0)
    series_start = np.cumsum(per_series) - per_series
    before = np.cumsum(counts, axis=0) - counts  # rows of earlier parts, per series
    total = int(per_series.sum())
    out = _Rows(np.empty(total, np.int64), np.empty(total, np.int64), np.empty(total, np.float64))
    for i, part in enumerate(parts):
        part_start = np.cumsum(counts[i]) - counts[i]
        shift = series_start + before[i] - part_start
        dest = shift[part.pos] + np.arange(len(part.pos))
        for target, column in zip(out, part, strict=True):
            target[dest] = column
    return out


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
) -> _Runs:
    """Raw samples in [start, end] of the series ``ids`` (sorted), chunks and recent rows
    merged, in (position, ts) order; a sample in both counts once, as the chunk has it."""
    # Recent samples first: if a compaction slipped in between (it cannot inside the
    # snapshot, but the order makes it harmless anyway) rows would be seen twice, not lost.
    recent = _recent_rows(store, conn, ids, start_ms, end_ms)
    chunks = _chunk_rows(store, conn, ids, start_ms, end_ms)
    if not len(recent.pos):
        return chunks
    if not len(chunks.ts):
        return _runs_of(recent, len(ids))
    return _merge_rows(chunks, recent, len(ids))


def _merge_rows(chunks: _Runs, recent: _Rows, count: int) -> _Runs:
    """Chunk rows and recent rows, both in (position, ts) order, merged in that order.

    With the watermark minutes behind now, a "last hour" read has both for every
    series, and each series' recent rows all come after its chunk rows: the merge is
    then, series by series, its chunk run and its recent run, no sort (a stable sort of
    the 2.9 M rows of bench/query.py's fleet query took ~150 ms, a scatter of every row
    to its place ~50 ms with the positions, a gather ~40 ms, masked copies ~25 ms).
    Only when a recent row is not after its series' chunk rows (a late sample not yet
    compacted, a duplicate) does it sort, the chunk row winning over a recent one with the same
    timestamp.
    """
    c_count = chunks.counts
    r_count = np.bincount(recent.pos, minlength=count)
    c_start = np.cumsum(c_count) - c_count  # first row of each series in chunks
    r_start = np.cumsum(r_count) - r_count
    both = np.flatnonzero((c_count > 0) & (r_count > 0))
    if bool(np.any(chunks.ts[c_start[both] + c_count[both] - 1] >= recent.ts[r_start[both]])):
        # Chunk rows first, so they win over a recent row with the same timestamp.
        c_pos = np.repeat(np.arange(count, dtype=np.int64), c_count)
        joined = _Rows(
            np.concatenate((c_pos, recent.pos)),
            np.concatenate((chunks.ts, recent.ts)),
            np.concatenate((chunks.values, recent.values)),
        )
        return _runs_of(_sort_rows(joined), count)
    # Runs in output order: series 0's chunk run, its recent run, series 1's...: the
    # places of chunk rows, in order, take the chunk rows in order (and the others the
    # recent rows), so two masked copies per column do it; a gather through an index of
    # every row cost twice as much (an int64 per row built, then random reads).
    is_chunk = np.repeat(np.tile(np.array([True, False]), count), _pairs(c_count, r_count))
    total = len(chunks.ts) + len(recent.ts)
    ts, values = np.empty(total, np.int64), np.empty(total, np.float64)
    is_recent = ~is_chunk
    ts[is_chunk], ts[is_recent] = chunks.ts, recent.ts
    values[is_chunk], values[is_recent] = chunks.values, recent.values
    return _Runs(ts, values, c_count + r_count)


def _pairs(first: Int64Array, second: Int64Array) -> Int64Array:
    """first[0], second[0], first[1], second[1], ..."""
    out = np.empty(2 * len(first), np.int64)
    out[0::2], out[1::2] = first, second
    return out


def _raw_arrays(
    store: TimeSeriesStore, conn: Any, ids: list[int], start_ms: int, end_ms: int
) -> dict[int, tuple[Int64Array, Float64Array]]:
    id_arr = np.array(sorted(ids), dtype=np.int64)
    runs = _raw_rows(store, conn, id_arr, start_ms, end_ms)
    ends = np.cumsum(runs.counts).tolist()
    out = {}
    start = 0
    for sid, end in zip(id_arr.tolist(), ends, strict=True):
        if end > start:
            out[sid] = (runs.ts[start:end], runs.values[start:end])
        start = end
    return out


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
        got = _select_buckets(store, conn, found, start_ms, end_ms, tier, field)
    step = STEP[tier]
    return [
        SeriesData(
            dict(c.labels), (bk.starts + step).tolist(), field_values(bk, field, kind).tolist()
        )
        for c, bk, kind in got
    ]


def _select_buckets(
    store: TimeSeriesStore,
    conn: Any,
    found: list[Candidate],
    start_ms: int,
    end_ms: int,
    tier: Tier,
    field: RollupField,
) -> list[tuple[Candidate, Buckets, MetricType]]:
    """The buckets of ``found`` whose end is in [start, end] on a rollup tier, with each
    series' metric type (read only for ``RollupField.VALUE``), in ``found``'s order."""
    buckets = _rollup_buckets(store, conn, tier, [c.sid for c in found], start_ms, end_ms)
    keys = {(c.org_id, c.labels.get(METRIC_NAME, "")) for c in found if c.sid in buckets}
    types = store.metric_types(conn, keys) if field is RollupField.VALUE else {}
    out = []
    for c in found:
        bk = buckets.get(c.sid)
        if bk is not None:
            kind = _metric_type(types.get((c.org_id, c.labels.get(METRIC_NAME, ""))))
            out.append((c, bk, kind))
    return out


class RollupColumns(NamedTuple):
    """``select_columns`` on a rollup tier with every field of every bucket: ``columns``
    holds the VALUE field (what ``select`` gives), ``fields`` the columns of ``FIELDS``
    (min, max, sum, count, last), aligned with ``columns.timestamps``. A range function
    reads the field that answers it (``max_over_time`` the maxima, ``rate`` the lasts):
    the VALUE field of a gauge is the bucket's average, whose maximum is not the
    maximum of the samples."""

    columns: SeriesColumns
    fields: list[Float64Array]


def select_rollup_columns(
    store: TimeSeriesStore,
    org_ids: Collection[int] | None,
    matchers: Sequence[Matcher],
    start_ms: int,
    end_ms: int,
    tier: Tier,
) -> RollupColumns:
    """``select(tier, RollupField.VALUE)`` as flat arrays, with every bucket field."""
    empty = RollupColumns(SeriesColumns.of([]), [np.zeros(0, np.float64) for _ in FIELDS])
    if tier is Tier.RAW:
        raise ValueError("select_rollup_columns reads a rollup tier")
    if end_ms < start_ms:
        return empty
    step = STEP[tier]
    b = store.backend
    conn = b.conn()
    with b.read(conn):
        since = start_ms - step
        found = [
            c for c in candidates(store, conn, org_ids, matchers) if _in_range(c, since, end_ms)
        ]
        if not found:
            return empty
        got = _select_buckets(store, conn, found, start_ms, end_ms, tier, RollupField.VALUE)
    if not got:
        return empty
    offsets = np.zeros(len(got) + 1, dtype=np.int64)
    np.cumsum([len(bk.starts) for _, bk, _ in got], out=offsets[1:])
    columns = SeriesColumns(
        [dict(c.labels) for c, _, _ in got],
        np.concatenate([bk.starts for _, bk, _ in got]) + step,
        np.concatenate([field_values(bk, RollupField.VALUE, kind) for _, bk, kind in got]),
        offsets,
    )
    fields = [np.concatenate([bk.columns[i] for _, bk, _ in got]) for i in range(len(FIELDS))]
    return RollupColumns(columns, fields)


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
    counts = rows.counts
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
