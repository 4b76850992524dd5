"""Compare steward.intel.time_to_threshold with Prometheus- and Zabbix-style forecasts.

Usage (from the repository root)::

    .venv/bin/python bench/forecast.py

Synthetic disk-usage scenarios (percent used, one sample every 5 minutes, fixed seeds) with a
known first crossing of the threshold.  Every 6 hours from day 2 until the crossing each method
forecasts the time left; the table gives, per scenario and method:

* ``med err h``: median absolute error of the predicted time left, in hours (a "no trend"
  answer on a scenario that does cross counts as a miss, not as an error);
* ``miss``: fraction of forecasts that said "no crossing" although one was coming;
* ``lead h``: how long before the crossing the forecasts became and stayed within 25 % of the
  true time left (0 = never);
* for the ``no trend`` scenario, ``false`` is the fraction of forecasts that claimed a crossing
  within 30 days;
* ``wander``: 300 six-hour random walks of available memory without drift (the memory
  forecast's window); ``false`` is the fraction called "exhausted within 7 days" (a leak).

Baselines: ``predict_linear 6h`` is Prometheus' ``predict_linear(x[6h], t)`` (least squares over
the last 6 hours, extrapolated); ``timeleft all`` is Zabbix' ``timeleft`` (least squares over
all the data given).
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from steward.intel.forecast import ForecastStatus, time_to_threshold

STEP = 300.0
HOUR = 3600.0
DAY = 86400.0
THRESHOLD = 90.0
HORIZON = 30 * DAY


def linear(t: float) -> float:
    return 40.0 + 4.0 * t / DAY


def accelerating(t: float) -> float:
    return 40.0 + 1.0 * t / DAY + 0.45 * (t / DAY) ** 2


def cleanup(t: float) -> float:
    # +3 %/day underlying growth, plus logs growing 6 %/day and rotated away every midnight
    return 35.0 + 3.0 * t / DAY + 6.0 * ((t % DAY) / DAY)


def step(t: float) -> float:
    # slow growth, then a 20 % step (a backup copied in) on day 4 and faster growth after it
    if t < 4 * DAY:
        return 30.0 + 1.0 * t / DAY
    return 54.0 + 5.0 * (t - 4 * DAY) / DAY


def flat(t: float) -> float:
    return 60.0 + 2.0 * math.sin(2 * math.pi * t / DAY)


SCENARIOS: list[tuple[str, Callable[[float], float], float]] = [
    ("linear", linear, 0.3),
    ("accelerating", accelerating, 0.3),
    ("periodic clean-up", cleanup, 0.3),
    ("step", step, 0.3),
    ("noisy linear", linear, 3.0),
    ("no trend", flat, 1.0),
]


def ols(ts: list[float], ys: list[float]) -> tuple[float, float]:
    """Slope and value at the last timestamp of a least-squares line."""
    n = len(ts)
    mt = sum(ts) / n
    my = sum(ys) / n
    sxx = sum((t - mt) ** 2 for t in ts)
    slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / sxx
    return slope, my + slope * (ts[-1] - mt)


def left_ols(ts: list[float], ys: list[float]) -> float | None:
    slope, now = ols(ts, ys)
    if now >= THRESHOLD:
        return 0.0
    if slope <= 0:
        return None
    left = (THRESHOLD - now) / slope
    return left if left <= HORIZON else None


def predict_linear_6h(ts: list[float], ys: list[float]) -> float | None:
    k = next(i for i, t in enumerate(ts) if t >= ts[-1] - 6 * HOUR)
    return left_ols(ts[k:], ys[k:])


def timeleft_all(ts: list[float], ys: list[float]) -> float | None:
    return left_ols(ts, ys)


def steward(ts: list[float], ys: list[float]) -> float | None:
    fc = time_to_threshold(ts, ys, THRESHOLD)
    if fc.status in (ForecastStatus.CROSSING, ForecastStatus.ALREADY_CROSSED):
        assert fc.seconds is not None
        return fc.seconds if fc.seconds <= HORIZON else None
    return None


METHODS: list[tuple[str, Callable[[list[float], list[float]], float | None]]] = [
    ("steward", steward),
    ("predict_linear 6h", predict_linear_6h),
    ("timeleft all", timeleft_all),
]


def run() -> None:
    print(f"{'scenario':18} {'method':18} {'med err h':>9} {'miss':>5} {'lead h':>7}  note")
    for idx, (name, fn, noise) in enumerate(SCENARIOS):
        rng = random.Random(1000 + idx)
        n = int(20 * DAY / STEP)
        ts = [i * STEP for i in range(n)]
        clean = [fn(t) for t in ts]
        ys = [v + rng.gauss(0.0, noise) for v in clean]
        cross = next((t for t, v in zip(ts, clean, strict=True) if v >= THRESHOLD), None)
        end = cross if cross is not None else 14 * DAY
        evals = [t for t in ts if 2 * DAY <= t < end and t % (6 * HOUR) == 0]
        for mname, method in METHODS:
            errs: list[float] = []
            miss = 0
            false = 0
            good_since: float | None = None
            for now in evals:
                k = int(now / STEP) + 1
                left = method(ts[:k], ys[:k])
                if cross is None:
                    false += left is not None
                    continue
                truth = cross - now
                if left is None:
                    miss += 1
                    good_since = None
                    continue
                errs.append(abs(left - truth) / HOUR)
                ok = abs(left - truth) <= 0.25 * truth
                good_since = (good_since if good_since is not None else now) if ok else None
            if cross is None:
                note = f"false {false / len(evals):.2f} (crossings claimed within 30 d)"
                print(f"{name:18} {mname:18} {'-':>9} {'-':>5} {'-':>7}  {note}")
                continue
            med = sorted(errs)[len(errs) // 2] if errs else math.nan
            lead = (cross - good_since) / HOUR if good_since is not None else 0.0
            print(
                f"{name:18} {mname:18} {med:9.1f} {miss / len(evals):5.2f} {lead:7.1f}  "
                f"crossing at day {cross / DAY:.1f}, {len(evals)} forecasts"
            )


def wander(seed: int) -> tuple[list[float], list[float]]:
    """Six hours of available memory (GiB of 32) as a driftless random walk: 0.2 % steps
    every 10 s, averaged per minute, as the memory forecast reads it."""
    rng = random.Random(seed)
    used, ts, ys, minute = 0.5, [], [], []
    for k in range(6 * 360):
        used = min(max(used + rng.gauss(0.0, 0.002), 0.1), 0.95)
        minute.append(32.0 * (1.0 - used))
        if len(minute) == 6:
            ts.append(k * 10.0)
            ys.append(sum(minute) / 6)
            minute = []
    return ts, ys


def run_wander(walks: int = 300) -> None:
    """How often each method calls a wander a leak: "exhausted within 7 days"."""
    claims = {name: 0 for name, _ in METHODS}
    for seed in range(walks):
        ts, ys = wander(seed)
        rising = [THRESHOLD - y for y in ys]  # free memory reaching 0 = this reaching THRESHOLD
        for name, method in METHODS:
            left = method(ts, rising)
            claims[name] += left is not None and left < 7 * DAY
    print()
    print(f"wander: {walks} six-hour random walks of available memory, no drift")
    for name, count in claims.items():
        print(f"{'wander':18} {name:18} false {count / walks:.2f} (exhaustion claimed within 7 d)")


if __name__ == "__main__":
    run()
    run_wander()
