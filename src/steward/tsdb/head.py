"""The head cache: settled buckets of the ``raw`` table, whole, in this process's memory.

A "last hour" query reads the last 5-10 minutes from ``raw`` (the rest from chunks), and
a row read through SQLite costs ~1 µs (a B-tree seek per bucket and series, a Python
tuple per row): 300,000 rows, most of the fleet query of ``bench/query.py``. Those rows
hardly change once their 10 seconds are past, so each process keeps the buckets it has
seen settle as numpy arrays and serves a read from them with a few ``searchsorted``.

Why a cached bucket is never stale (SQLite; see ``Backend.keeps_generations``):

- rows of ``raw`` are only ever *inserted* with ``ON CONFLICT DO NOTHING`` (the first
  value of a (series, ts) stays: ``Backend.insert_raw``, reached from every append path,
  ``append``, ``append_resolved``, ``append_parts`` and late samples alike) or
  *deleted*: by compaction (rows below the watermark, a range of series ids per
  transaction, so a bucket may be emptied over several transactions), by retention
  (whole buckets below a cutoff) and by the schema-1 rebucketing when a store is
  opened (every row moved; it clears all generations and gives new ones). Nothing
  updates a row in place;
- every transaction that inserts into or deletes from a bucket also writes the
  bucket's row of ``raw_gen`` (store ``_write``: ``touch_buckets``; compaction:
  ``forget_buckets``, which drops the generation of a bucket left empty; retention:
  the same cutoff), with one more than the greatest generation given so far (the
  greatest in ``raw_gen``, or in ``meta.raw_gen``, where every deletion from
  ``raw_gen`` first records it), so a generation is never given twice, not even to a
  bucket compacted away and written again by a late sample;
- a reader reads the generations in the same snapshot as everything else. Equal
  generations in two snapshots therefore mean equal rows, and a bucket cached with
  generation g answers exactly as the table would in any snapshot that shows g. A
  bucket without a generation (a store upgraded from schema 2 while a process of the
  older code still appends: ADR 0002 says to stop them) is read from the table.

Partial buckets: a read that has to take a settled bucket from the table anyway (more
than ``MAX_LOADS_PER_READ`` to load, e.g. the first fleet query after a start), or
that asks for fewer series than ``LOAD_WHOLE_SHARE`` of a whole bucket's rows (a
process that has loaded none counts one bucket's rows first), keeps what it read: all
rows of that bucket for the series it asked for, at the generation of its snapshot,
with those series as the bucket's ``cover``. The generation argument
holds for any set of series as for all of them, so a later read asking for series
within the cover is served from memory, exactly. Reads of other series read the bucket
from the table and add theirs to the cover (same generation: the two are rows of one
state); a whole load replaces it. The first fleet query thus warms the cache for the
next at the cost of a read it makes anyway (8,000 of 50,000 series a bucket: a sixth
of a whole load), where whole loads alone took ~10 queries to warm 57 buckets.

When a bucket is loaded: once it has *settled* (an unchanged generation is likely to
stay so: agents send every 10 s), i.e. when it ended ``SETTLE_MS`` before ``now`` (the
store's clock) or this process saw its generation unchanged ``SETTLE_MS`` apart. Until
then, and whenever its generation has changed since it was loaded (a late sample, a
compaction step), the reader reads the requested series of that bucket from the table,
as without the cache. A bucket whose generation is gone (compacted) is dropped.

Memory: 14 bytes a row (int32 series id, uint16 ms into the bucket, float64 value), so
~0.7 MB per bucket of 50,000 series at 10 s and ~42 MB for the 10 minutes the table holds
at most; ``max_rows`` (``open_store(head_cache_rows=...)``, default 3,000,000 rows, ~42
MB) bounds it, and buckets beyond it are read from the table. Thread-safe: the arrays
of a cached bucket are never modified, and the bookkeeping is under a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from steward.tsdb.backends import RAW_BUCKET_MS
from steward.tsdb.codec import Float64Array, Int64Array

DEFAULT_MAX_ROWS = 3_000_000
SETTLE_MS = 30_000
# Reads of fewer series than this skip the cache: a bucket from the table costs ~1 µs a
# requested row, from memory ~30 µs of numpy calls however few rows it gives.
MIN_SERIES = 64
# Buckets loaded whole by one read at most (~0.3 s at 50,000 series): the first fleet
# query after a start warms the cache over a few reads instead of paying all at once.
MAX_LOADS_PER_READ = 6
# A read of fewer series than this share of a bucket's rows keeps its own rows of the
# bucket (partial) instead of loading it whole: the fleet overview's rankings each ask for
# 1-6 % of the ~130,000 series of 1,000 agents, and loading every bucket whole for them
# read ~4 million rows (3.5 s on a quiet machine, 13-30 s under load) to use ~100,000.
LOAD_WHOLE_SHARE = 0.25
_I32_MAX = 2**31 - 1


class CachedBucket(NamedTuple):
    """All rows of one bucket at one generation, sorted by (series id, ts): of every
    series (``cover`` None), or of the series ``cover`` lists (sorted int64 ids, those
    without rows in the bucket included: that they have none is known too)."""

    bucket: int
    gen: int
    sids: np.ndarray  # int32 (int64 if an id needs it)
    offsets: np.ndarray  # uint16: ts - bucket (ms)
    values: Float64Array
    cover: Int64Array | None = None

    @property
    def rows(self) -> int:
        return len(self.sids)


def make_bucket(
    bucket: int,
    gen: int,
    sids: Int64Array,
    ts: Int64Array,
    values: Float64Array,
    cover: Int64Array | None = None,
) -> CachedBucket:
    """A bucket from its rows (any order): sorted and packed."""
    order = np.lexsort((ts, sids))
    sids, ts = sids[order], ts[order]
    small = not len(sids) or int(sids[-1]) <= _I32_MAX
    return CachedBucket(
        bucket,
        gen,
        sids.astype(np.int32 if small else np.int64),
        (ts - bucket).astype(np.uint16),
        np.ascontiguousarray(values[order]),
        cover,
    )


def covers(cover: Int64Array | None, ids: Int64Array) -> bool:
    """Whether a bucket with this cover holds every row of the series ``ids`` (sorted,
    distinct)."""
    if cover is None or not len(ids):
        return True
    if len(ids) > len(cover):
        return False
    if len(ids) == len(cover):
        return bool(np.array_equal(cover, ids))
    at = np.searchsorted(cover, ids)
    return bool(at[-1] < len(cover)) and bool(np.array_equal(cover[at], ids))


def merge(old: CachedBucket, new: CachedBucket) -> CachedBucket:
    """Two partial buckets of the same generation as one: the union of their covers,
    each series' rows from ``old`` if it covers it (both hold the same rows for the
    series both cover: one state of the bucket), else from ``new``."""
    assert old.cover is not None and new.cover is not None and old.gen == new.gen
    extra = ~np.isin(new.sids.astype(np.int64), old.cover)
    sids = np.concatenate((old.sids.astype(np.int64), new.sids[extra].astype(np.int64)))
    ts = np.concatenate((old.offsets, new.offsets[extra])).astype(np.int64) + old.bucket
    values = np.concatenate((old.values, new.values[extra]))
    cover = np.union1d(old.cover, new.cover)
    return make_bucket(old.bucket, old.gen, sids, ts, values, cover)


Located = tuple[Int64Array, Int64Array]  # (position in ids, row in the bucket) per row


def locate(sids: np.ndarray, ids: Int64Array) -> Located:
    """Where the rows of series ``ids`` (sorted, distinct) sit in a bucket's ``sids``."""
    key = ids.astype(sids.dtype) if ids.size and int(ids[-1]) <= _I32_MAX else ids
    left = np.searchsorted(sids, key, "left")
    counts = np.searchsorted(sids, key, "right") - left
    total = int(counts.sum())
    first = np.cumsum(counts) - counts  # of each position's rows in the output
    index = np.repeat(left - first, counts) + np.arange(total)
    return np.repeat(np.arange(len(ids), dtype=np.int64), counts), index


