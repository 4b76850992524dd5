"""The vectorised paths agree with a plain per-series, per-step evaluation.

The engine evaluates a selector's windows and range functions for every series and step
at once (one key space, one ``searchsorted``, flat gathers). These tests compute the same
results the slow way - a loop over series and steps, ported from Prometheus 2.x
``promql/functions.go`` - on random data with gaps, counter resets, NaN, samples exactly
on window bounds, unaligned steps and series outside the range, and require equality.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from steward.promql import evaluate_range, selectors
from steward.promql import range_functions as rf
from steward.promql.aggregations import aggregate
from steward.promql.memstore import MemoryStore
from steward.promql.values import RangeWindows, Vector
from steward.tsdb.reads import SeriesColumns
from steward.tsdb.types import Matcher, MatchOp

S = 1_000
M = 60 * S


def random_columns(seed: int, series: int = 40, counters: bool = True) -> SeriesColumns:
    """Series with irregular intervals (1-40 s), gaps of minutes, resets and NaN."""
    rng = np.random.default_rng(seed)
    labels, ts_parts, vs_parts = [], [], []
    for s in range(series):
        n = int(rng.integers(0, 120))
        gaps = rng.integers(1, 41, n) * S
        gaps[rng.random(n) < 0.05] += 5 * M  # longer than the lookback
        ts = np.cumsum(gaps) + int(rng.integers(-10, 10)) * M
        if counters:
            vs = np.cumsum(rng.uniform(0, 5, n))
            for at in np.flatnonzero(rng.random(n) < 0.05):
                vs[at:] -= vs[at] - rng.uniform(0, 3)  # a restart: the counter drops
        else:
            vs = rng.normal(10, 5, n)
            vs[rng.random(n) < 0.03] = np.nan
        labels.append({"__name__": "m", "i": str(s % 7), "s": str(s)})
        ts_parts.append(ts.astype(np.int64))
        vs_parts.append(vs.astype(np.float64))
    offsets = np.zeros(series + 1, dtype=np.int64)
    np.cumsum([t.size for t in ts_parts], out=offsets[1:])
    return SeriesColumns(labels, np.concatenate(ts_parts), np.concatenate(vs_parts), offsets)


def windows(cols: SeriesColumns, steps: np.ndarray, range_ms: int) -> RangeWindows:
    return selectors.windows_of(cols, steps - range_ms, steps, range_ms)


def reference_bounds(cols: SeriesColumns, starts: np.ndarray, ends: np.ndarray, left_open: bool):
    """Per series and step, the window's samples found by a separate search per series."""
    out = {}
    for s, labels in enumerate(cols.labels):
        a, b = cols.offsets[s], cols.offsets[s + 1]
        ts, vs = cols.timestamps[a:b], cols.values[a:b]
        per_step = []
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            inside = (ts > start if left_open else ts >= start) & (ts <= end)
            per_step.append((ts[inside].tolist(), vs[inside].tolist()))
        out[labels["s"]] = per_step
    return out


STEP_SETS = {
    "aligned": np.arange(-5 * M, 45 * M, M, dtype=np.int64),
    "unaligned": np.arange(-7 * M + 1_234, 50 * M, 137 * S, dtype=np.int64),
    "one-step": np.array([20 * M + 10 * S], dtype=np.int64),
}


@pytest.fixture(params=["shared-bounds", "two-searches"], autouse=True)
def search(request, monkeypatch) -> str:
    """Every test runs on both ways of finding window bounds (many windows share their
    bounds' search; few search twice): the threshold between them is moved."""
    limit = 0 if request.param == "shared-bounds" else 10**12
    monkeypatch.setattr(selectors, "SHARED_BOUNDS_MIN", limit)
    return request.param


@pytest.mark.parametrize("left_open", [False, True])
@pytest.mark.parametrize("steps", STEP_SETS.values(), ids=STEP_SETS.keys())
@pytest.mark.parametrize("range_ms", [10 * S, 5 * M, 17 * M + 1])
def test_windows_hold_exactly_the_samples_of_each_step(monkeypatch, left_open, steps, range_ms):
    monkeypatch.setattr(selectors, "LEFT_OPEN", left_open)
    cols = random_columns(seed=range_ms + steps.size)
    starts, ends = steps - range_ms, steps
    # What the store returns may reach beyond the range: the windows ignore the excess.
    w = selectors.windows_of(cols, starts, ends, range_ms)
    want = reference_bounds(cols, starts, ends, left_open)
    seen = set()
    for s, labels in enumerate(w.labels):
        seen.add(labels["s"])
        for i in range(steps.size):
            lo, hi = int(w.lo[s, i]), int(w.hi[s, i])
            want_ts, want_vs = want[labels["s"]][i]
            assert w.ts[lo:hi].tolist() == want_ts
            np.testing.assert_array_equal(w.vs[lo:hi], want_vs)
    # Series with no sample in the whole range are left out, and only they.
    empty = {k for k, per_step in want.items() if not any(t for t, _ in per_step)}
    assert set(want) - seen <= empty
    lo_all, hi_all = int(starts.min()), int(ends.max())
    for s, labels in enumerate(cols.labels):
        ts = cols.timestamps[cols.offsets[s] : cols.offsets[s + 1]]
        if ((ts >= lo_all) & (ts <= hi_all)).any():
            assert labels["s"] in seen


