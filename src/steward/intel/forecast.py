"""Time until a growing metric crosses a threshold (disk full, memory exhausted, quota).

Method
------
1. **Segment.** Clean-ups (log rotation, a purge) and step changes (a big file copied) show
   as one-sample jumps far outside the spread of ordinary first differences.  A difference is
   a break when it is more than :data:`BREAK_MADS` robust standard deviations (1.4826 * MAD) of
   all differences away from their median; only the samples after the last break are used,
   because the trend before a clean-up says nothing about the level after it.  Across a gap
   in the samples the usual difference is scaled by the gap's length, and where the MAD is 0
   (growth in bursts, flat in between) the typical burst sets the spread.
2. **Fit.** Ordinary least squares of value on time over that segment, linear and quadratic.
   The quadratic model is used only when its curvature is positive (accelerating growth) and
   significant (|t| > :data:`CURVE_T`).  Standard errors are inflated for autocorrelated
   residuals with the lag-1 effective sample size ``n (1 - rho) / (1 + rho)``.
3. **Decide.** If the slope at the last sample is not significantly positive (one-sided, at
   the requested confidence plus margin), or the drift between the means of
   :data:`DRIFT_BLOCKS` time blocks is not (a level that wanders without drifting fits a
   steep line too), the result is :attr:`ForecastStatus.NO_TREND`: no crossing is invented.
   Otherwise the estimate is where the fitted curve meets the threshold, and the interval
   is where the upper and lower edges of the fit's ``confidence`` band meet it (the later
   edge may never meet it: ``math.inf``).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["Forecast", "ForecastStatus", "time_to_threshold"]

BREAK_MADS = 8.0
CURVE_T = 3.0
MIN_POINTS = 8
TREND_Z = 3.0  # minimum t statistic of the slope for a trend to count
HORIZON_SPANS = 50.0  # do not extrapolate further than this many times the fitted span
DRIFT_BLOCKS = 12  # the drift test's equal time blocks (see ``_drift_t``)


class ForecastStatus(enum.StrEnum):
    CROSSING = "crossing"  # a significant trend reaches the threshold
    ALREADY_CROSSED = "already_crossed"  # the fitted level is at or past the threshold now
    NO_TREND = "no_trend"  # slope not significantly towards the threshold
    BEYOND_HORIZON = "beyond_horizon"  # a trend, but it reaches the threshold too far out
    INSUFFICIENT_DATA = "insufficient_data"  # fewer than min_points in the last segment


@dataclass(frozen=True, slots=True)
class Forecast:
    """Result of :func:`time_to_threshold`.  Times are seconds from the last sample.

    ``seconds``/``lower``/``upper`` are ``None`` unless ``status`` is CROSSING (``lower`` and
    ``upper`` bound the ``confidence`` interval; ``upper`` may be ``math.inf``) or
    ALREADY_CROSSED (all 0).  ``slope`` is the fitted growth rate at the last sample in units
    per second; ``segment_start`` is the timestamp where the used segment starts.
    """

    status: ForecastStatus
    seconds: float | None
    lower: float | None
    upper: float | None
    confidence: float
    slope: float
    model: str
    segment_start: float
    points_used: int


def time_to_threshold(
    timestamps: Sequence[float],
    values: Sequence[float],
    threshold: float,
    *,
    confidence: float = 0.8,
    min_points: int = MIN_POINTS,
    direction: int = 1,
) -> Forecast:
    """Forecast when ``values`` (sampled at ``timestamps``, seconds, increasing) reach
    ``threshold``.

    ``direction=1`` looks for growth up to the threshold (disk usage); ``-1`` for decline down
    to it (free space).  Raises ``ValueError`` on mismatched lengths, non-finite numbers or
    timestamps that do not increase.
    """
    if direction not in (1, -1):
        raise ValueError("direction must be 1 or -1")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    if len(timestamps) != len(values):
        raise ValueError("timestamps and values differ in length")
    ts = [float(t) for t in timestamps]
    ys = [float(v) * direction for v in values]
    thr = float(threshold) * direction
    for i, (t, y) in enumerate(zip(ts, ys, strict=True)):
        if not (math.isfinite(t) and math.isfinite(y)):
            raise ValueError(f"non-finite timestamp or value at index {i}")
        if i and t <= ts[i - 1]:
            raise ValueError(f"timestamps must increase (index {i})")

    t_now = ts[-1] if ts else 0.0
    start, drops = _segment(ts, ys)
    ts, ys = ts[start:], ys[start:]
    seg_start = ts[0] if ts else math.nan
    model = "linear"
    if len(drops) >= 2:
        # Recurring clean-ups (a sawtooth): the trend that matters is that of the cycle
        # peaks, the values just before each clean-up; the current cycle's own climb would
        # overstate it.  Needs three completed cycles for a slope and its error.
        if len(drops) < 3:
            return Forecast(
                ForecastStatus.INSUFFICIENT_DATA, None, None, None, confidence, 0.0,
                "cycle peaks", seg_start, len(drops),
            )  # fmt: skip
        bounds = [0, *(d - start for d in drops)]
        ts = [ts[b - 1] for b in bounds[1:]]
        ys = [max(ys[a:b]) for a, b in itertools.pairwise(bounds)]
        model = "cycle peaks"
        min_points = 3
    if len(ts) < max(min_points, 3):
        return Forecast(
            ForecastStatus.INSUFFICIENT_DATA, None, None, None, confidence, 0.0, "none",
            seg_start, len(ts),
        )  # fmt: skip
    t_last = ts[-1] if model != "cycle peaks" else t_now
    taus = [t - t_last for t in ts]  # <= 0; the fit is centred on "now"
    span = -taus[0]
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)

    fit = _fit(taus, ys, 1)
    if model == "linear" and len(ts) >= 3 * min_points:
        quad = _fit(taus, ys, 2)
        curv, curv_se = quad.coef[2], math.sqrt(max(quad.cov[2][2], 0.0))
        if curv > 0.0 and curv_se > 0.0 and curv / curv_se > CURVE_T:
            fit, model = quad, "quadratic"
    slope = fit.coef[1]
    slope_se = math.sqrt(max(fit.cov[1][1], 0.0))
    level = fit.coef[0]

    def result(status: ForecastStatus, sec: float | None = None, lo: float | None = None,
               hi: float | None = None) -> Forecast:  # fmt: skip
        return Forecast(status, sec, lo, hi, confidence, slope * direction, model, seg_start,
                        len(ts))  # fmt: skip

    if level >= thr:
        return result(ForecastStatus.ALREADY_CROSSED, 0.0, 0.0, 0.0)
    if slope <= 0.0 or slope < max(TREND_Z, z) * slope_se:
        return result(ForecastStatus.NO_TREND)
    if model != "cycle peaks" and _drift_t(ts, ys, DRIFT_BLOCKS) < max(TREND_Z, z):
        return result(ForecastStatus.NO_TREND)  # a wander, not a drift
    horizon = HORIZON_SPANS * span
    est = _first_crossing(lambda tau: fit.predict(tau) - thr, horizon)
    if est is None:
        return result(ForecastStatus.BEYOND_HORIZON)
    early = _first_crossing(lambda tau: fit.predict(tau) + z * fit.se(tau) - thr, horizon)
    late = _first_crossing(lambda tau: fit.predict(tau) - z * fit.se(tau) - thr, horizon)
    return result(
        ForecastStatus.CROSSING,
        est,
        0.0 if early is None else min(early, est),
        math.inf if late is None else max(late, est),
    )


def _segment(ts: list[float], ys: list[float]) -> tuple[int, list[int]]:
    """Start of the last segment without a step up, and the clean-ups (drops) inside it.

    A step up restarts the segment.  One drop also does (the level after a single clean-up
    is what counts); with two or more drops the segment keeps them and they are returned as
    indexes of the first sample after each drop.

    Across a gap longer than the usual interval (an agent that was down) the typical change
    is scaled by the gap's length, so the growth accumulated during the gap is not a step.
    When more than half of the differences are equal (growth in bursts: a series that is
    flat between writes), the MAD is 0 and the typical burst sets the spread instead.
    """
    if len(ys) < 4:
        return 0, []
    gaps = [b - a for a, b in itertools.pairwise(ts)]
    usual = _median(gaps)
    # Intervals in units of the usual one; shorter ones (a last, partial bucket) count as 1.
    widths = [max(g / usual, 1.0) if usual > 0 else 1.0 for g in gaps]
    diffs = [b - a for a, b in itertools.pairwise(ys)]
    rate = _median([d / w for d, w in zip(diffs, widths, strict=True)])
    devs = [d - rate * w for d, w in zip(diffs, widths, strict=True)]
    med = _median(devs)
    absdev = [abs(d - med) for d in devs]
    mad = 1.4826 * _median(absdev)
    if mad == 0.0:
        # Most intervals show no change: growth comes in bursts (a log flushed hourly).
        # Three or more moves are the usual change and set the scale; one or two moves in a
        # flat series are steps, measured against the mean absolute deviation.
        moves = [a for a in absdev if a > 0.0]
        mean_dev = sum(absdev) / len(absdev)
        mad = 1.4826 * _median(moves) if len(moves) >= 3 else 1.2533 * mean_dev
    spread = max(ys) - min(ys)
    limit = BREAK_MADS * mad + 1e-9 * spread + 1e-12
    drops: list[int] = []
    for i in range(len(diffs) - 1, -1, -1):
        dev = devs[i] - med
        if dev > limit:
            start = i + 1
            break
        if dev < -limit:
            drops.append(i + 1)
    else:
        start = 0
    drops.reverse()
    if len(drops) == 1:
        return drops[0], []
    return start, drops


def _drift_t(ts: list[float], ys: list[float], blocks: int) -> float:
    """The t statistic of the series' drift, from the changes between the means of
    ``blocks`` equal time blocks (per second, so a gap does not count as growth).

    Why a second test: a level that wanders without drifting (available memory is often a
    random walk over hours) fits a line with a steep, "significant" slope, and the
    AR(1) correction of the fit's errors only partly undoes that. The changes between block
    means of a random walk are about independent, so their mean is near 0 whatever the
    line says; a real trend moves every block the same way. ``inf`` when there are too
    few blocks with samples to judge (the fit alone decides).
    """
    t0, span = ts[0], ts[-1] - ts[0]
    if span <= 0.0:
        return math.inf
    sums = [[0.0, 0.0, 0.0] for _ in range(blocks)]  # per block: sum of t, of y, count
    for t, y in zip(ts, ys, strict=True):
        b = sums[min(int((t - t0) / span * blocks), blocks - 1)]
        b[0] += t
        b[1] += y
        b[2] += 1
    means = [(st / k, sy / k) for st, sy, k in sums if k]
    rates = [(yb - ya) / (tb - ta) for (ta, ya), (tb, yb) in itertools.pairwise(means)]
    if len(rates) < 4:
        return math.inf
    mean = sum(rates) / len(rates)
    var = sum((r - mean) ** 2 for r in rates) / (len(rates) - 1)
    if var <= 0.0:
        return math.inf if mean > 0.0 else -math.inf
    return mean / math.sqrt(var / len(rates))


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else 0.5 * (s[m - 1] + s[m])


@dataclass(frozen=True, slots=True)
class _Fit:
    coef: list[float]
    cov: list[list[float]]

    def predict(self, tau: float) -> float:
        return sum(c * tau**k for k, c in enumerate(self.coef))

    def se(self, tau: float) -> float:
        x = [tau**k for k in range(len(self.coef))]
        var = sum(x[i] * self.cov[i][j] * x[j] for i in range(len(x)) for j in range(len(x)))
        return math.sqrt(max(var, 0.0))


def _fit(taus: list[float], ys: list[float], degree: int) -> _Fit:
    """Least squares polynomial fit with an autocorrelation-aware coefficient covariance."""
    p = degree + 1
    scale = max(abs(taus[0]), 1e-12)  # conditioning: fit on tau / scale
    xs = [[(t / scale) ** k for k in range(p)] for t in taus]
    xtx = [[sum(r[i] * r[j] for r in xs) for j in range(p)] for i in range(p)]
    xty = [sum(r[i] * y for r, y in zip(xs, ys, strict=True)) for i in range(p)]
    inv = _invert(xtx)
    beta = [sum(inv[i][j] * xty[j] for j in range(p)) for i in range(p)]
    res = [
        y - sum(b * v for b, v in zip(beta, r, strict=True)) for r, y in zip(xs, ys, strict=True)
    ]
    n = len(ys)
    sse = sum(e * e for e in res)
    sigma2 = sse / max(n - p, 1)
    den = sum(e * e for e in res[:-1])
    rho = sum(a * b for a, b in itertools.pairwise(res)) / den if den > 0 else 0.0
    rho = min(max(rho, 0.0), 0.99)
    inflate = (1.0 + rho) / (1.0 - rho)  # n / n_eff for AR(1) residuals
    cov = [[inv[i][j] * sigma2 * inflate / scale ** (i + j) for j in range(p)] for i in range(p)]
    coef = [b / scale**k for k, b in enumerate(beta)]
    return _Fit(coef, cov)


def _invert(m: list[list[float]]) -> list[list[float]]:
    """Gauss-Jordan inverse of a small symmetric positive definite matrix."""
    p = len(m)
    a = [row[:] + [1.0 if i == j else 0.0 for j in range(p)] for i, row in enumerate(m)]
    for c in range(p):
        piv = max(range(c, p), key=lambda r: abs(a[r][c]))
        if abs(a[piv][c]) < 1e-300:
            raise ValueError("degenerate fit (all timestamps equal?)")
        a[c], a[piv] = a[piv], a[c]
        f = a[c][c]
        a[c] = [v / f for v in a[c]]
        for r in range(p):
            if r != c and a[r][c] != 0.0:
                g = a[r][c]
                a[r] = [v - g * w for v, w in zip(a[r], a[c], strict=True)]
    return [row[p:] for row in a]


def _first_crossing(f: Callable[[float], float], horizon: float) -> float | None:
    """Smallest tau in [0, horizon] with f(tau) >= 0, or None (geometric scan, bisection)."""
    if f(0.0) >= 0.0:
        return 0.0
    prev = 0.0
    tau = horizon * 1e-4
    while True:
        if f(tau) >= 0.0:
            lo, hi = prev, tau
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                if f(mid) >= 0.0:
                    hi = mid
                else:
                    lo = mid
            return hi
        if tau >= horizon:
            return None
        prev, tau = tau, min(tau * 1.2, horizon)