def take(
    cached: CachedBucket,
    ids: Int64Array,
    lo: int,
    hi: int,
    located: dict[int, Located] | None = None,
) -> tuple[Int64Array, Int64Array, Float64Array]:
    """The rows of series ``ids`` (sorted, distinct) with lo <= ts <= hi, as (position in
    ``ids``, ts, value), sorted by (position, ts).

    ``located``: a memo of ``locate`` per ``sids`` array of one read: buckets with the
    same series share one array (``HeadCache.put``), so a fleet read searches once.
    """
    if located is None:
        pos, index = locate(cached.sids, ids)
    else:
        got = located.get(id(cached.sids))
        if got is None:
            got = located[id(cached.sids)] = locate(cached.sids, ids)
        pos, index = got
    if not len(index):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    ts = cached.offsets[index].astype(np.int64) + cached.bucket
    values = cached.values[index]
    if lo > cached.bucket or hi < ts.max(initial=lo):
        keep = (ts >= lo) & (ts <= hi)
        return pos[keep], ts[keep], values[keep]
    return pos, ts, values


@dataclass
class HeadStats:
    """Counters (bucket reads), for tests and benchmarks."""

    hits: int = 0  # buckets served from the cache
    loads: int = 0  # buckets read whole and cached
    direct: int = 0  # buckets read from the table (not settled, changed, no room)
    kept: int = 0  # of those, kept as partial buckets (settled, room)
    evictions: int = 0


