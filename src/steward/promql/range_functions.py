"""Functions of a range vector (``rate(x[5m])``, ``avg_over_time(x[1h])``, ...).

Each takes the windows of every (series, step) pair at once and returns ``(values,
present)`` arrays of shape (series, steps). Semantics and edge cases follow Prometheus
2.42 ``promql/functions.go`` (cited per function).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from steward.promql.selectors import RollupWindows
from steward.promql.values import RangeWindows, window_reduce
from steward.tsdb.types import RollupField

Out = tuple[np.ndarray, np.ndarray]

# On a rollup tier (``RollupWindows``: one point per bucket, at its end) each function
# reads the bucket field that answers it: ``max_over_time`` the maxima, ``count_over_time``
# the counts, ``rate`` the lasts (the samples a counter really had) with the resets inside
# a bucket counted too. The VALUE field in ``vs`` (a gauge's average) would give the
# maximum of averages, the number of buckets, and a counter without metadata averaged.


def _field(w: RangeWindows, which: RollupField) -> np.ndarray | None:
    return w.field(which) if isinstance(w, RollupWindows) else None


def _lasts(w: RangeWindows) -> np.ndarray:
    """The samples' values, or on a rollup tier each bucket's last sample."""
    lasts = _field(w, RollupField.LAST)
    return w.vs if lasts is None else lasts


def _at(arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``arr[idx]`` for window-derived indices, which may be -1 or ``arr.size`` where a
    window is too short: those read a clipped neighbour, and the caller's ``present``
    mask discards them (cheaper than masking the indices first)."""
    if arr.size == 0:
        return np.zeros(idx.shape, dtype=arr.dtype)
    return np.take(arr, idx, mode="clip")


def _pair_flags(w: RangeWindows, flags: np.ndarray) -> np.ndarray:
    """``flags[i]`` compares sample i with i-1; clear it at each series' first sample."""
    flags = flags.astype(np.float64)
    flags[w.starts[:-1][w.starts[:-1] < flags.size]] = 0.0
    return flags


def _pairs(w: RangeWindows) -> tuple[np.ndarray, np.ndarray]:
    """Current and previous values for every flat index (previous of index 0 is itself)."""
    prev = np.empty_like(w.vs)
    if w.vs.size:
        prev[0] = w.vs[0]
        prev[1:] = w.vs[:-1]
    return w.vs, prev


def _reset_sums(w: RangeWindows) -> np.ndarray | None:
    """``_vs_reset_sums`` of the windows; on a rollup tier ``_bucket_reset_sums``."""
    if isinstance(w, RollupWindows):
        return _bucket_reset_sums(w)
    return _vs_reset_sums(w)


def _bucket_reset_sums(w: RollupWindows) -> np.ndarray | None:
    """``_vs_reset_sums`` over rollup buckets, counting the resets inside a bucket too.

    A counter's bucket whose maximum exceeds its last sample was reset inside the
    bucket, after the maximum: the bucket is read as the samples (max, last) and the
    increase up to the maximum counts, as the raw samples' would (with only the lasts, a
    reset inside a bucket lost everything the counter gained in it before the reset, and
    all of it when the counter then rose above the previous bucket's last). Exact for
    one reset per bucket; a bucket's first point in a window (its last) opens it, so the
    resets inside that bucket lie before the window.
    """
    lasts, maxs = w.field(RollupField.LAST), w.field(RollupField.MAX)
    if lasts.size < 2:
        return None
    prev = np.empty_like(lasts)
    prev[0] = lasts[0]
    prev[1:] = lasts[:-1]
    inside = maxs > lasts
    amounts = np.where(inside, maxs, 0.0)
    before = np.where(inside, maxs, lasts) < prev  # a reset between the buckets
    amounts += np.where(before, prev, 0.0)
    amounts[w.starts[:-1][w.starts[:-1] < amounts.size]] = 0.0  # no bucket before
    at = np.flatnonzero(amounts)
    return _window_sums(w, at, amounts[at])


