"""select_columns: the PromQL engine's read, as flat arrays, gives exactly the stored samples
whether they sit in recent rows, in chunks, or in both, and agrees with select()."""

from __future__ import annotations

import math

import numpy as np
import pytest

from steward.tsdb import TimeSeriesStore, reads
from steward.tsdb.backends import RAW_BUCKET_MS
from steward.tsdb.reads import SeriesColumns, select_columns
from steward.tsdb.types import DAY_MS, HOUR_MS, Matcher, MatchOp, Sample, Tier
from tests.tsdb.conftest import T0
from tests.tsdb.helpers import labels, name_is

ORG = 1
LOAD = name_is("node_load1")


def as_dict(cols: SeriesColumns) -> dict[str, tuple[list[int], list[float]]]:
    """instance -> (timestamps, values), checking the offsets cover the arrays."""
    assert cols.offsets[0] == 0 and cols.offsets[-1] == len(cols.timestamps)
    assert len(cols.timestamps) == len(cols.values)
    out = {}
    for i, lbls in enumerate(cols.labels):
        a, b = int(cols.offsets[i]), int(cols.offsets[i + 1])
        assert b > a, "a series without samples is left out"
        out[lbls["instance"]] = (cols.timestamps[a:b].tolist(), cols.values[a:b].tolist())
    return out


