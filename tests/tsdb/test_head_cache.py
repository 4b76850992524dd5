"""The head cache (``head.py``): reads served from cached raw buckets equal the reads of
the table, whatever happened in between (late samples, duplicates with other values,
NaN, compaction steps, retention, another process writing), and the cache is used.

Every comparison is three-way: a store with the cache, a store on the same file without
it (today's path), and a brute-force model of what was appended (the first value of a
(series, ts) wins).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from steward.tsdb import TimeSeriesStore, open_store, reads
from steward.tsdb.backends import RAW_BUCKET_MS
from steward.tsdb.head import MIN_SERIES, SETTLE_MS, CachedBucket, make_bucket, take
from steward.tsdb.reads import SeriesColumns, select_columns
from steward.tsdb.types import HOUR_MS, MINUTE_MS, Matcher, MatchOp, Retention, Sample
from tests.tsdb.conftest import T0, Clock
from tests.tsdb.helpers import labels

ORG = 1
HOSTS = MIN_SERIES + 16  # enough series for a read to use the cache
ALL = [Matcher("__name__", MatchOp.EQ, "node_load1")]

Model = dict[tuple[str, int], float]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "metrics.sqlite3"


@pytest.fixture
def opener(path: Path, clock: Clock) -> Callable[..., TimeSeriesStore]:
    opened: list[TimeSeriesStore] = []

    def make(**kwargs: object) -> TimeSeriesStore:
        kwargs.setdefault("clock", clock)
        store = open_store(path, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield make  # type: ignore[misc]
    for store in opened:
        store.close()


def as_dict(cols: SeriesColumns) -> dict[str, tuple[list[int], list[float]]]:
    assert cols.offsets[0] == 0 and cols.offsets[-1] == len(cols.timestamps)
    out = {}
    for i, lbls in enumerate(cols.labels):
        a, b = int(cols.offsets[i]), int(cols.offsets[i + 1])
        assert b > a
        ts = cols.timestamps[a:b].tolist()
        assert ts == sorted(set(ts)), "time order, no duplicates"
        out[lbls["instance"]] = (ts, cols.values[a:b].tolist())
    return out


def from_model(model: Model, wanted: set[str], lo: int, hi: int) -> dict:
    out: dict[str, tuple[list[int], list[float]]] = {}
    for (inst, ts), value in sorted(model.items()):
        if inst in wanted and lo <= ts <= hi:
            got = out.setdefault(inst, ([], []))
            got[0].append(ts)
            got[1].append(value)
    return out


def same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        (ta, va), (tb, vb) = a[key], b[key]
        if ta != tb or len(va) != len(vb):
            return False
        for x, y in zip(va, vb, strict=True):
            if not (x == y or (math.isnan(x) and math.isnan(y))):
                return False
    return True


def append(store: TimeSeriesStore, model: Model, samples: list[Sample]) -> None:
    store.append(ORG, samples)
    for s in samples:
        model.setdefault((s.labels["instance"], s.timestamp_ms), s.value)


def tick(clock: Clock, rng: np.random.Generator, hosts: int = HOSTS) -> list[Sample]:
    """The next 10 s of every host (bucket ``clock.now``, up to 0.9 s of jitter), now and
    then a NaN."""
    clock.now += RAW_BUCKET_MS
    out = []
    for h in range(hosts):
        value = float(np.round(rng.uniform(0, 4), 2)) if rng.random() > 0.02 else math.nan
        out.append(Sample(labels(device=str(h)), clock.now + int(rng.integers(0, 900)), value))
    return out


def check(stores: list[TimeSeriesStore], plain: TimeSeriesStore, model: Model, lo: int, hi: int):
    want = from_model(model, {f"host-{h}" for h in range(HOSTS)}, lo, hi)
    base = as_dict(select_columns(plain, [ORG], ALL, lo, hi))
    assert same(base, want), "the uncached path agrees with the model"
    for store in stores:
        assert same(as_dict(select_columns(store, [ORG], ALL, lo, hi)), want)


@pytest.mark.parametrize("seed", range(6))
def test_cached_reads_equal_the_table_under_interleaved_writes(
    opener: Callable[..., TimeSeriesStore], clock: Clock, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    cached = opener()
    other = opener()  # another process: its own cache, its own writes
    plain = opener(head_cache_rows=0)
    assert cached.head is not None and plain.head is None
    model: Model = {}
    for _ in range(40):
        append(cached, model, tick(clock, rng))
    for _ in range(120):
        op = rng.choice(["tick", "tick", "late", "dup", "maintain", "query", "wait"])
        writer = cached if rng.random() < 0.5 else other
        if op == "tick":
            append(writer, model, tick(clock, rng))
        elif op == "late":  # into old buckets, cached ones included
            late = []
            for _ in range(int(rng.integers(1, 6))):
                ts = clock.now - int(rng.integers(10_000, 15 * MINUTE_MS))
                value = math.nan if rng.random() < 0.2 else float(rng.uniform(0, 4))
                late.append(Sample(labels(device=str(int(rng.integers(HOSTS)))), ts, value))
            append(writer, model, late)
        elif op == "dup":  # a replay with other values: the first value stays
            keys = list(model)
            picks = rng.choice(len(keys), size=5)
            dups = []
            for i in picks.tolist():
                inst, ts = keys[i]
                dups.append(Sample(labels(device=inst.split("-")[1]), ts, -1.0))
            append(writer, model, dups)
        elif op == "maintain":
            writer.maintain(clock.now)
        elif op == "wait":
            clock.now += SETTLE_MS
        lo = clock.now - int(rng.integers(1, 20)) * MINUTE_MS
        hi = clock.now - int(rng.integers(0, 3)) * RAW_BUCKET_MS + int(rng.integers(0, 5_000))
        check([cached, other], plain, model, lo, hi)
    assert cached.head.stats.hits > 0 and cached.head.stats.loads > 0
    assert other.head is not None and other.head.stats.hits > 0


def test_a_settled_bucket_is_served_from_memory_until_it_changes(
    opener: Callable[..., TimeSeriesStore], clock: Clock
) -> None:
    rng = np.random.default_rng(1)
    store = opener()
    plain = opener(head_cache_rows=0)
    model: Model = {}
    for _ in range(12):
        append(store, model, tick(clock, rng))
    hi = clock.now + RAW_BUCKET_MS - 1  # the last bucket's end
    clock.now += SETTLE_MS + RAW_BUCKET_MS  # every bucket has settled
    lo = clock.now - 10 * MINUTE_MS
    stats = store.head.stats
    check([store], plain, model, lo, hi)
    # 6 loaded whole, the other 6 read from the table for the series asked and kept.
    assert stats.loads == 6 and stats.direct == 6 and stats.kept == 6 and stats.hits == 0
    check([store], plain, model, lo, hi)
    assert stats.hits == 12 and stats.loads == 6 and stats.direct == 6, "all from memory"
    check([store], plain, model, lo, hi)
    assert stats.hits == 12 + 12 and stats.loads == 6
    # Late samples into a cached bucket (one new, one a replay with another value): its
    # generation changed, so it is read anew (whole, as it is old enough to be settled).
    victim = T0 + 5 * RAW_BUCKET_MS
    first = next(ts for (inst, ts) in model if inst == "host-3" and ts >= victim)
    append(store, model, [Sample(labels(device="3"), victim + 950, 42.0)])
    append(store, model, [Sample(labels(device="3"), first, -1.0)])
    check([store], plain, model, lo, hi)
    assert stats.hits == 24 + 11 and stats.loads == 7 and stats.evictions == 1
    got = as_dict(select_columns(store, [ORG], ALL, victim, victim + 999))["host-3"]
    assert got[0] == [first, victim + 950] and got[1][1] == 42.0 and got[1][0] != -1.0


def test_a_bucket_being_written_is_not_cached_until_it_settles(
    opener: Callable[..., TimeSeriesStore], clock: Clock
) -> None:
    store = opener()
    rng = np.random.default_rng(2)
    model: Model = {}
    append(store, model, tick(clock, rng))
    lo, hi = clock.now - MINUTE_MS, clock.now + RAW_BUCKET_MS
    for _ in range(3):
        select_columns(store, [ORG], ALL, lo, hi)
    assert store.head.stats.loads == 0 and store.head.rows == 0
    clock.now += SETTLE_MS  # seen unchanged for SETTLE_MS
    select_columns(store, [ORG], ALL, lo, hi)
    assert store.head.stats.loads == 1 and store.head.rows == HOSTS


def test_compaction_and_retention_evict_and_answers_stay_equal(
    opener: Callable[..., TimeSeriesStore], clock: Clock
) -> None:
    # Hourly compaction two hours behind and raw retention of one hour: raw buckets
    # older than an hour are cached (the head spans 3 h here) and then deleted by
    # retention, the others by compaction.
    options = {
        "compact_after_ms": 2 * HOUR_MS,
        "compact_step_ms": HOUR_MS,
        "retention": Retention(raw_ms=HOUR_MS),
    }
    store = opener(**options)
    plain = opener(head_cache_rows=0, **options)
    rng = np.random.default_rng(3)
    model: Model = {}
    for _ in range(6 * 30):  # 30 minutes
        append(store, model, tick(clock, rng))
    clock.now += SETTLE_MS + RAW_BUCKET_MS  # all settled
    lo, hi = clock.now - HOUR_MS, clock.now
    for _ in range(31):  # a few loads a read
        check([store], plain, model, lo, hi)
    rows = store.head.rows
    assert rows == 180 * HOSTS
    clock.now += HOUR_MS - 10 * MINUTE_MS  # the oldest 10 minutes pass raw retention
    done = store.maintain(clock.now)
    assert done.deleted_raw > 0
    cutoff = clock.now - HOUR_MS  # retention drops whole buckets below it
    for key in [k for k in model if k[1] - k[1] % RAW_BUCKET_MS < cutoff]:
        del model[key]
    check([store], plain, model, clock.now - HOUR_MS, clock.now)
    assert store.head.stats.evictions > 0 and store.head.rows < rows
    clock.now += 3 * HOUR_MS  # compaction moves everything left into chunks
    store.maintain(clock.now)
    append(store, model, tick(clock, rng))  # a bucket being written, not cached yet
    check([store], plain, model, clock.now - HOUR_MS, clock.now + RAW_BUCKET_MS)
    assert store.head.rows == 0


def test_the_cache_stays_within_its_bound(
    opener: Callable[..., TimeSeriesStore], clock: Clock
) -> None:
    store = opener(head_cache_rows=5 * HOSTS)
    plain = opener(head_cache_rows=0)
    rng = np.random.default_rng(4)
    model: Model = {}
    for _ in range(20):
        append(store, model, tick(clock, rng))
    clock.now += SETTLE_MS
    for _ in range(4):
        check([store], plain, model, clock.now - 10 * MINUTE_MS, clock.now)
    assert 0 < store.head.rows <= 5 * HOSTS
    assert store.head.stats.direct > 0


def test_an_old_store_gains_generations_on_open(
    opener: Callable[..., TimeSeriesStore], clock: Clock
) -> None:
    store = opener()
    b = store.backend
    conn = b.conn()
    rng = np.random.default_rng(5)
    model: Model = {}
    for _ in range(3):
        append(store, model, tick(clock, rng))
    with b.write(conn):  # as a schema-2 store: no generations, older version
        b.execute(conn, "DROP TABLE raw_gen")
        b.execute(conn, "UPDATE meta SET value = 2 WHERE key = 'schema_version'")
    store.close()
    again = opener()
    conn = again.backend.conn()
    got = again.backend.execute(conn, "SELECT bucket FROM raw_gen ORDER BY bucket").fetchall()
    assert [r[0] for r in got] == sorted({ts - ts % RAW_BUCKET_MS for _, ts in model})
    version = again.backend.execute(conn, "SELECT value FROM meta WHERE key = 'schema_version'")
    assert version.fetchone()[0] == 3


def test_take_slices_a_bucket_like_a_filter() -> None:
    rng = np.random.default_rng(6)
    bucket = T0
    sids = rng.integers(1, 400, 3000)
    ts = bucket + rng.integers(0, RAW_BUCKET_MS, 3000)
    keys = np.unique(sids * RAW_BUCKET_MS + (ts - bucket))  # distinct (series, ts)
    sids, ts = keys // RAW_BUCKET_MS, bucket + keys % RAW_BUCKET_MS
    values = rng.uniform(0, 1, len(sids))
    perm = rng.permutation(len(sids))
    cached: CachedBucket = make_bucket(bucket, 7, sids[perm], ts[perm], values[perm])
    ids = np.unique(rng.integers(0, 450, 120))
    lo, hi = bucket + 2_000, bucket + 8_000
    pos, got_ts, got_values = take(cached, ids, lo, hi)
    keep = np.isin(sids, ids) & (ts >= lo) & (ts <= hi)
    order = np.lexsort((ts[keep], sids[keep]))
    assert np.array_equal(ids[pos], sids[keep][order])
    assert np.array_equal(got_ts, ts[keep][order])
    assert np.array_equal(got_values, values[keep][order])


def test_reads_between_the_steps_of_a_compaction_see_no_bucket_twice(
    opener: Callable[..., TimeSeriesStore], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Compaction empties a bucket over several transactions (a range of series each):
    # a reader in between must not serve the bucket as it was cached before the first.
    from steward.tsdb import maintenance

    monkeypatch.setattr(maintenance, "SERIES_PER_STEP", 16)
    monkeypatch.setattr(maintenance, "MAX_SERIES_PER_STEP", 16)
    store = opener()
    reader = opener()  # another process, reading while the worker compacts
    plain = opener(head_cache_rows=0)
    rng = np.random.default_rng(7)
    model: Model = {}
    for _ in range(6 * 9):  # 9 minutes: all within the head (10 min)
        append(store, model, tick(clock, rng))
    clock.now += SETTLE_MS + RAW_BUCKET_MS
    lo, hi = clock.now - 15 * MINUTE_MS, clock.now
    for _ in range(13):
        check([reader], plain, model, lo, hi)
    assert reader.head.rows == 54 * HOSTS
    steps = []
    original = maintenance._compact_range

    def step_then_read(*args: object) -> None:
        steps.append(1)
        check([reader], plain, model, lo, hi)  # after the steps so far have committed
        # The answers would hide a stale bucket (chunk and row samples are merged, the
        # chunk's winning): the rows read from raw must be the table's exactly.
        ids = np.arange(1, HOSTS + 1, dtype=np.int64)
        got = []
        for s in (reader, plain):
            with s.backend.read(s.backend.conn()):
                got.append(reads._recent_rows(s, s.backend.conn(), ids, lo, hi))
        for a, b in zip(*got, strict=True):
            assert np.array_equal(a, b, equal_nan=True)
        original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(maintenance, "_compact_range", step_then_read)
    clock.now += 5 * MINUTE_MS
    store.maintain(clock.now)
    assert len(steps) == HOSTS // 16
    check([reader], plain, model, lo, hi)
    assert reader.head.stats.hits > 0