def _window_sums(w: RangeWindows, at: np.ndarray, amounts: np.ndarray) -> np.ndarray | None:
    """Per window [lo, hi), the sum of ``amounts`` at the flat indices ``at`` (sorted)
    with lo < index < hi; None when no window has one."""
    if not at.size:
        return None
    first = np.searchsorted(at, np.minimum(w.lo + 1, w.hi))
    last = np.searchsorted(at, w.hi)
    hit = last > first
    if not hit.any():
        return None
    out = np.zeros(w.lo.shape)
    out[hit] = window_reduce(np.add, amounts, first[hit], last[hit], 0.0)
    return out


def _vs_reset_sums(w: RangeWindows) -> np.ndarray | None:
    """Per window, the sum of the values just before each counter reset in it; None when
    no window has a reset (the common case: spares a pass over every window).

    A reset at flat index i (``vs[i] < vs[i - 1]``, both of one series) counts in a window
    [lo, hi) when lo < i < hi. Resets are rare, so they are found once over all samples
    and summed per window over that short list only (in sample order, as before), instead
    of reducing a dense array of mostly zeros.
    """
    vs = w.vs
    if vs.size < 2:
        return None
    at = np.flatnonzero(vs[1:] < vs[:-1]) + 1
    # A drop from one series' last sample to the next one's first is no reset.
    at = at[np.isin(at, w.starts, assume_unique=True, invert=True)]
    return _window_sums(w, at, vs[at - 1])


def extrapolated_rate(w: RangeWindows, is_counter: bool, is_rate: bool) -> Out:
    """``extrapolatedRate`` (rate, increase, delta): counter resets add the value before
    the reset; the result is extrapolated to the window's edges when the first/last samples
    lie within 1.1 average intervals of them (else by half an interval), never below a
    counter's zero.

    The arithmetic is Prometheus' in the same order (so the same floats), done in place
    where a temporary is not needed again: with 8,000 series x 60 steps every extra
    (series, step) array is 4 MB of fresh memory.
    """
    n = w.count
    ok = n >= 2
    last_i = w.hi - 1
    vs = _lasts(w)
    first_v, result = _at(vs, w.lo), _at(vs, last_i)
    first_t, last_t = _at(w.ts, w.lo), _at(w.ts, last_i)
    result -= first_v  # last - first
    resets = _reset_sums(w) if is_counter else None
    if resets is not None:
        result += resets
    with np.errstate(all="ignore"):
        sampled = (last_t - first_t) / 1000.0
        first_t -= w.range_start[None, :]
        to_start = first_t / 1000.0
        np.subtract(w.range_end[None, :], last_t, out=last_t)
        to_end = last_t / 1000.0
        n -= 1
        np.maximum(n, 1, out=n)
        average = sampled / n
        if is_counter:
            use_zero = first_v >= 0
            use_zero &= result > 0
            to_zero = first_v
            to_zero /= result
            to_zero *= sampled  # sampled * (first / result)
            use_zero &= to_zero < to_start
            np.copyto(to_start, to_zero, where=use_zero)
        threshold = average * 1.1
        half = average
        half /= 2
        np.copyto(to_start, half, where=~(to_start < threshold))
        np.copyto(to_end, half, where=~(to_end < threshold))
        factor = sampled + to_start
        factor += to_end
        factor /= sampled
        if is_rate:
            factor /= w.range_ms / 1000.0
        result *= factor
    return result, ok


def rate(w: RangeWindows) -> Out:
    return extrapolated_rate(w, True, True)


def increase(w: RangeWindows) -> Out:
    return extrapolated_rate(w, True, False)


def delta(w: RangeWindows) -> Out:
    return extrapolated_rate(w, False, False)