def fleet(start: int, count: int, hosts: int = 3) -> list[Sample]:
    """Jittered 10 s samples of ``hosts`` series; host-1 also has a NaN (staleness)."""
    rng = np.random.default_rng(5)
    out = []
    for h in range(hosts):
        lbls = labels(device=str(h))
        stamps = start + np.arange(count) * 10_000 + rng.integers(-900, 900, count) * (h % 2)
        values = np.round(np.cumsum(rng.uniform(0, 5, count)), 2)
        if h == 1:
            values[count // 2] = np.nan
        out.extend(Sample(lbls, int(t), float(v)) for t, v in zip(stamps, values, strict=True))
    return out


def expected(samples: list[Sample], start: int, end: int) -> dict[str, tuple[list, list]]:
    out: dict[str, tuple[list, list]] = {}
    for s in sorted(samples, key=lambda s: (s.labels["instance"], s.timestamp_ms)):
        if start <= s.timestamp_ms <= end:
            ts, vs = out.setdefault(s.labels["instance"], ([], []))
            ts.append(s.timestamp_ms)
            vs.append(s.value)
    return out


def same(got: dict, want: dict) -> bool:
    """Equal, NaN equal to NaN."""
    if got.keys() != want.keys():
        return False
    for key, (ts, vs) in want.items():
        g_ts, g_vs = got[key]
        if g_ts != ts or len(g_vs) != len(vs):
            return False
        pairs = zip(g_vs, vs, strict=True)
        if any(not (a == b or (math.isnan(a) and math.isnan(b))) for a, b in pairs):
            return False
    return True


@pytest.mark.parametrize(
    ("maintain_at", "watermark"),
    [
        (T0 - 2 * HOUR_MS + 5 * 60_000, T0 - 2 * HOUR_MS),  # on an hour: 3 of 5 in chunks
        (T0 - 2 * HOUR_MS + 38 * 60_000, T0 - 2 * HOUR_MS + 30 * 60_000),  # mid-hour
    ],
)
def test_recent_rows_chunks_and_both_give_the_stored_samples(
    store: TimeSeriesStore, maintain_at: int, watermark: int
) -> None:
    samples = fleet(T0 - 5 * HOUR_MS, 1800)
    store.append(ORG, samples)
    # Windows over the recent rows only, then (after compaction) the chunks only, and one
    # across the watermark; edges off the sample grid and on it.
    windows = [
        (T0 - 5 * HOUR_MS, T0),
        (T0 - 4 * HOUR_MS + 1234, T0 - HOUR_MS - 5678),
        (T0 - 3 * HOUR_MS, T0 - 3 * HOUR_MS + 10 * RAW_BUCKET_MS),
    ]
    for start, end in windows:
        got = as_dict(select_columns(store, [ORG], LOAD, start, end))
        assert same(got, expected(samples, start, end)), (start, end)
    assert store.maintain(maintain_at).watermark_ms == watermark
    for start, end in [*windows, (watermark - 5 * 60_000 - 1, watermark + 60_000 + 1)]:
        got = as_dict(select_columns(store, [ORG], LOAD, start, end))
        assert same(got, expected(samples, start, end)), (start, end)


def test_it_agrees_with_select(store: TimeSeriesStore) -> None:
    store.append(ORG, fleet(T0 - 5 * HOUR_MS, 1800))
    store.maintain()
    start, end = T0 - 4 * HOUR_MS, T0
    matchers = [*LOAD, Matcher("instance", MatchOp.RE, "host-[02]")]
    cols = as_dict(select_columns(store, [ORG], matchers, start, end))
    rows = {
        s.labels["instance"]: (list(s.timestamps), list(s.values))
        for s in store.select([ORG], matchers, start, end)
    }
    assert sorted(cols) == ["host-0", "host-2"]
    assert same(cols, rows)


def test_a_late_sample_inside_a_compacted_hour_comes_in_time_order(
    store: TimeSeriesStore,
) -> None:
    lbls = labels()
    every_20s = [Sample(lbls, T0 - 5 * HOUR_MS + i * 20_000, float(i)) for i in range(900)]
    store.append(ORG, every_20s)
    store.maintain()
    # Not compacted yet: these sit in the recent rows, between the chunk's samples.
    late = [Sample(lbls, s.timestamp_ms + 10_000, -1.0) for s in every_20s[:30]]
    assert store.append(ORG, late).accepted == 30
    start, end = T0 - 5 * HOUR_MS, T0
    got = as_dict(select_columns(store, [ORG], LOAD, start, end))
    assert same(got, expected(every_20s + late, start, end))


def test_a_sample_both_in_a_chunk_and_in_the_recent_rows_counts_once(
    store: TimeSeriesStore,
) -> None:
    samples = [Sample(labels(), T0 - 5 * HOUR_MS + i * 10_000, float(i)) for i in range(360)]
    store.append(ORG, samples)
    store.maintain()
    # What a compaction racing a read could leave visible: the row still in ``raw``. The
    # chunk's value wins, as in select().
    b = store.backend
    conn = b.conn()
    sid = store.series_id(ORG, samples[0].labels)
    assert sid is not None
    with b.write(conn):
        b.insert_raw(conn, [(sid, samples[7].timestamp_ms, 1e9)])
    got = as_dict(select_columns(store, [ORG], LOAD, T0 - 5 * HOUR_MS, T0))
    assert same(got, expected(samples, T0 - 5 * HOUR_MS, T0))


def test_long_ranges_read_the_rollup_tier_as_select_does(store: TimeSeriesStore) -> None:
    store.append(ORG, fleet(T0 - 5 * HOUR_MS, 1800))
    store.maintain()
    start, end = T0 - 3 * DAY_MS, T0  # longer than 2 days: one point per minute
    assert store.pick_tier(start, end) is Tier.MINUTE
    cols = as_dict(select_columns(store, [ORG], LOAD, start, end))
    rows = {
        s.labels["instance"]: (list(s.timestamps), list(s.values))
        for s in store.select([ORG], LOAD, start, end)
    }
    assert same(cols, rows)
    # Every minute of the 5 hours: stored buckets, and recent ones aggregated on the fly.
    assert len(cols["host-0"][0]) == 300


def test_nothing_matching_gives_empty_columns(store: TimeSeriesStore) -> None:
    store.append(ORG, fleet(T0 - HOUR_MS, 10))
    for matchers, start, end in [
        (name_is("absent_metric"), T0 - HOUR_MS, T0),
        (LOAD, T0 - 30 * DAY_MS, T0 - 29 * DAY_MS),  # long before the samples
        (LOAD, T0, T0 - 1),  # end before start
    ]:
        cols = select_columns(store, [ORG], matchers, start, end)
        assert (cols.labels, len(cols.timestamps), cols.offsets.tolist()) == ([], 0, [0])
    assert select_columns(store, [2], LOAD, T0 - HOUR_MS, T0).labels == []  # other org


@pytest.mark.parametrize("overlap", [False, True], ids=["recent-after-chunks", "overlapping"])
def test_merging_chunk_and_recent_rows_equals_sorting_them(overlap: bool) -> None:
    """The sort-free merge of chunk rows and recent rows gives what the sort gives (the
    chunk row winning on equal timestamps), with series having either, both or none."""
    rng = np.random.default_rng(3)
    count = 50
    parts: dict[str, list[tuple[int, int, float]]] = {"chunks": [], "recent": []}
    for pos in range(count):
        split = int(rng.integers(0, 100))
        for name, lo, hi in (("chunks", 0, split), ("recent", split, 100)):
            if rng.random() < 0.2:
                continue  # this series has none of this kind
            if overlap and name == "recent" and pos % 7 == 0:
                lo = max(0, lo - 5)  # a late row below, or the same timestamp as a chunk row
            stamps = sorted(rng.choice(np.arange(lo, hi), size=min(hi - lo, 20), replace=False))
            parts[name] += [(pos, int(t) * 1000, float(rng.random())) for t in stamps]

    def rows(name: str) -> reads._Rows:
        got = parts[name]
        return reads._Rows(
            np.array([r[0] for r in got], np.int64),
            np.array([r[1] for r in got], np.int64),
            np.array([r[2] for r in got], np.float64),
        )

    chunks, recent = rows("chunks"), rows("recent")
    joined = reads._Rows(*(np.concatenate((a, b)) for a, b in zip(chunks, recent, strict=True)))
    want = reads._sort_rows(joined)
    got = reads._merge_rows(reads._runs_of(chunks, count), recent, count)
    assert got.counts.tolist() == np.bincount(want.pos, minlength=count).tolist()
    assert got.ts.tolist() == want.ts.tolist() and got.values.tolist() == want.values.tolist()
