"""The decoded-chunk cache (``chunkcache.py``): the same arrays as ``codec.decode_many``
bit for bit, hit or miss; bounded; a changed or corrupt blob never answered from an
entry of other bytes; store reads through it equal reads without it and the model."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from steward.tsdb import TimeSeriesStore, chunkcache, codec, open_store
from steward.tsdb.chunkcache import DecodedChunks
from steward.tsdb.reads import select_columns
from steward.tsdb.types import MINUTE_MS, Matcher, MatchOp, Sample
from tests.tsdb.conftest import T0, Clock
from tests.tsdb.helpers import labels


def blobs_of(rng: np.random.Generator, count: int, k: int = 1) -> list[bytes]:
    """Chunks of assorted lengths and contents (decimal counters, random floats, NaN,
    -0.0, jittered timestamps), so several layout groups meet in one batch."""
    out = []
    for _ in range(count):
        n = int(rng.choice([0, 1, 2, 3, 17, 360]))
        step = 10_000 + (rng.integers(0, 900, n) if rng.random() < 0.5 else np.zeros(n, int))
        ts = T0 + np.cumsum(step).astype(np.int64)
        cols = []
        for _ in range(k):
            col = np.cumsum(rng.uniform(0, 9, n)).round(2)
            if rng.random() < 0.5:
                col = rng.uniform(-1e9, 1e9, n)
            if n:
                col[rng.integers(0, n)] = rng.choice([math.nan, -0.0, math.inf])
            cols.append(col)
        out.append(codec.encode(ts, cols))
    return out


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.int64)


def assert_same(got: codec.Decoded, want: codec.Decoded) -> None:
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[2], want[2])
    assert len(got[1]) == len(want[1])
    for x, y in zip(got[1], want[1], strict=True):
        assert np.array_equal(bits(x), bits(y))  # NaN payloads and -0.0 too


@pytest.mark.parametrize("k", [1, 5])
def test_hits_and_misses_give_what_decode_many_gives(k: int) -> None:
    rng = np.random.default_rng(k)
    blobs = list(dict.fromkeys(blobs_of(rng, 120, k)))[:60]  # distinct
    assert len(blobs) == 60
    cache = DecodedChunks(max_bytes=2**26)
    assert_same(cache.decode_many(blobs[:25]), codec.decode_many(blobs[:25]))
    assert cache.stats.misses == 25 and cache.stats.hits == 0
    mixed = blobs[10:] + blobs[:5] + blobs[10:12]  # hits, misses, repeats
    assert_same(cache.decode_many(mixed), codec.decode_many(mixed))
    assert cache.stats.hits == 15 + 5 + 2
    assert_same(cache.decode_many(blobs), codec.decode_many(blobs))
    assert cache.stats.hits == 22 + 60 and cache.stats.misses == 25 + 35
    out = cache.decode_many(blobs)
    out[0][:] = 0  # the result is the caller's: the cache keeps its own copy
    out[1][0][:] = 0
    assert_same(cache.decode_many(blobs), codec.decode_many(blobs))


def test_a_changed_or_corrupt_blob_is_decoded_not_served() -> None:
    rng = np.random.default_rng(3)
    blob = blobs_of(rng, 1)[0]
    while codec.decode_many([blob])[2][0] < 17:
        blob = blobs_of(rng, 1)[0]
    cache = DecodedChunks()
    cache.decode_many([blob])
    for i in range(1, len(blob)):
        changed = blob[:i] + bytes([blob[i] ^ 0x10]) + blob[i + 1 :]
        try:
            want: codec.Decoded | None = codec.decode_many([changed])
        except codec.ChunkError:
            want = None
        if want is None:
            with pytest.raises(codec.ChunkError):
                cache.decode_many([changed])
        else:
            assert_same(cache.decode_many([changed]), want)
    assert_same(cache.decode_many([blob]), codec.decode_many([blob]))


def test_mixed_column_counts_are_refused_as_decode_many_does() -> None:
    rng = np.random.default_rng(4)
    raw, rollup = blobs_of(rng, 1, 1)[0], blobs_of(rng, 1, 5)[0]
    cache = DecodedChunks()
    cache.decode_many([raw])
    cache.decode_many([rollup])
    with pytest.raises(codec.ChunkError):
        cache.decode_many([raw, rollup])


def test_the_bound_holds_and_the_least_recently_used_go_first() -> None:
    rng = np.random.default_rng(5)
    blobs = list(dict.fromkeys(blobs_of(rng, 300)))[:200]  # distinct
    assert len(blobs) == 200
    sizes = []
    for b in blobs:
        ts, cols, _ = codec.decode_many([b])
        sizes.append(chunkcache._entry_bytes(b, ts, cols))
    limit = sum(sizes) // 4
    cache = DecodedChunks(max_bytes=limit)
    for i in range(0, 200, 20):
        cache.decode_many(blobs[i : i + 20])
        assert cache.nbytes <= limit
        cache.decode_many(blobs[:3])  # kept in use: never the oldest
    assert cache.stats.evictions > 0 and 0 < len(cache) < 200
    hits = cache.stats.hits
    cache.decode_many(blobs[:3])
    assert cache.stats.hits == hits + 3
    assert cache.nbytes == sum(s for b, s in zip(blobs, sizes, strict=True) if b in cache._entries)
    cache.resize(0)
    assert cache.nbytes == 0 and len(cache) == 0
    assert_same(cache.decode_many(blobs[:9]), codec.decode_many(blobs[:9]))  # off: decodes
    assert len(cache) == 0


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[TimeSeriesStore]:
    s = open_store(tmp_path / "m.sqlite3", clock=clock)
    yield s
    s.close()


def test_reads_through_the_cache_equal_reads_without_it(
    store: TimeSeriesStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hour chunk being filled is rewritten by each compaction: the cache must give
    # the new contents (other bytes, another key), never the decoded old ones.
    cache = DecodedChunks()
    monkeypatch.setattr(store, "chunk_cache", cache)
    rng = np.random.default_rng(6)
    hosts = 70
    model: dict[tuple[str, int], float] = {}
    matchers = [Matcher("__name__", MatchOp.EQ, "node_load1")]
    start = clock.now - 50 * MINUTE_MS

    def write(minutes: int) -> None:
        samples = []
        for _ in range(minutes * 6):
            ts = start + len({t for _, t in model}) * 10_000  # the next 10 s
            for h in range(hosts):
                value = round(float(rng.uniform(0, 4)), 2)
                samples.append(Sample(labels(device=str(h)), ts, value))
                model.setdefault((f"host-{h}", ts), value)
        store.append(1, samples)

    def read() -> dict[tuple[str, int], float]:
        cols = select_columns(store, [1], matchers, start - 1, clock.now + MINUTE_MS)
        out = {}
        for i, lb in enumerate(cols.labels):
            a, b = int(cols.offsets[i]), int(cols.offsets[i + 1])
            for t, v in zip(cols.timestamps[a:b].tolist(), cols.values[a:b].tolist(), strict=True):
                out[(lb["instance"], t)] = v
        return out

    def uncached() -> dict[tuple[str, int], float]:
        monkeypatch.setattr(store, "chunk_cache", None)
        try:
            return read()
        finally:
            monkeypatch.setattr(store, "chunk_cache", cache)

    for _ in range(4):
        write(5)
        clock.now = start + len({t for _, t in model}) * 10_000 + 10 * MINUTE_MS
        store.maintain(clock.now)
        assert read() == model == uncached()
        assert read() == model  # served from the cache this time
    assert cache.stats.hits > 0 and cache.stats.misses > 0
    conn = store.backend.conn()
    chunks = store.backend.execute(conn, "SELECT count(*) FROM chunk_raw").fetchone()[0]
    assert chunks > 0 and cache.stats.misses > chunks  # rewritten chunks: decoded again


def test_a_query_larger_than_the_bound_keeps_a_stable_part_cached() -> None:
    # Plain LRU would evict each chunk before the repeat reaches it: no hit ever.
    rng = np.random.default_rng(7)
    blobs = list(dict.fromkeys(blobs_of(rng, 300)))[:200]
    total = 0
    for b in blobs:
        ts, cols, _ = codec.decode_many([b])
        total += chunkcache._entry_bytes(b, ts, cols)
    cache = DecodedChunks(max_bytes=total // 2)
    want = codec.decode_many(blobs)
    assert_same(cache.decode_many(blobs), want)
    kept = len(cache)
    assert 0 < kept < 200 and cache.nbytes <= total // 2
    for _ in range(3):
        hits = cache.stats.hits
        assert_same(cache.decode_many(blobs), want)
        assert cache.stats.hits - hits >= kept  # the same part, every time
        assert cache.nbytes <= total // 2


def test_a_store_uses_the_shared_cache_unless_given_its_own_bound(tmp_path) -> None:
    from steward.tsdb import open_store

    shared = open_store(tmp_path / "a.sqlite3")
    off = open_store(tmp_path / "b.sqlite3", chunk_cache_bytes=0)
    own = open_store(tmp_path / "c.sqlite3", chunk_cache_bytes=2**20)
    try:
        assert shared.chunk_cache is chunkcache.shared()
        assert off.chunk_cache is None
        assert own.chunk_cache is not None and own.chunk_cache is not chunkcache.shared()
        assert own.chunk_cache.max_bytes == 2**20
    finally:
        for s in (shared, off, own):
            s.close()