def _instant_value(w: RangeWindows, is_rate: bool) -> Out:
    """``instantValue`` (irate, idelta): the last two samples of the window."""
    ok = w.count >= 2
    vs = _lasts(w)
    last_v, prev_v = _at(vs, w.hi - 1), _at(vs, w.hi - 2)
    last_t, prev_t = _at(w.ts, w.hi - 1), _at(w.ts, w.hi - 2)
    if is_rate:
        result = np.where(last_v < prev_v, last_v, last_v - prev_v)  # a counter reset
        with np.errstate(all="ignore"):
            result = result / ((last_t - prev_t) / 1000.0)
    else:
        result = last_v - prev_v
    return result, ok & (last_t != prev_t)


def irate(w: RangeWindows) -> Out:
    return _instant_value(w, True)


def idelta(w: RangeWindows) -> Out:
    return _instant_value(w, False)


def _reduce(
    w: RangeWindows, ufunc: np.ufunc, which: RollupField, empty: float
) -> tuple[np.ndarray, np.ndarray]:
    """``ufunc`` over each window's samples, or on a rollup tier over the field ``which``
    of the buckets inside the window (not the one ending on its start: ``lo_open``); and
    whether the window has any."""
    if isinstance(w, RollupWindows):
        lo = w.lo_open
        return window_reduce(ufunc, w.field(which), lo, w.hi, empty), w.hi > lo
    return window_reduce(ufunc, w.vs, w.lo, w.hi, empty), w.count > 0


def sum_over_time(w: RangeWindows) -> Out:
    return _reduce(w, np.add, RollupField.SUM, 0.0)


def _count(w: RangeWindows) -> Out:
    if isinstance(w, RollupWindows):
        return _reduce(w, np.add, RollupField.COUNT, 0.0)
    return w.count.astype(np.float64), w.count > 0


def count_over_time(w: RangeWindows) -> Out:
    return _count(w)


def avg_over_time(w: RangeWindows) -> Out:
    sums, ok = _reduce(w, np.add, RollupField.SUM, 0.0)
    with np.errstate(all="ignore"):
        return sums / _count(w)[0], ok


def min_over_time(w: RangeWindows) -> Out:
    # fmin ignores NaN unless every value is NaN, as Prometheus' `cur < min || IsNaN(min)`.
    return _reduce(w, np.fmin, RollupField.MIN, np.nan)


def max_over_time(w: RangeWindows) -> Out:
    return _reduce(w, np.fmax, RollupField.MAX, np.nan)


def last_over_time(w: RangeWindows) -> Out:
    # On a rollup tier a bucket ending on the window's start has its last sample before
    # the window: alone in it, there is no last sample in the window.
    ok = w.hi > w.lo_open if isinstance(w, RollupWindows) else w.count > 0
    return _at(_lasts(w), w.hi - 1), ok


def present_over_time(w: RangeWindows) -> Out:
    ok = w.count > 0
    return np.ones(ok.shape), ok


def changes(w: RangeWindows) -> Out:
    cur, prev = _pairs(w)
    same = (cur == prev) | (np.isnan(cur) & np.isnan(prev))
    flags = _pair_flags(w, ~same)
    return window_reduce(np.add, flags, np.minimum(w.lo + 1, w.hi), w.hi, 0.0), w.count > 0


def resets(w: RangeWindows) -> Out:
    if isinstance(w, RollupWindows):
        # A bucket's last below its maximum: a reset inside it; below the previous
        # bucket's last (or its maximum, reset inside, below that): one between them.
        lasts, maxs = w.field(RollupField.LAST), w.field(RollupField.MAX)
        inside = maxs > lasts
        prev = np.empty_like(lasts)
        if lasts.size:
            prev[0] = lasts[0]
            prev[1:] = lasts[:-1]
        counts = inside.astype(np.float64) + _pair_flags(w, np.where(inside, maxs, lasts) < prev)
        counts[w.starts[:-1][w.starts[:-1] < counts.size]] = 0.0
        return window_reduce(np.add, counts, np.minimum(w.lo + 1, w.hi), w.hi, 0.0), w.count > 0
    cur, prev = _pairs(w)
    flags = _pair_flags(w, cur < prev)
    return window_reduce(np.add, flags, np.minimum(w.lo + 1, w.hi), w.hi, 0.0), w.count > 0