def test_windows_of_no_series_and_of_series_without_samples():
    empty = SeriesColumns([], np.zeros(0, np.int64), np.zeros(0), np.zeros(1, np.int64))
    steps = STEP_SETS["aligned"]
    w = windows(empty, steps, 5 * M)
    assert w.lo.shape == (0, steps.size)
    one = SeriesColumns(
        [{"s": "0"}, {"s": "1"}],
        np.array([10 * M], dtype=np.int64),
        np.array([1.0]),
        np.array([0, 0, 1], dtype=np.int64),
    )
    w = windows(one, steps, 5 * M)
    assert w.labels == [{"s": "1"}]
    assert w.count[0].tolist() == [int(10 * M <= t <= 15 * M) for t in steps.tolist()]


# -- range functions, the Prometheus way --------------------------------------------------


def ref_extrapolated(ts, vs, start, end, range_ms, is_counter, is_rate):
    """Prometheus 2.x ``extrapolatedRate`` for one window."""
    if len(vs) < 2:
        return None
    result = vs[-1] - vs[0]
    if is_counter:
        prev = vs[0]
        for v in vs[1:]:
            if v < prev:
                result += prev
            prev = v
    to_start = (ts[0] - start) / 1000
    to_end = (end - ts[-1]) / 1000
    sampled = (ts[-1] - ts[0]) / 1000
    average = sampled / (len(vs) - 1)
    if is_counter and result > 0 and vs[0] >= 0:
        to_zero = sampled * (vs[0] / result)
        if to_zero < to_start:
            to_start = to_zero
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    factor = interval / sampled
    if is_rate:
        factor /= range_ms / 1000
    return result * factor


def ref_instant(ts, vs, is_rate):
    if len(vs) < 2:
        return None
    last, prev = vs[-1], vs[-2]
    result = last if is_rate and last < prev else last - prev
    if ts[-1] == ts[-2]:
        return None
    return result / ((ts[-1] - ts[-2]) / 1000) if is_rate else result


def ref_changes(vs, resets_only):
    if not vs:
        return None
    count, prev = 0, vs[0]
    for v in vs[1:]:
        if resets_only:
            count += v < prev
        else:
            count += not (v == prev or (math.isnan(v) and math.isnan(prev)))
        prev = v
    return float(count)


def ref_min(vs):
    if not vs:
        return None
    out = vs[0]
    for v in vs[1:]:
        if v < out or math.isnan(out):
            out = v
    return out


def ref_max(vs):
    if not vs:
        return None
    out = vs[0]
    for v in vs[1:]:
        if v > out or math.isnan(out):
            out = v
    return out


Ref = Callable[[list[int], list[float], int, int, int], float | None]
REFERENCES: dict[str, Ref] = {
    "rate": lambda t, v, a, b, r: ref_extrapolated(t, v, a, b, r, True, True),
    "increase": lambda t, v, a, b, r: ref_extrapolated(t, v, a, b, r, True, False),
    "delta": lambda t, v, a, b, r: ref_extrapolated(t, v, a, b, r, False, False),
    "irate": lambda t, v, a, b, r: ref_instant(t, v, True),
    "idelta": lambda t, v, a, b, r: ref_instant(t, v, False),
    "resets": lambda t, v, a, b, r: ref_changes(v, True),
    "changes": lambda t, v, a, b, r: ref_changes(v, False),
    "sum_over_time": lambda t, v, a, b, r: math.fsum(v) if v else None,
    "count_over_time": lambda t, v, a, b, r: float(len(v)) if v else None,
    "avg_over_time": lambda t, v, a, b, r: math.fsum(v) / len(v) if v else None,
    "min_over_time": lambda t, v, a, b, r: ref_min(v),
    "max_over_time": lambda t, v, a, b, r: ref_max(v),
    "last_over_time": lambda t, v, a, b, r: v[-1] if v else None,
}


@pytest.mark.parametrize("counters", [True, False], ids=["counters", "gauges"])
@pytest.mark.parametrize("steps", STEP_SETS.values(), ids=STEP_SETS.keys())
@pytest.mark.parametrize("range_ms", [30 * S, 5 * M, 17 * M + 1])
@pytest.mark.parametrize("name", REFERENCES)
def test_range_functions_agree_with_a_per_window_evaluation(name, range_ms, steps, counters):
    cols = random_columns(seed=7 * range_ms + steps.size + counters, counters=counters)
    w = windows(cols, steps, range_ms)
    values, present = rf.SIMPLE[name](w)
    reference = REFERENCES[name]
    checked = 0
    for s in range(len(w.labels)):
        for i in range(steps.size):
            lo, hi = int(w.lo[s, i]), int(w.hi[s, i])
            want = reference(
                w.ts[lo:hi].tolist(),
                w.vs[lo:hi].tolist(),
                int(w.range_start[i]),
                int(w.range_end[i]),
                range_ms,
            )
            assert bool(present[s, i]) == (want is not None), (s, i)
            if want is not None:
                got = float(values[s, i])
                assert got == pytest.approx(want, rel=1e-9, abs=1e-12, nan_ok=True), (s, i)
                checked += 1
    assert checked > 0


