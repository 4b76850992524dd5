"""Partial buckets of the head cache (``head.py``): a read that takes settled buckets from
the table keeps their rows for the series it asked for; later reads of series within
that cover are served from memory, reads of others widen it. Every answer is compared
with a store on the same file without the cache and with a brute-force model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from steward.tsdb import TimeSeriesStore, head, open_store
from steward.tsdb.backends import RAW_BUCKET_MS
from steward.tsdb.head import SETTLE_MS, covers, make_bucket, merge, take
from steward.tsdb.reads import select_columns
from steward.tsdb.types import MINUTE_MS, Matcher, MatchOp, Sample
from tests.tsdb.conftest import T0, Clock
from tests.tsdb.helpers import labels
from tests.tsdb.test_head_cache import ORG, Model, append, as_dict, from_model, same, tick

HOSTS = 160
NAME = Matcher("__name__", MatchOp.EQ, "node_load1")


def hosts_matchers(hosts: range | list[int]) -> list[Matcher]:
    return [NAME, Matcher("steward_device", MatchOp.RE, "|".join(str(h) for h in hosts))]


@pytest.fixture
def opener(tmp_path: Path, clock: Clock) -> Callable[..., TimeSeriesStore]:
    opened: list[TimeSeriesStore] = []

    def make(**kwargs: object) -> TimeSeriesStore:
        kwargs.setdefault("clock", clock)
        store = open_store(tmp_path / "metrics.sqlite3", **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield make  # type: ignore[misc]
    for store in opened:
        store.close()


def check(
    store: TimeSeriesStore,
    plain: TimeSeriesStore,
    model: Model,
    hosts: range | list[int],
    lo: int,
    hi: int,
) -> None:
    want = from_model(model, {f"host-{h}" for h in hosts}, lo, hi)
    matchers = hosts_matchers(hosts)
    assert same(as_dict(select_columns(plain, [ORG], matchers, lo, hi)), want)
    assert same(as_dict(select_columns(store, [ORG], matchers, lo, hi)), want)


def table_rows(store: TimeSeriesStore, lo: int, hi: int) -> int:
    conn = store.backend.conn()
    sql = "SELECT count(*) FROM raw WHERE bucket >= ? AND bucket <= ?"
    return int(store.backend.execute(conn, sql, (lo, hi)).fetchone()[0])


def test_kept_buckets_serve_their_series_and_widen_for_others(
    opener: Callable[..., TimeSeriesStore], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(head, "MAX_LOADS_PER_READ", 0)  # every bucket kept, none loaded
    store = opener()
    plain = opener(head_cache_rows=0)
    rng = np.random.default_rng(11)
    model: Model = {}
    for _ in range(12):
        append(store, model, tick(clock, rng, HOSTS))
    first, last = T0 + RAW_BUCKET_MS, clock.now
    hi = clock.now + RAW_BUCKET_MS - 1
    clock.now += SETTLE_MS + RAW_BUCKET_MS
    lo = first
    stats = store.head.stats
    a, b = range(0, 100), range(60, HOSTS)
    check(store, plain, model, a, lo, hi)
    assert stats.kept == 12 and stats.hits == 0 and stats.loads == 0
    check(store, plain, model, a, lo, hi)
    check(store, plain, model, range(10, 80), lo, hi)  # within the cover
    assert stats.hits == 24 and stats.kept == 12
    check(store, plain, model, b, lo, hi)  # outside it: read, then the covers widen
    assert stats.kept == 24 and stats.hits == 24 and stats.evictions == 0
    check(store, plain, model, range(HOSTS), lo, hi)
    check(store, plain, model, b, lo, hi)
    assert stats.hits == 48 and stats.kept == 24
    # Widened, not doubled: one row per row of the table.
    assert store.head.rows == table_rows(store, first, last)
    # A late sample changes a bucket: read again from the table, answers still exact.
    victim = first + 4 * RAW_BUCKET_MS
    append(store, model, [Sample(labels(device="70"), victim + 999, 7.5)])
    check(store, plain, model, range(40, 110), lo, hi)
    assert stats.evictions == 1 and stats.hits == 48 + 11


def three_settled_buckets(
    opener: Callable[..., TimeSeriesStore], clock: Clock, seed: int, hosts: int
) -> tuple[TimeSeriesStore, TimeSeriesStore, Model, int]:
    """A store with three 10 s rounds of ``hosts`` series, settled (the clock moved past
    them), a store on the same file without the cache, the model, and the last bucket's
    end."""
    store = opener()
    plain = opener(head_cache_rows=0)
    rng = np.random.default_rng(seed)
    model: Model = {}
    for _ in range(3):
        append(store, model, tick(clock, rng, hosts))
    hi = clock.now + RAW_BUCKET_MS - 1
    clock.now += SETTLE_MS + RAW_BUCKET_MS
    return store, plain, model, hi


def test_a_whole_load_replaces_a_kept_bucket(
    opener: Callable[..., TimeSeriesStore], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, plain, model, hi = three_settled_buckets(opener, clock, 12, HOSTS)
    lo = T0
    monkeypatch.setattr(head, "MAX_LOADS_PER_READ", 0)
    check(store, plain, model, range(0, 70), lo, hi)
    assert store.head.stats.kept == 3
    monkeypatch.setattr(head, "MAX_LOADS_PER_READ", 6)
    check(store, plain, model, range(90, HOSTS), lo, hi)  # not covered: loaded whole
    assert store.head.stats.loads == 3 and store.head.rows == 3 * HOSTS
    check(store, plain, model, range(HOSTS), lo, hi)
    assert store.head.stats.hits == 3


@pytest.mark.parametrize("seed", range(4))
def test_partial_reads_equal_the_table_under_interleaved_writes(
    opener: Callable[..., TimeSeriesStore],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
) -> None:
    rng = np.random.default_rng(100 + seed)
    monkeypatch.setattr(head, "MAX_LOADS_PER_READ", int(rng.choice([0, 1, 6])))
    store = opener()
    other = opener()  # another process writing
    plain = opener(head_cache_rows=0)
    model: Model = {}
    for _ in range(30):
        append(store, model, tick(clock, rng, HOSTS))
    for _ in range(80):
        op = rng.choice(["tick", "late", "dup", "maintain", "query", "query", "wait"])
        writer = store if rng.random() < 0.5 else other
        if op == "tick":
            append(writer, model, tick(clock, rng, HOSTS))
        elif op == "late":
            late = []
            for _ in range(int(rng.integers(1, 6))):
                ts = clock.now - int(rng.integers(10_000, 12 * MINUTE_MS))
                value = math.nan if rng.random() < 0.2 else float(rng.uniform(0, 4))
                late.append(Sample(labels(device=str(int(rng.integers(HOSTS)))), ts, value))
            append(writer, model, late)
        elif op == "dup":
            keys = list(model)
            dups = []
            for i in rng.choice(len(keys), size=5).tolist():
                inst, ts = keys[i]
                dups.append(Sample(labels(device=inst.split("-")[1]), ts, -1.0))
            append(writer, model, dups)
        elif op == "maintain":
            writer.maintain(clock.now)
        elif op == "wait":
            clock.now += SETTLE_MS
        start = int(rng.integers(0, HOSTS - 70))
        hosts = sorted(rng.choice(np.arange(start, HOSTS), size=70, replace=False).tolist())
        lo = clock.now - int(rng.integers(1, 15)) * MINUTE_MS
        check(store, plain, model, hosts, lo, clock.now + RAW_BUCKET_MS)
    assert store.head.stats.hits > 0 and store.head.stats.kept > 0


def test_covers_and_merge() -> None:
    cover = np.array([2, 5, 9, 11], dtype=np.int64)
    assert covers(None, np.array([1, 2], dtype=np.int64))
    assert covers(cover, np.zeros(0, np.int64))
    assert covers(cover, np.array([5, 11], dtype=np.int64))
    assert covers(cover, cover.copy())
    assert not covers(cover, np.array([5, 12], dtype=np.int64))
    assert not covers(cover, np.array([1, 2, 3, 5, 9, 11], dtype=np.int64))
    assert not covers(cover, np.array([2, 5, 9, 10], dtype=np.int64))
    rng = np.random.default_rng(13)
    bucket = T0
    sids = np.repeat(np.arange(1, 21, dtype=np.int64), 2)
    ts = bucket + np.tile([1_000, 6_000], 20) + rng.integers(0, 900, 40)
    values = rng.uniform(0, 1, 40)
    whole = make_bucket(bucket, 3, sids, ts, values)
    ids_a = np.arange(1, 13, dtype=np.int64)  # 1..12
    ids_b = np.array([8, 10, 15, 20, 25], dtype=np.int64)  # 25 has no rows
    a = make_bucket(bucket, 3, *(x[np.isin(sids, ids_a)] for x in (sids, ts, values)), ids_a)
    b = make_bucket(bucket, 3, *(x[np.isin(sids, ids_b)] for x in (sids, ts, values)), ids_b)
    both = merge(a, b)
    assert np.array_equal(both.cover, np.union1d(ids_a, ids_b))
    assert both.rows == 2 * 14  # series 1-12, 15, 20: none twice
    ids = np.array([3, 10, 15, 25], dtype=np.int64)
    got, want = (take(c, ids, bucket, bucket + 9_999) for c in (both, whole))
    for x, y in zip(got, want, strict=True):
        assert np.array_equal(x, y)


def test_a_read_of_a_small_share_of_the_series_keeps_partial_buckets(
    opener: Callable[..., TimeSeriesStore], clock: Clock
) -> None:
    """Fewer series than ``LOAD_WHOLE_SHARE`` of a bucket's rows: no bucket is loaded
    whole (the fleet overview's rankings read ~4 million rows for ~100,000 that way),
    not even by the first read of a process, which counts a bucket to know its size."""
    hosts = 400
    store, plain, model, hi = three_settled_buckets(opener, clock, 13, hosts)
    small = range(100, 170)  # 70 series: above MIN_SERIES, under a quarter of 400
    assert head.MIN_SERIES <= len(small) < head.LOAD_WHOLE_SHARE * hosts
    check(store, plain, model, small, T0, hi)
    stats = store.head.stats
    assert stats.loads == 0 and stats.kept == 3 and store.head.rows == 3 * len(small)
    check(store, plain, model, small, T0, hi)
    assert stats.hits == 3 and stats.loads == 0
    check(store, plain, model, range(hosts), T0, hi)  # a large read loads them whole
    assert stats.loads == 3 and store.head.rows == 3 * hosts