def _per_window(
    w: RangeWindows, minimum: int, fn: Callable[[np.ndarray, np.ndarray, int], float]
) -> Out:
    """Loop over windows for the functions numpy cannot reduce in one pass."""
    values = np.zeros(w.lo.shape)
    ok = w.count >= minimum
    for s, i in zip(*np.nonzero(ok), strict=True):
        lo, hi = w.lo[s, i], w.hi[s, i]
        values[s, i] = fn(w.ts[lo:hi], w.vs[lo:hi], i)
    return values, ok


def quantile(q: float, values: np.ndarray) -> float:
    """Prometheus' ``quantile``: linear interpolation between the closest ranks."""
    if np.isnan(q):
        return float("nan")
    if q < 0:
        return float("-inf")
    if q > 1:
        return float("inf")
    # NaN sorts first, as in Prometheus' vectorByValueHeap (np.sort puts it last).
    nan = np.isnan(values)
    ordered = np.concatenate([values[nan], np.sort(values[~nan])])
    n = ordered.size
    rank = q * (n - 1)
    lower = max(0, int(np.floor(rank)))
    upper = min(n - 1, lower + 1)
    weight = rank - np.floor(rank)
    return float(ordered[lower] * (1 - weight) + ordered[upper] * weight)


def quantile_over_time(w: RangeWindows, q: np.ndarray) -> Out:
    return _per_window(w, 1, lambda _t, v, i: quantile(float(q[i]), v))


def _stdvar(values: np.ndarray) -> float:
    # Welford's online algorithm, as Prometheus' funcStdvarOverTime.
    count = mean = aux = 0.0
    for v in values.tolist():
        count += 1
        d = v - mean
        mean += d / count
        aux += d * (v - mean)
    return aux / count


def stdvar_over_time(w: RangeWindows) -> Out:
    return _per_window(w, 1, lambda _t, v, _i: _stdvar(v))


def stddev_over_time(w: RangeWindows) -> Out:
    return _per_window(w, 1, lambda _t, v, _i: float(np.sqrt(_stdvar(v))))


def linear_regression(ts: np.ndarray, vs: np.ndarray, intercept_ms: int) -> tuple[float, float]:
    """Least-squares slope (per second) and intercept at ``intercept_ms``."""
    if (vs == vs[0]).all():
        if np.isinf(vs[0]):
            return float("nan"), float("nan")
        return 0.0, float(vs[0])
    x = (ts - intercept_ms) / 1000.0
    n = float(ts.size)
    sum_x, sum_y = x.sum(), vs.sum()
    cov_xy = (x * vs).sum() - sum_x * sum_y / n
    var_x = (x * x).sum() - sum_x * sum_x / n
    slope = cov_xy / var_x
    return float(slope), float(sum_y / n - slope * sum_x / n)


def deriv(w: RangeWindows) -> Out:
    return _per_window(w, 2, lambda t, v, _i: linear_regression(t, v, int(t[0]))[0])


def predict_linear(w: RangeWindows, seconds: np.ndarray, steps: np.ndarray) -> Out:
    def predict(t: np.ndarray, v: np.ndarray, i: int) -> float:
        slope, intercept = linear_regression(t, v, int(steps[i]))
        return slope * float(seconds[i]) + intercept

    return _per_window(w, 2, predict)


SIMPLE: dict[str, Callable[[RangeWindows], Out]] = {
    "rate": rate,
    "increase": increase,
    "delta": delta,
    "irate": irate,
    "idelta": idelta,
    "sum_over_time": sum_over_time,
    "count_over_time": count_over_time,
    "avg_over_time": avg_over_time,
    "min_over_time": min_over_time,
    "max_over_time": max_over_time,
    "last_over_time": last_over_time,
    "present_over_time": present_over_time,
    "stddev_over_time": stddev_over_time,
    "stdvar_over_time": stdvar_over_time,
    "changes": changes,
    "resets": resets,
    "deriv": deriv,
}