# -- the store's flat read, aggregation, the result's matrix ------------------------------


def test_memory_store_columns_are_its_selection_flattened():
    store = MemoryStore()
    rng = np.random.default_rng(3)
    for h in range(20):
        for c in range(3):
            ts = np.sort(rng.choice(np.arange(0, 3600, 10), 50, replace=False)) * S
            labels = {"__name__": "cpu", "instance": f"h{h}", "cpu": str(c)}
            store.append_series(1 + h % 2, labels, ts, rng.random(50))
    store.append_series(1, {"__name__": "other", "instance": "h0"}, [0, S], [1.0, 2.0])
    for org_ids in ([1], [1, 2], None):
        for matchers in (
            [Matcher("__name__", MatchOp.EQ, "cpu")],
            [Matcher("__name__", MatchOp.EQ, "cpu"), Matcher("cpu", MatchOp.NE, "1")],
            [Matcher("instance", MatchOp.RE, "h1.*")],
        ):
            got = store.select_columns(org_ids, matchers, 600 * S, 1800 * S)
            want = SeriesColumns.of(store.select(org_ids, matchers, 600 * S, 1800 * S))
            assert got.labels == want.labels
            assert got.offsets.tolist() == want.offsets.tolist()
            assert got.timestamps.tolist() == want.timestamps.tolist()
            assert got.values.tolist() == want.values.tolist()


def test_aggregation_by_one_label_matches_a_grouping_by_dict():
    rng = np.random.default_rng(5)
    labels = [{"instance": f"h{i % 9}", "cpu": str(i)} for i in range(60)]
    labels[4] = {"cpu": "4"}  # no instance: its own group, without the label
    values = rng.normal(size=(60, 11))
    present = rng.random((60, 11)) < 0.8
    out = aggregate("avg", Vector(labels, values, present), True, ["instance"], None)
    for g, group in enumerate(out.labels):
        rows = [i for i, ls in enumerate(labels) if ls.get("instance") == group.get("instance")]
        for step in range(11):
            hits = [values[i, step] for i in rows if present[i, step]]
            assert bool(out.present[g, step]) == bool(hits)
            if hits:
                assert out.values[g, step] == pytest.approx(sum(hits) / len(hits))
    assert {} in out.labels
    assert len(out.labels) == 10


def test_fleet_query_gives_each_host_its_cpus_average_rate():
    """The shape of the benchmark's query (issue #3), small: series that start late or
    stop early keep only their present steps."""
    store = MemoryStore()
    ts = np.arange(0, 3600, 10, dtype=np.int64) * S
    for h in range(3):
        for c in range(4):
            labels = {"__name__": "cpu_seconds", "instance": f"h{h}", "cpu": str(c)}
            keep = ts >= 1200 * S if h == 2 else ts < 3000 * S if h == 1 else ts >= 0
            store.append_series(1, labels, ts[keep], (ts[keep] / S) * (c + 1) * 0.1)
    result = evaluate_range(
        "avg by (instance) (rate(cpu_seconds[5m]))", 600 * S, 3600 * S, M, store, [1]
    )
    by_host = {s.labels["instance"]: s for s in result.series}
    assert [s.labels for s in result.series] == [{"instance": f"h{h}"} for h in range(3)]
    assert by_host["h0"].timestamps == list(range(600 * S, 3600 * S + 1, M))
    assert by_host["h0"].values == pytest.approx([0.25] * 51)
    assert by_host["h1"].timestamps[-1] == 3000 * S + 4 * M  # within 5 m of its last sample
    assert by_host["h2"].timestamps[0] == 1200 * S + M  # two samples needed: from 1210 s


def test_a_sparse_matrix_keeps_each_series_present_steps_only():
    """Series that live a few minutes each in a long range (churn) take the row-by-row
    conversion; they must come out exactly as in the dense one."""
    store = MemoryStore()
    for k in range(10):
        ts = np.arange(k * 6 * M, k * 6 * M + 2 * M, 10 * S, dtype=np.int64)
        store.append_series(1, {"__name__": "g", "k": str(k)}, ts, np.full(ts.size, float(k)))
    result = evaluate_range("g", 0, 60 * M, M, store, [1])
    assert [s.labels["k"] for s in result.series] == [str(k) for k in range(10)]
    for k, series in enumerate(result.series):
        # Present from its first sample until the lookback (5 m) after its last one.
        first, last = k * 6 * M, k * 6 * M + 2 * M - 10 * S
        want = [t for t in range(0, 60 * M + 1, M) if first <= t <= last + 5 * M]
        assert series.timestamps == want
        assert series.values == [float(k)] * len(want)