class Plan(NamedTuple):
    cached: list[CachedBucket]  # served from memory
    load: list[int]  # to read whole (then cache)
    direct: list[int]  # to read for the requested series only
    keep: frozenset[int] = frozenset()  # of ``direct``: settled, to keep as partial


class HeadCache:
    """Whole settled raw buckets per generation; see the module's docstring."""

    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS, settle_ms: int = SETTLE_MS) -> None:
        self.max_rows = max_rows
        self.settle_ms = settle_ms
        self.stats = HeadStats()
        self._lock = threading.Lock()
        self._buckets: dict[int, CachedBucket] = {}
        self._seen: dict[int, tuple[int, int]] = {}  # bucket -> (gen, first seen at, ms)
        self._rows = 0
        self._largest = 0  # rows of the largest bucket loaded: room needed for the next

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def knows_bucket_size(self) -> bool:
        """Whether the rows of a whole bucket are known (``learn_bucket_size`` or a load)."""
        return self._largest > 0

    def learn_bucket_size(self, rows: int) -> None:
        """The rows of a whole bucket, counted by a reader before its first plan: which
        reads are small enough to keep partial buckets (``LOAD_WHOLE_SHARE``)."""
        with self._lock:
            self._largest = max(self._largest, rows)

    def plan(
        self,
        buckets: range,
        gens: dict[int, int],
        oldest_gen_bucket: int | None,
        now_ms: int,
        head_ms: int,
        ids: Int64Array | None = None,
    ) -> Plan:
        """Split ``buckets`` (the read's bucket starts) into cached, to load and direct.

        ``ids``: the series read (sorted, distinct); a partial bucket serves the read
        only if its cover holds them all (None: only whole buckets serve). A read of
        fewer than ``LOAD_WHOLE_SHARE`` of a whole bucket's rows loads nothing whole.

        ``gens``: bucket -> generation in the reader's snapshot, for those buckets;
        ``oldest_gen_bucket``: the smallest bucket with a generation at all (cached ones
        below it are gone, like those of ``buckets`` without a generation). Only buckets
        starting within ``head_ms`` of now are loaded: the ``raw`` table's usual span
        (compaction keeps 5-10 minutes); older rows are there only while compaction lags
        or for late samples, and a long read of them would flood the cache.
        """
        cached: list[CachedBucket] = []
        load: list[int] = []
        direct: list[int] = []
        keep: list[int] = []
        covered: dict[int, bool] = {}  # per cover array: partial buckets share them
        with self._lock:
            for b in list(self._buckets):
                if (b in buckets and b not in gens) or (
                    oldest_gen_bucket is None or b < oldest_gen_bucket
                ):
                    self._evict(b)
            for b in list(self._seen):
                if oldest_gen_bucket is None or b < oldest_gen_bucket:
                    del self._seen[b]
            room = self.max_rows - self._rows - self._largest
            small = ids is not None and len(ids) < LOAD_WHOLE_SHARE * self._largest
            loads_at_most = 0 if small else MAX_LOADS_PER_READ
            for b in buckets:
                gen = gens.get(b)
                if gen is None:
                    direct.append(b)
                    continue
                got = self._buckets.get(b)
                if got is not None and got.gen == gen and _serves(got, ids, covered):
                    cached.append(got)
                    continue
                seen = self._seen.get(b)
                if seen is None or seen[0] != gen:
                    self._seen[b] = seen = (gen, now_ms)
                settled = b + RAW_BUCKET_MS + self.settle_ms <= now_ms
                settled = settled or seen[1] + self.settle_ms <= now_ms
                wanted = settled and room >= 0 and b >= now_ms - head_ms
                if wanted and len(load) < loads_at_most:
                    load.append(b)
                    room -= self._largest or 1
                else:
                    direct.append(b)
                    if wanted and ids is not None:
                        keep.append(b)
            self.stats.hits += len(cached)
            self.stats.direct += len(direct)
        return Plan(cached, load, direct, frozenset(keep))

    def put(self, cached: CachedBucket) -> None:
        """Keep a bucket, whole or partial (unless a newer generation or a wider cover
        of the same is kept, or no room); a partial one of the generation kept joins it.
        """
        with self._lock:
            if cached.cover is None:
                self.stats.loads += 1
                self._largest = max(self._largest, cached.rows)
            else:
                self.stats.kept += 1
            old = self._buckets.get(cached.bucket)
            if old is not None:
                if old.gen > cached.gen or (old.gen == cached.gen and old.cover is None):
                    return
                if old.gen == cached.gen and cached.cover is not None:
                    if covers(old.cover, cached.cover):
                        return
                    assert old.cover is not None
                    cached = merge(old, cached)
                self._evict(cached.bucket, widened=old.gen == cached.gen)
            if self._rows + cached.rows > self.max_rows:
                return
            # Share the series array of a neighbour with the same series (the usual
            # case: one row per series and bucket), for ``take``'s memo and memory.
            for near in (cached.bucket - RAW_BUCKET_MS, cached.bucket + RAW_BUCKET_MS):
                other = self._buckets.get(near)
                if other is not None and np.array_equal(other.sids, cached.sids):
                    cached = cached._replace(sids=other.sids)
                    same = cached.cover is not None and other.cover is not None
                    if same and np.array_equal(other.cover, cached.cover):
                        cached = cached._replace(cover=other.cover)
                    break
            self._buckets[cached.bucket] = cached
            self._rows += cached.rows

    def _evict(self, bucket: int, widened: bool = False) -> None:
        """Drop a bucket; ``widened``: for the same generation with more series (not
        counted as an eviction: nothing is lost)."""
        old = self._buckets.pop(bucket)
        self._rows -= old.rows
        if not widened:
            self.stats.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._seen.clear()
            self._rows = 0


def _serves(got: CachedBucket, ids: Int64Array | None, memo: dict[int, bool]) -> bool:
    """Whether a cached bucket holds every row a read of ``ids`` needs (``covers``,
    computed once per cover array of a read)."""
    if got.cover is None:
        return True
    if ids is None:
        return False
    key = id(got.cover)
    if key not in memo:
        memo[key] = covers(got.cover, ids)
    return memo[key]
