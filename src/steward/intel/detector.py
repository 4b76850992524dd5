"""Streaming anomaly detection for one univariate series.

Each call to :meth:`StreamDetector.update` scores one new sample from the state built from the
earlier samples (and that sample alone), then learns from it: scores are causal, and the state
is a fixed set of numbers (about 620) that serialises exactly to JSON or bytes.

Two time scales and a week (state format 8)
-------------------------------------------
A :class:`StreamDetector` is two :class:`SingleScaleDetector` s and a :class:`WeeklyView`: one
detector judges every sample, the other the mean of each block of :data:`COARSE_BLOCK` (12)
samples, when the block completes, and the weekly view judges the same block mean against the
same hour of the week (it speaks only on series with a weekly pattern).  The verdict is the
most surprising of them.  Averaging 12 samples divides the noise by about
3.5, so a change that is small against single-sample noise but lasts (a burst of tweets, a
disk getting slowly busier, a service answering a little slower for an hour) stands out in the
block means as a spike stands out in the samples; no view of one sample could see it without
alarming on ordinary noise too.  On nab-dev this found 4 of the 8 windows the single scale
missed (56 of 60), for 17 more false-positive rows, and raised the cross-validated NAB score
(random halvings, each half at the other half's thresholds) from 70.34 / 62.76 / 74.45 to
76.18 / 68.52 / 80.76 (standard / low FP / low FN); see bench/nab.py and docs/intelligence.md.
Each scale keeps its own episodes (sharing them lost 0.7-2.1 points), so a change that both see
may alarm once at each.  The weekly view finds a busy Saturday or a dead Wednesday on an office
server, which no daily profile can, and moves NAB a little (76.97 / 70.54 / 81.26 on the same
halvings).  The rest of this docstring describes one scale.

How a sample is judged
----------------------
Four views of "how far is this sample from what was expected", each a non-negative number:

* ``spike``: distance from a fast exponentially weighted level, in units of the mean absolute
  one-step residual;
* ``shift``: the mean of the last :data:`SHIFT_SPAN` residuals (a sustained offset, i.e. a level
  shift), same units;
* ``seasonal``: distance from a slow level plus a learned time-of-day profile (24 hourly
  buckets, keyed by the sample's timestamp), in units of that model's mean absolute residual.
  On a series without a daily cycle the profile stays near zero and this is simply a slow-level
  deviation;
* ``variance``: ``|log(short-term / long-term mean absolute residual)|``, which catches a
  flatline (variability collapses) as well as a burst of noise.

Each view is turned into a surprise ``-log10(p)`` by its own peaks-over-threshold tail model
(Siffer et al., "Anomaly detection in streams with extreme value theory", KDD 2017): a tracked
97 % quantile of ``log1p(view)`` plus a generalised Pareto tail fitted by the method of moments
to the exceedances (slow exponential forgetting).  Samples that are themselves extreme
(surprise >= :data:`LEARN_CAP`) are not learned, so one anomaly does not hide the next.
Since state format 6 each view has three copies of its tail model, which differ only in their
rates: one learns at the tuned quantile step and forgetting rate (:data:`TAIL_STEP`,
:data:`TAIL_ALPHA`), one with the step divided by :data:`TAIL_SPREAD` (1.4) and the forgetting
multiplied by it, one the other way round.  Each copy judges the sample (below), and the median
copy's judgement counts.  This is bagging over the rates the score depends on most: an alarm
onset is a surprise crossing 4, and which borderline events cross depends on exactly how the
97 % quantile has been tracked.  On nab-dev, +-10 % jitters of the detector's nine rates cost
format 5 about 5.5 points (standard, random halvings: 70.16 as tuned, 64.65 on average), and
format 6 about 2.8 (70.34 as tuned, 67.52 on average); with only the seven non-tail rates
jittered, 62.11 against 66.79, so the copies make the detector less fragile in the other rates
too (bench/_nabens.py has all three profiles and two more jitter sets).  The cost: three times
the tail arithmetic (about 1.5 times format 5's time per sample) and 256 more bytes of state.
A sustained step is surprising for somewhat less long: in tests/insights' CPU scenario
(10-second samples, 20 % to 95 %) the undamped score stays above 0.5 for about 3.5 minutes,
where format 5's tuned tail happened to put the step beyond its fitted end point for 4-5.
Two corrections follow (state format 3, extended in formats 4 and 5).  A deviation no larger than
:data:`DAILY_TOLERANCE` times the largest one seen in the same hour on earlier days (that memory
decays by :data:`DAILY_DECAY` a day) counts as a recurring daily event and gets no surprise.
Format 3 kept that memory for the seasonal view only: a nightly job's five-minute spike is too
short for the hourly profile to learn, and too large for the tail to learn, so it used to alarm
every night.  Format 4 keeps it for the level-shift and variance views too: a backup or a batch
job that lifts a metric (or makes it noisy) for a while at the same hour each day is just as
much "known" whichever view notices it.  Format 5 gives the spike view a daily memory too, but
uses it only for an hour that stands out: one whose remembered largest spike is at least
:data:`SPIKE_SPECIAL` times the median hour's (re-computed once a day).  A plain spike memory
would blind that view on a spiky series, where nearly every hour has seen a large
single-sample spike on some earlier day and so no hour is special; a nightly job's spike makes
its hour special, and format 4 alarmed on it on nearly every night.  The memories are kept to
1/1024 (two bytes a value).
And the spike view's surprise is weighted by :data:`SPIKE_WEIGHT` (0.8): a lone spike must be a
one-in-100,000 event to alarm, where the other views need one in 10,000, because single-sample
spikes are the commonest benign event in operations data.  A tail copy's surprise is the
largest of the (weighted) four, and the sample's surprise ``S`` is the median of the three
copies'; the score is ``1 - 2**(-S/4)``, so ``S = 4`` maps to 0.5, the alarm level.  The pattern
names the median copy's most surprised view before weighting.

One episode is flagged once (hysteresis): a sample whose surprise reaches
:data:`ALARM_SURPRISE` while the detector is armed opens an episode and keeps its full score;
until :data:`REARM` *calm* samples in a row follow (calm: ``S == 0``, i.e. no view is above its
tracked 97 % quantile, or only views whose daily memory knows the deviation), every score is
multiplied by :data:`EPISODE_DAMP`, so later samples of the same episode stay well under the
alarm level.  This replaced an earlier rule that halved any score not above a decaying peak of
past surprises: that rule let a saturated repeat (score ~0.92, halved ~0.46) sit just under the
alarm level, and it re-fired as soon as the peak had decayed, whether or not the series had
calmed down.  Longer episodes (REARM of 30 and
more) lose anomaly onsets that follow an earlier alarm closely (measured on nab-dev, see
bench/nab.py), so the refractory stays short.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["COARSE_BLOCK", "PATTERNS", "SingleScaleDetector", "StreamDetector", "Verdict"]

# Tuned once on nab-dev (see bench/nab.py); kept few on purpose.
LEVEL_ALPHA = 0.2  # fast level (spike view)
SCALE_ALPHA = 0.01  # mean absolute residual of the fast level
SLOW_ALPHA = 0.01  # slow level under the daily profile
PROFILE_ALPHA = 0.1  # per-bucket learning rate of the daily profile
SEASON_SCALE_ALPHA = 0.01
VAR_FAST_ALPHA = 0.1  # short-term variability
VAR_SLOW_ALPHA = 0.005  # long-term variability
SHIFT_SPAN = 8  # samples averaged by the level-shift view
TAIL_Q = 0.97  # quantile above which the tail is modelled
TAIL_STEP = 0.02  # quantile tracker step, in log1p units
TAIL_ALPHA = 0.0005  # forgetting of the tail fit (per sample)
TAIL_MIN = 100  # samples a tail needs before it reports surprise
LEARN_CAP = 6.0  # surprise at or above which a sample is not learned by the tails
WARMUP = 20  # samples before the tails start learning
ALARM_SURPRISE = 4.0  # score 0.5
REARM = 20  # calm samples in a row (no view above its 97 % quantile) that end an episode
EPISODE_DAMP = 0.25  # score factor for samples inside an episode (after its onset)
SPIKE_WEIGHT = 0.8  # the spike view alarms only at 1e-5 (surprise 5), the others at 1e-4
DAILY_DECAY = 0.9  # per day, of the remembered largest deviation of each hour (and view)
DAILY_TOLERANCE = 1.2  # a deviation within this factor of that memory is "known"
# The spike view's daily memory is used only for an hour whose remembered largest spike is at
# least this many times the median hour's.  A nightly five-minute spike of 20 noise units on a
# daily-cycling series alarmed on 50-60 of 60 nights in format 4 and on none with 2.0 (see
# tests/intel/test_detector_format5.py), while nab-dev moved by less than its noise (standard:
# dev 72.35 -> 72.26, random halvings 70.26 -> 70.16, those averaged over 6 rate jitters
# 65.25 -> 64.65; bench/_nabdet4.py).  1.5 lets ordinary hours of spiky files pass as special
# (dev 70.69).
SPIKE_SPECIAL = 2.0
TAIL_SPREAD = 1.4  # rate factor between the three copies of each tail model (format 6)
BUCKETS = 24  # hourly time-of-day buckets
MEM_QUANT = 1024.0  # the daily memories are multiples of 1/1024 (stored as 2-byte integers)
_MEM_MAX = 65535
DAY = 86400.0
BAND_WIDTH = 4.0  # half-width of the reported expected band, in mean absolute residuals
# A second detector judges the mean of each block of this many samples (format 8; an hour of
# NAB's 5-minute samples, 2 minutes of the agent's 10-second ones).  Averaging divides the noise
# by about sqrt(12), so a moderate change that lasts (a burst of tweets, a slow climb) becomes as
# clear as a spike.  bench/nab.py, random halvings of nab-dev scored at the other half's
# thresholds, standard profile: 70.34 with one scale, 76.18 with blocks of 12 (8: 73.93, 10:
# 75.19, 14: 76.22, 16: 75.68, 20: 70.90, 24: 72.66); averaged over three independent sets of
# +-10 % jitters of the rates, +5.4 to +6.9.
COARSE_BLOCK = 12
# Format 8: the weekly view (WeeklyView) judges each block mean against the same hour of the
# week, once the detector has seen WEEKLY_AFTER of data, and only while the week explains the
# series better than the day does (WEEKLY_GAIN, see WeeklyView).
WEEKLY_AFTER = 8 * 86400.0
WEEKLY_GAIN = 0.7

PATTERNS = (
    "normal",
    "spike above expected band",
    "spike below expected band",
    "level shift up",
    "level shift down",
    "seasonal deviation",
    "flatline",
    "variance burst",
    "weekly deviation",
)

_LN10 = math.log(10.0)
_TAIL_BASE = -math.log(1.0 - TAIL_Q)
_TAIL_RATE = 1.0 / (1.0 - TAIL_Q)
_FORMAT_VERSION = 6
_OLD_FORMATS = (5, 4)  # still loaded: their one tail per view seeds all three copies
_TAIL_COPIES = 3
_COPY_OFFSETS = (0, 16, 32)  # of each copy's four tails in ``tail``
_MEM_VIEWS = 3  # daily memories: level shift, seasonal, variance (the spike view's is separate)
_N_TAIL = 4
# Scalars in a fixed order: the serialised layout (bytes) and the JSON keys.
_SCALARS = (
    "level",
    "scale",
    "slow",
    "season_scale",
    "var_fast",
    "var_slow",
    "shift_sum",
    "quiet",
    "last_time",
    "day",
)


@dataclass(slots=True)
class Verdict:
    """The judgement of one sample.

    ``score`` is in [0, 1]; 0.5 is the alarm level.  ``is_anomaly`` is true only when the score
    reaches the alarm level *and* the sample opens an episode (the rest of an episode is
    damped, see the module docstring).  ``expected_low``/``expected_high`` bound the value the model
    expected (in the series' own units); ``pattern`` is one of :data:`PATTERNS`, naming the view
    that was most surprised; ``confidence`` is ``1 - p`` of that view's tail model (0 while the
    detector is still learning).  ``span`` is the number of samples judged: 1, or
    :data:`COARSE_BLOCK` when the mean of the last block of samples was the more surprising, in
    which case ``observed`` is that mean and the band is the band of such means.
    """

    score: float
    is_anomaly: bool
    observed: float
    expected_low: float
    expected_high: float
    pattern: str
    confidence: float
    span: int = 1


def _surprise(g: float, tail: list[float], i: int) -> float:
    """-log10 of the tail probability of ``g`` (a log1p view) under tail model ``i``."""
    if tail[i + 3] < TAIL_MIN:
        return 0.0
    ex = g - tail[i]
    if ex <= 0.0:
        return 0.0
    me = tail[i + 1]
    var = tail[i + 2] - me * me
    if var <= 1e-12 or me <= 1e-12:
        return (_TAIL_BASE + 30.0) / _LN10 if me <= 1e-12 else (_TAIL_BASE + ex / me) / _LN10
    r = me * me / var
    xi = 0.5 * (1.0 - r)  # method-of-moments GPD shape and scale
    sig = 0.5 * me * (r + 1.0)
    if xi > 0.02:
        return (_TAIL_BASE + math.log1p(xi * ex / sig) / xi) / _LN10
    if xi < -0.02:
        xi = max(xi, -0.5)
        v = 1.0 + xi * ex / sig
        if v <= 1e-12:  # beyond the fitted upper end point
            return (_TAIL_BASE + 30.0) / _LN10
        return (_TAIL_BASE + math.log(v) / xi) / _LN10
    return (_TAIL_BASE + ex / sig) / _LN10


def _learn(g: float, tail: list[float], i: int, rates: tuple[float, float, float]) -> None:
    """Learn ``g`` into tail model ``i`` at ``rates`` (quantile step up and down, forgetting)."""
    n = tail[i + 3] + 1.0
    tail[i + 3] = n
    ex = g - tail[i]
    if ex > 0.0:
        tail[i] += rates[0]
        if n > _TAIL_RATE:
            b = max(rates[2], 1.0 / n) * _TAIL_RATE
            tail[i + 1] += b * (ex - tail[i + 1])
            tail[i + 2] += b * (ex * ex - tail[i + 2])
    else:
        tail[i] -= rates[1]


def _tail_rates() -> tuple[tuple[int, float, float, float], ...]:
    """Per tail copy: its offset in ``tail``, quantile step up and down, and forgetting rate.

    The first copy learns at the tuned rates, the other two with the quantile step and the
    forgetting spread by :data:`TAIL_SPREAD` in opposite directions.  Read from the module
    constants when a detector is built (the rates are not part of the state), so a tuning
    script that changes them at runtime (bench/_nab*.py) gets its own rates; the result is
    memoised on the values of those constants, because the scoring job restores a detector
    per series per run and computing them was a third of restoring one.
    """
    return _rates_for(TAIL_STEP, TAIL_ALPHA, TAIL_SPREAD, TAIL_Q, _COPY_OFFSETS)


@functools.lru_cache(maxsize=8)
def _rates_for(
    step: float, alpha: float, spread: float, q: float, offsets: tuple[int, ...]
) -> tuple[tuple[int, float, float, float], ...]:
    out = []
    for o, (s, a) in zip(
        offsets,
        (
            (step, alpha),
            (step * (1.0 / spread), alpha * spread),
            (step * spread, alpha * (1.0 / spread)),
        ),
        strict=True,
    ):
        out.append((o, s * q, s * (1.0 - q), a))
    return tuple(out)


class SingleScaleDetector:
    """The detector at one time scale: the four views, their tails, episodes (module docstring).

    :class:`StreamDetector` runs two of them, one on the samples and one on their block means.

    ``update(timestamp, value)`` takes the timestamp in seconds since the epoch (UTC; only used
    for the time-of-day profile and its daily memory) and a finite float.  State size is fixed
    (1137 bytes); use :meth:`to_bytes`/:meth:`from_bytes` or :meth:`to_json`/:meth:`from_json`
    to persist it, and scoring continues identically after a round trip.
    """

    __slots__ = (
        *_SCALARS,
        "count",
        "daily_max",
        "profile",
        "profile_count",
        "rates",
        "ring",
        "spike_bar",
        "spike_daily",
        "spike_today",
        "tail",
        "today_max",
    )

    def __init__(self) -> None:
        self.count = 0
        self.level = 0.0
        self.scale = 0.0
        self.slow = 0.0
        self.season_scale = 0.0
        self.var_fast = 0.0
        self.var_slow = 0.0
        self.shift_sum = 0.0
        self.quiet = float(REARM)
        self.last_time = 0.0
        self.day = 0.0
        self.ring = [0.0] * SHIFT_SPAN
        self.profile = [0.0] * BUCKETS
        self.profile_count = [0] * BUCKETS
        # largest deviation (log1p view) seen in each hour by the level-shift, seasonal and
        # variance views (in that order, BUCKETS values each): today, and on earlier days
        # (decayed by DAILY_DECAY a day)
        self.today_max = [0.0] * (_MEM_VIEWS * BUCKETS)
        self.daily_max = [0.0] * (_MEM_VIEWS * BUCKETS)
        # the same for the spike view (format 5), used only in an hour that stands out: one
        # whose memory reaches spike_bar (SPIKE_SPECIAL times the median hour's, re-computed
        # from spike_daily at each new day, so it is not stored)
        self.spike_today = [0.0] * BUCKETS
        self.spike_daily = [0.0] * BUCKETS
        self.spike_bar = 0.0
        # per view: tracked quantile, mean excess, mean squared excess, samples learned
        # (format 6: three copies of the four, learning at the rates of _tail_rates())
        self.tail = [0.0, 0.1, 0.02, 0.0] * (_N_TAIL * _TAIL_COPIES)
        self.rates = _tail_rates()

    def update(self, timestamp: float, value: float) -> Verdict:
        """Score ``value`` observed at ``timestamp``, then learn from it."""
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"value must be finite, got {value!r}")
        n = self.count
        self.count = n + 1
        self.last_time = t = float(timestamp)
        b = int((t % DAY) * (BUCKETS / DAY)) % BUCKETS
        day = float(math.floor(t / DAY))
        if n == 0:
            self.level = self.slow = x
            self.day = day
            return Verdict(0.0, False, x, x, x, "normal", 0.0)

        level = self.level
        slow = self.slow
        sc = self.scale + 1e-9 * abs(level) + 1e-12
        r = x - level
        d = abs(r)
        ring = self.ring
        k = n % SHIFT_SPAN
        shift = self.shift_sum + r - ring[k]
        self.shift_sum = shift
        ring[k] = r
        pred = slow + self.profile[b]
        rs = x - pred
        ss = self.season_scale
        seasoned = self.profile_count[b] > 3
        vf = self.var_fast
        vsl = self.var_slow

        g0 = math.log1p(d / sc)
        g1 = math.log1p(abs(shift) / (sc * SHIFT_SPAN))
        g2 = math.log1p(abs(rs) / (ss + 1e-12)) if seasoned else 0.0
        g3 = math.log1p(abs(math.log((vf + sc * 1e-3) / (vsl + sc * 1e-3))))
        if day != self.day:
            self._new_day(day)
        # each view's surprise under each copy of its tail model (format 6), then each copy
        # learns unless the sample is extreme for it
        tail = self.tail
        # (inlined for speed: a sample at or under a tail's tracked quantile, the common case,
        # has no surprise and only moves the quantile down)
        learn = n > WARMUP
        gs = (g0, g1, g2, g3)
        copies = []
        hot = False  # any surprise at all
        for rates in self.rates:
            i = rates[0]
            sv = [0.0, 0.0, 0.0, 0.0]
            for v in range(_N_TAIL):
                g = gs[v]
                q = tail[i]
                if g > q:
                    if tail[i + 3] >= TAIL_MIN:
                        sv[v] = _surprise(g, tail, i)
                        hot = True
                    if learn and sv[v] < LEARN_CAP:
                        _learn(g, tail, i, rates[1:])
                elif learn:
                    tail[i + 3] += 1.0
                    tail[i] = q - rates[2]
                i += 4
            copies.append(sv)
        # A deviation about as large as one seen in the same hour on an earlier day is a
        # recurring daily event (a nightly job, a backup), not news: the hourly profile is too
        # coarse to learn a five-minute daily spike, and the tails do not learn samples beyond
        # LEARN_CAP, so without this the same event alarms every night.  On nab-dev the seasonal
        # memory (format 3) took ec2_cpu_utilization_24ae8d and _c6585a from 23 false alarms to
        # 6; the level-shift and variance memories (format 4) raise all three profiles on all of
        # nab-dev and on each half at the other half's thresholds.  The tails above still learn
        # from the raw surprise.
        # The spike view's memory counts only in an hour that stands out (see SPIKE_SPECIAL): a
        # spiky series has large spikes in every hour, and a memory of them all would blind it.
        known = self.spike_daily[b]
        k0 = known > 0.0 and known >= self.spike_bar and g0 <= DAILY_TOLERANCE * known
        if g0 > self.spike_today[b]:
            self.spike_today[b] = _mem(g0)
        daily = self.daily_max
        today = self.today_max
        i2 = BUCKETS + b
        i3 = i2 + BUCKETS
        k1 = g1 <= DAILY_TOLERANCE * daily[b]
        k2 = g2 <= DAILY_TOLERANCE * daily[i2]
        k3 = g3 <= DAILY_TOLERANCE * daily[i3]
        if g1 > today[b]:
            today[b] = _mem(g1)
        if g2 > today[i2]:
            today[i2] = _mem(g2)
        if g3 > today[i3]:
            today[i3] = _mem(g3)
        # learn the models
        if n < WARMUP:
            self.scale += (d - self.scale) / n
        else:
            self.scale += SCALE_ALPHA * (min(d, 5.0 * sc) - self.scale)
        self.var_fast = vf + VAR_FAST_ALPHA * (d - vf)
        self.var_slow = vsl + VAR_SLOW_ALPHA * (d - vsl)
        self.level = level + LEVEL_ALPHA * r
        slow += SLOW_ALPHA * (x - slow)
        self.slow = slow
        self.season_scale = ss + SEASON_SCALE_ALPHA * (abs(rs) - ss)
        self.profile[b] += PROFILE_ALPHA * (x - slow - self.profile[b])
        if not seasoned:
            self.profile_count[b] += 1

        # combine: each copy's surprise is the largest of its views after weighting (and after
        # the daily memories), and the sample's is the median copy's.  Single-sample spikes are
        # the commonest benign event in operations data, so the spike view needs a tail
        # probability ten times smaller than the others to raise an alarm (SPIKE_WEIGHT; on
        # nab-dev: fewer false alarms in 9 files, no window lost).  The median copy's most
        # surprised view names the pattern.
        if hot:
            ranked = []
            for s0, s1, s2, s3 in copies:
                if k0:
                    s0 = 0.0
                if k1:
                    s1 = 0.0
                if k2:
                    s2 = 0.0
                if k3:
                    s3 = 0.0
                ranked.append((max(SPIKE_WEIGHT * s0, s1, s2, s3), s0, s1, s2, s3))
            ranked.sort()
            s, s0, s1, s2, s3 = ranked[1]
        else:
            s = s0 = s1 = s2 = s3 = 0.0
        top = s0
        view = 0
        if s1 > top:
            top, view = s1, 1
        if s2 > top:
            top, view = s2, 2
        if s3 > top:
            view = 3
        # episodes: an alarm opens one, and it lasts until REARM calm samples in a row
        score = 1.0 - 2.0 ** (-s / ALARM_SURPRISE)
        quiet = self.quiet
        onset = False
        if quiet >= REARM:
            if s >= ALARM_SURPRISE:
                onset = True
                self.quiet = 0.0
        else:
            score *= EPISODE_DAMP
            self.quiet = quiet + 1.0 if s <= 0.0 else 0.0
        if s <= 0.0:
            return Verdict(
                score, False, x, pred - BAND_WIDTH * ss, pred + BAND_WIDTH * ss, "normal", 0.0
            )
        if view == 0:
            pattern = PATTERNS[1] if r > 0 else PATTERNS[2]
        elif view == 1:
            pattern = PATTERNS[3] if shift > 0 else PATTERNS[4]
        elif view == 2:
            pattern = PATTERNS[5]
        else:
            pattern = PATTERNS[6] if vf < vsl else PATTERNS[7]
        if view == 2:
            low, high = pred - BAND_WIDTH * ss, pred + BAND_WIDTH * ss
        else:
            low, high = level - BAND_WIDTH * sc, level + BAND_WIDTH * sc
        return Verdict(
            score,
            onset,
            x,
            low,
            high,
            pattern,
            1.0 - 10.0 ** (-s),
        )

    def _new_day(self, day: float) -> None:
        """Fold today's hourly maxima into the decayed memory of earlier days (all views)."""
        self.day = day
        _fold(self.daily_max, self.today_max)
        _fold(self.spike_daily, self.spike_today)
        self._set_spike_bar()

    def _set_spike_bar(self) -> None:
        """The level an hour's spike memory must reach to count (a function of spike_daily)."""
        self.spike_bar = SPIKE_SPECIAL * sorted(self.spike_daily)[BUCKETS // 2]

    # --- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible snapshot of the full state (floats round-trip exactly)."""
        out: dict[str, Any] = {"version": _FORMAT_VERSION, "count": self.count}
        for name in _SCALARS:
            out[name] = getattr(self, name)
        out["ring"] = list(self.ring)
        out["profile"] = list(self.profile)
        out["profile_count"] = list(self.profile_count)
        out["tail"] = list(self.tail)
        out["today_max"] = list(self.today_max)
        out["daily_max"] = list(self.daily_max)
        out["spike_today"] = list(self.spike_today)
        out["spike_daily"] = list(self.spike_daily)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SingleScaleDetector:
        """Restore a state of this format, or of format 5 or 4 (see :meth:`from_bytes`)."""
        version = data.get("version")
        if version != _FORMAT_VERSION and version not in _OLD_FORMATS:
            raise ValueError(f"unsupported detector state version {version!r}")
        det = cls()
        det.count = int(data["count"])
        for name in _SCALARS:
            setattr(det, name, float(data[name]))
        det.ring = _floats(data["ring"], SHIFT_SPAN)
        det.profile = _floats(data["profile"], BUCKETS)
        det.profile_count = [int(v) for v in data["profile_count"]]
        if version == _FORMAT_VERSION:
            det.tail = _floats(data["tail"], 4 * _N_TAIL * _TAIL_COPIES)
        else:
            det.tail = _floats(data["tail"], 4 * _N_TAIL) * _TAIL_COPIES
        det.today_max = [_mem(v) for v in _floats(data["today_max"], _MEM_VIEWS * BUCKETS)]
        det.daily_max = [_mem(v) for v in _floats(data["daily_max"], _MEM_VIEWS * BUCKETS)]
        if len(det.profile_count) != BUCKETS:
            raise ValueError("detector state: profile_count has the wrong length")
        if version != _OLD_FORMATS[-1]:
            det.spike_today = [_mem(v) for v in _floats(data["spike_today"], BUCKETS)]
            det.spike_daily = [_mem(v) for v in _floats(data["spike_daily"], BUCKETS)]
            det._set_spike_bar()
        return det

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> SingleScaleDetector:
        return cls.from_dict(json.loads(text))

    def to_bytes(self) -> bytes:
        """Compact binary snapshot (little-endian doubles, 2-byte daily memories; 1137 bytes).

        The layout is format 5's (the first tail copy where format 5 kept its one tail) followed
        by the other two tail copies.
        """
        # This and from_bytes run once per series per scoring run, which feeds a series a few
        # samples: per-value Python loops here cost about as much as the three updates.
        tail = self.tail
        counts = self.profile_count  # they stop at 4 (seasoned); a byte holds 255
        if max(counts, default=0) > 255:
            counts = [min(c, 255) for c in counts]
        return b"".join(
            (
                _HEAD.pack(
                    _FORMAT_VERSION,
                    self.count,
                    *_scalars_of(self),
                    *self.ring,
                    *self.profile,
                    *counts,
                    *tail[:_TAIL_ONE],
                ),
                _to_quanta(self.today_max + self.daily_max + self.spike_today + self.spike_daily),
                _TAIL2.pack(*tail[_TAIL_ONE:]),
            )
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> SingleScaleDetector:
        """Restore a state of this format, or of format 5 or 4; any other blob raises ValueError.

        Format 5 is the same layout without the two extra tail copies at the end, and format 4
        is format 5 without the spike view's two memories, so a stored state survives the
        upgrade and keeps what it learned: its one tail per view seeds all three copies (which
        drift apart as they learn at their own rates), and a format-4 state's spike memory
        starts empty.
        """
        mems, size = _LAYOUTS.get(blob[0], (0, -1)) if blob else (0, -1)
        if len(blob) != size:
            raise ValueError("not a StreamDetector state of this version")
        f = _HEAD.unpack_from(blob)
        det = cls._restoring()
        det.count = f[1]
        # the scalars in _SCALARS order (spelt out: a setattr loop costs a tenth of a restore)
        (
            det.level,
            det.scale,
            det.slow,
            det.season_scale,
            det.var_fast,
            det.var_slow,
            det.shift_sum,
            det.quiet,
            det.last_time,
            det.day,
        ) = f[2:_AT_RING]
        det.ring = list(f[_AT_RING:_AT_PROFILE])
        det.profile = list(f[_AT_PROFILE:_AT_COUNT])
        det.profile_count = list(f[_AT_COUNT:_AT_TAIL])
        # the memories: v / MEM_QUANT for each stored count v, exactly (as Python floats)
        mem = (np.frombuffer(blob, _QUANTA, mems, _HEAD.size) / MEM_QUANT).tolist()
        m = _MEM_VIEWS * BUCKETS
        det.today_max = mem[:m]
        det.daily_max = mem[m : 2 * m]
        if mems == 2 * m:  # format 4
            det.spike_today = [0.0] * BUCKETS
            det.spike_daily = [0.0] * BUCKETS
            det.spike_bar = 0.0
        else:
            det.spike_today = mem[2 * m : 2 * m + BUCKETS]
            det.spike_daily = mem[2 * m + BUCKETS :]
            det._set_spike_bar()
        if f[0] == _FORMAT_VERSION:
            det.tail = [*f[_AT_TAIL:], *_TAIL2.unpack_from(blob, _HEAD.size + 2 * mems)]
        else:
            det.tail = list(f[_AT_TAIL:]) * _TAIL_COPIES
        return det

    @classmethod
    def _restoring(cls) -> SingleScaleDetector:
        """An instance for a restore to fill in, without ``__init__``'s fresh state (which the
        restore would throw away; a subclass with its own ``__init__`` still gets it run)."""
        if cls.__init__ is not SingleScaleDetector.__init__:
            return cls()
        det = cls.__new__(cls)
        det.rates = _tail_rates()
        return det


# The byte layout, in three parts: the version, the count, the scalars, ring, profile, profile
# counts and the first tail copy (format 5's one tail); the daily memories, as 2-byte counts of
# 1/MEM_QUANT (today_max, daily_max, spike_today, spike_daily); the other two tail copies.
# Format 5 is format 6 without the last part, format 4 is format 5 without the spike view's two
# memories (1137, 881 and 785 bytes).
_TAIL_ONE = 4 * _N_TAIL
_HEAD = struct.Struct(f"<BQ{len(_SCALARS)}d{SHIFT_SPAN}d{BUCKETS}d{BUCKETS}B{_TAIL_ONE}d")
_QUANTA = np.dtype("<u2")
_N_MEM = 2 * (_MEM_VIEWS + 1) * BUCKETS
_MEM_STRUCT = struct.Struct(f"<{_N_MEM}H")
_TAIL2 = struct.Struct(f"<{_TAIL_ONE * (_TAIL_COPIES - 1)}d")
# per format: the number of memories stored, and the size
_LAYOUTS = {
    _FORMAT_VERSION: (_N_MEM, _HEAD.size + 2 * _N_MEM + _TAIL2.size),
    5: (_N_MEM, _HEAD.size + 2 * _N_MEM),
    4: (2 * _MEM_VIEWS * BUCKETS, _HEAD.size + 2 * 2 * _MEM_VIEWS * BUCKETS),
}
# where each part of the first starts among its unpacked fields
_AT_RING = 2 + len(_SCALARS)
_AT_PROFILE = _AT_RING + SHIFT_SPAN
_AT_COUNT = _AT_PROFILE + BUCKETS
_AT_TAIL = _AT_COUNT + BUCKETS
_scalars_of = operator.attrgetter(*_SCALARS)


def _to_quanta(values: list[float]) -> bytes:
    """The daily memories packed: ``round(v * MEM_QUANT)`` of each as a little-endian 2-byte
    integer.  Vectorised (NumPy rounds half to even as ``round`` does); what the 2-byte field
    cannot hold (or the wrong number of values) goes the struct way, which raises."""
    q = np.rint(np.fromiter(values, np.float64, len(values)) * MEM_QUANT)
    if len(values) == _N_MEM and _min(q) >= 0.0 and _max(q) <= _MEM_MAX:  # false for NaN
        return q.astype(_QUANTA).tobytes()
    return _MEM_STRUCT.pack(*(round(v * MEM_QUANT) for v in values))


_min = np.minimum.reduce
_max = np.maximum.reduce


def _mem(g: float) -> float:
    """``g`` rounded up to the daily memories' resolution: a multiple of 1/1024 in [0, 64)."""
    if g < _MEM_MAX / MEM_QUANT:  # false for NaN and for huge values
        return max(math.ceil(g * MEM_QUANT), 0) / MEM_QUANT
    return _MEM_MAX / MEM_QUANT


def _fold(daily: list[float], today: list[float]) -> None:
    """Decay ``daily`` by a day (rounding down to the memory's resolution), fold in ``today``.

    Rounding the decayed value down keeps it a multiple of 1/1024, so the two-byte
    serialisation is exact and a restored detector scores identically.
    """
    for i, v in enumerate(today):
        daily[i] = max(math.floor(daily[i] * DAILY_DECAY * MEM_QUANT) / MEM_QUANT, v)
        today[i] = 0.0


def _floats(values: Any, length: int) -> list[float]:
    out = [float(v) for v in values]
    if len(out) != length:
        raise ValueError(f"detector state: expected {length} values, got {len(out)}")
    return out


class WeeklyView:
    """The block means judged against the same hour of the week (part of state format 8).

    The daily profile of a :class:`SingleScaleDetector` cannot tell a Saturday from a Friday:
    on an office server that is busy 9-17 on weekdays, a Saturday as busy as a Friday (a
    miner, a runaway job) or a dead Wednesday (the application down, nobody working) looks
    like an ordinary day, and the weekends' own deviations teach the seasonal view's tail to
    expect large ones.  This view keeps, for each of the 168 hours of the week (UTC), the
    block mean's usual offset from a slow level, and judges a block by its distance from that
    offset, in units of the view's mean absolute error, through a tail model of its own (three
    copies, the median decides, as for the other views).

    It speaks only when the week explains the series: after :data:`WEEKLY_AFTER` of data, and
    while its mean absolute error is under :data:`WEEKLY_GAIN` times that of an hour-of-day
    profile kept beside it for the comparison (both measured before they learn a block).  On a
    series with no weekly pattern the two are about equal and the view stays silent, so it
    adds no false alarms there.  Rates are per unit of time, not per block: each hour of the
    week moves 30 % of the way to a new week's value (an unusual week does not become the
    next week's expectation), and the slow level and the errors follow a week.
    """

    __slots__ = (
        "blocks",
        "day_error",
        "day_profile",
        "day_seen",
        "last",
        "level",
        "quiet",
        "start",
        "tail",
        "week_error",
        "week_profile",
        "week_seen",
    )

    def __init__(self) -> None:
        self.blocks = 0
        self.start = 0.0  # time of the first block
        self.last = 0.0  # time of the last block
        self.level = 0.0
        self.week_error = 0.0
        self.day_error = 0.0
        self.quiet = float(REARM)
        self.week_profile = [0.0] * _WEEK_HOURS
        self.day_profile = [0.0] * BUCKETS
        self.week_seen = [0] * _WEEK_HOURS  # blocks learned per hour (capped at 255)
        self.day_seen = [0] * BUCKETS
        self.tail = [0.0, 0.1, 0.02, 0.0] * _TAIL_COPIES

    def update(self, timestamp: float, x: float) -> Verdict | None:
        """Judge the block mean ``x`` ending at ``timestamp``, then learn it; None while the
        view has nothing to say (too young, an hour not seen yet, or no weekly pattern)."""
        t = float(timestamp)
        week_hour = int(((t + _WEEK_SHIFT) % _WEEK) // 3600.0) % _WEEK_HOURS
        hour = int((t % DAY) // 3600.0) % BUCKETS
        n = self.blocks
        self.blocks = n + 1
        if n == 0:
            self.start = self.last = t
            self.level = x
        dt = min(max(t - self.last, 0.0), 3600.0)
        self.last = t
        level = self.level
        wp, dp = self.week_profile, self.day_profile
        verdict = None
        if self.week_seen[week_hour] and self.day_seen[hour]:
            rw = x - (level + wp[week_hour])
            rd = x - (level + dp[hour])
            we, de = self.week_error, self.day_error
            if t - self.start >= WEEKLY_AFTER:
                verdict = self._judge(x, rw, level + wp[week_hour], we, we < WEEKLY_GAIN * de)
            # the mean so far, then an exponential average over a week
            a = max(1.0 / n, 1.0 - math.exp(-dt / _WEEK))
            self.week_error = we + a * (abs(rw) - we)
            self.day_error = de + a * (abs(rd) - de)
        # learn: 30 % of the way per hour of data (per block when blocks are an hour or longer),
        # each step clipped to the band (BAND_WIDTH errors), so that an unusual week moves next
        # week's expectation by at most about one error
        a = 1.0 - _VISIT_KEEP ** (dt / 3600.0)
        for profile, seen, i, err in (
            (wp, self.week_seen, week_hour, self.week_error),
            (dp, self.day_seen, hour, self.day_error),
        ):
            if seen[i]:
                step = x - level - profile[i]
                bound = BAND_WIDTH * err
                profile[i] += a * (bound if step > bound else -bound if step < -bound else step)
            else:
                profile[i] = x - level
            if seen[i] < 255:
                seen[i] += 1
        self.level = level + (1.0 - math.exp(-dt / _WEEK)) * (x - level)
        return verdict

    def _judge(
        self, x: float, r: float, expected: float, error: float, active: bool
    ) -> Verdict | None:
        g = math.log1p(abs(r) / (error + 1e-9 * abs(expected) + 1e-12))
        tail = self.tail
        surprises = []
        rates = _rates_for(TAIL_STEP, TAIL_ALPHA, TAIL_SPREAD, TAIL_Q, (0, 4, 8))
        for offset, up, down, alpha in rates:
            sv = _surprise(g, tail, offset) if g > tail[offset] else 0.0
            surprises.append(sv)
            if sv < LEARN_CAP:
                _learn(g, tail, offset, (up, down, alpha))
        s = sorted(surprises)[1] if active else 0.0
        score = 1.0 - 2.0 ** (-s / ALARM_SURPRISE)
        onset = False
        if self.quiet >= REARM:
            if s >= ALARM_SURPRISE:
                onset = True
                self.quiet = 0.0
        else:
            score *= EPISODE_DAMP
            self.quiet = self.quiet + 1.0 if s <= 0.0 else 0.0
        if s <= 0.0:
            return None
        return Verdict(
            score,
            onset,
            x,
            expected - BAND_WIDTH * error,
            expected + BAND_WIDTH * error,
            PATTERNS[8],
            1.0 - 10.0 ** (-s),
            COARSE_BLOCK,
        )

    # --- persistence (in StreamDetector's bytes and dict) -------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in _WEEK_SCALARS}
        out["blocks"] = self.blocks
        for name in ("week_profile", "day_profile", "week_seen", "day_seen", "tail"):
            out[name] = list(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WeeklyView:
        view = cls()
        view.blocks = int(data["blocks"])
        for name in _WEEK_SCALARS:
            setattr(view, name, float(data[name]))
        view.week_profile = _floats(data["week_profile"], _WEEK_HOURS)
        view.day_profile = _floats(data["day_profile"], BUCKETS)
        view.tail = _floats(data["tail"], 4 * _TAIL_COPIES)
        view.week_seen = _counts(data["week_seen"], _WEEK_HOURS)
        view.day_seen = _counts(data["day_seen"], BUCKETS)
        return view

    def to_bytes(self) -> bytes:
        return _WEEK_STRUCT.pack(
            self.blocks,
            *(getattr(self, name) for name in _WEEK_SCALARS),
            *self.week_profile,
            *self.day_profile,
            *self.tail,
            *self.week_seen,
            *self.day_seen,
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> WeeklyView:
        f = _WEEK_STRUCT.unpack(blob)
        view = cls.__new__(cls)
        view.blocks = f[0]
        at = 1 + len(_WEEK_SCALARS)
        for name, value in zip(_WEEK_SCALARS, f[1:at], strict=True):
            setattr(view, name, value)
        view.week_profile = list(f[at : at + _WEEK_HOURS])
        at += _WEEK_HOURS
        view.day_profile = list(f[at : at + BUCKETS])
        at += BUCKETS
        view.tail = list(f[at : at + 4 * _TAIL_COPIES])
        at += 4 * _TAIL_COPIES
        view.week_seen = list(f[at : at + _WEEK_HOURS])
        view.day_seen = list(f[at + _WEEK_HOURS :])
        return view


_WEEK = 7 * DAY
_WEEK_HOURS = 168
_WEEK_SHIFT = 3 * DAY  # the epoch began on a Thursday: hour 0 of the week is Monday 00:00 UTC
_VISIT_KEEP = 0.7  # of an hour of the week's profile, per hour of new data in that hour
_WEEK_SCALARS = ("start", "last", "level", "week_error", "day_error", "quiet")
_WEEK_STRUCT = struct.Struct(
    f"<Q{len(_WEEK_SCALARS)}d{_WEEK_HOURS}d{BUCKETS}d{4 * _TAIL_COPIES}d{_WEEK_HOURS}B{BUCKETS}B"
)


def _counts(values: Any, length: int) -> list[int]:
    out = [int(v) for v in values]
    if len(out) != length or not all(0 <= v <= 255 for v in out):
        raise ValueError("detector state: weekly counts out of range")
    return out


class StreamDetector:
    """Online anomaly detector for one series, at two time scales and a week (state format 8).

    One :class:`SingleScaleDetector` judges each sample; a second one judges the mean of each
    block of :data:`COARSE_BLOCK` samples, once the block is complete (at its last sample, and
    with that sample's timestamp), and so does a :class:`WeeklyView`.  A sample's verdict is
    the most surprising: the sample's own, or at a block's last sample the block mean's
    (``span`` then says so, and ``observed`` and the band are the mean's).  Each keeps its own
    episodes, so a change that several see can alarm once in each; the sample is an onset when
    any of them opens an episode.  Everything stays causal: the block mean is of samples up to
    this one.

    ``update(timestamp, value)`` takes the timestamp in seconds since the epoch (UTC; used for
    the time-of-day and hour-of-week profiles and the daily memories) and a finite float.  State
    size is fixed (4164 bytes); use :meth:`to_bytes`/:meth:`from_bytes` or
    :meth:`to_json`/:meth:`from_json` to persist it, and scoring continues identically after a
    round trip.  A state of the single-scale formats 6, 5 and 4 loads as the sample-scale
    detector, with a fresh block-scale detector and weekly view, so an upgrade keeps what each
    series has learned.
    """

    __slots__ = (
        "_coarse",
        "_coarse_blob",
        "_weekly",
        "_weekly_blob",
        "block_mean",
        "block_n",
        "fine",
    )

    def __init__(self) -> None:
        self.fine = SingleScaleDetector()
        self._coarse: SingleScaleDetector | None = SingleScaleDetector()
        # A restored state keeps the block scale as bytes until a block completes: the scoring
        # job restores and saves every series each run but feeds it only a few samples, so in
        # most runs the block scale is neither used nor changed (half the (de)serialising).
        self._coarse_blob = b""
        self.block_mean = 0.0  # sum of value / COARSE_BLOCK over the block so far
        self.block_n = 0
        self._weekly: WeeklyView | None = WeeklyView()
        self._weekly_blob = b""

    @property
    def weekly(self) -> WeeklyView:
        """The weekly view (decoded on first use after a restore, as the block scale)."""
        if self._weekly is None:
            self._weekly = WeeklyView.from_bytes(self._weekly_blob)
        return self._weekly

    @weekly.setter
    def weekly(self, view: WeeklyView) -> None:
        self._weekly = view

    @property
    def coarse(self) -> SingleScaleDetector:
        """The block-scale detector (decoded on first use after a restore)."""
        if self._coarse is None:
            self._coarse = SingleScaleDetector.from_bytes(self._coarse_blob)
        return self._coarse

    @coarse.setter
    def coarse(self, det: SingleScaleDetector) -> None:
        self._coarse = det

    @property
    def count(self) -> int:
        """Samples seen."""
        return self.fine.count

    @property
    def last_time(self) -> float:
        """Timestamp of the last sample."""
        return self.fine.last_time

    def update(self, timestamp: float, value: float) -> Verdict:
        """Score ``value`` observed at ``timestamp``, then learn from it."""
        verdict = self.fine.update(timestamp, value)  # raises on a value that is not finite
        # divided first, so that a block of huge (finite) values cannot overflow to inf
        mean = self.block_mean + float(value) / COARSE_BLOCK
        n = self.block_n + 1
        if n < COARSE_BLOCK:
            self.block_mean, self.block_n = mean, n
            return verdict
        self.block_mean, self.block_n = 0.0, 0
        onset = verdict.is_anomaly
        wide = self.coarse.update(timestamp, mean)
        wide.span = COARSE_BLOCK
        week = self.weekly.update(timestamp, mean)
        for other in (wide,) if week is None else (wide, week):
            onset = onset or other.is_anomaly
            if other.score > verdict.score:
                verdict = other
        verdict.is_anomaly = onset
        return verdict

    # --- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible snapshot of the full state (floats round-trip exactly)."""
        return {
            "version": _COMPOSITE_VERSION,
            "block_mean": self.block_mean,
            "block_n": self.block_n,
            "fine": self.fine.to_dict(),
            "coarse": self.coarse.to_dict(),
            "weekly": self.weekly.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamDetector:
        """Restore a state of this format, or a single-scale one (formats 6, 5, 4)."""
        det = cls()
        if data.get("version") != _COMPOSITE_VERSION:
            det.fine = SingleScaleDetector.from_dict(data)
            return det
        det.fine = SingleScaleDetector.from_dict(data["fine"])
        det.coarse = SingleScaleDetector.from_dict(data["coarse"])
        det.weekly = WeeklyView.from_dict(data["weekly"])
        det._set_block(float(data["block_mean"]), int(data["block_n"]))
        return det

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> StreamDetector:
        return cls.from_dict(json.loads(text))

    def to_bytes(self) -> bytes:
        """Compact binary snapshot: a 10-byte head (the version, the block's count and running
        mean), the two single-scale states (format 6, 1137 bytes each) and the weekly view
        (1880 bytes); 4164 bytes."""
        return b"".join(
            (
                _BLOCK_HEAD.pack(_COMPOSITE_VERSION, self.block_n, self.block_mean),
                self.fine.to_bytes(),
                self._coarse_blob if self._coarse is None else self._coarse.to_bytes(),
                self._weekly_blob if self._weekly is None else self._weekly.to_bytes(),
            )
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> StreamDetector:
        """Restore a state of this format, or a single-scale one (formats 6, 5, 4) as the
        sample-scale detector with a fresh block scale and weekly view; any other blob raises
        ValueError."""
        blob = bytes(blob)
        if not blob or blob[0] != _COMPOSITE_VERSION:
            det = cls()
            det.fine = SingleScaleDetector.from_bytes(blob)
            return det
        det = cls.__new__(cls)  # every part comes from the blob
        if len(blob) != _COMPOSITE_SIZE:
            raise ValueError("not a StreamDetector state of this version")
        _, n, mean = _BLOCK_HEAD.unpack_from(blob)
        at = _BLOCK_HEAD.size
        det.fine = SingleScaleDetector.from_bytes(blob[at : at + _SINGLE_SIZE])
        det._coarse = None
        at += _SINGLE_SIZE
        det._coarse_blob = blob[at : at + _SINGLE_SIZE]
        det._weekly = None
        det._weekly_blob = blob[at + _SINGLE_SIZE :]
        if det._coarse_blob[0] != _FORMAT_VERSION:  # checked now; the rest when it is decoded
            raise ValueError("not a StreamDetector state of this version")
        det._set_block(mean, n)
        return det

    def _set_block(self, mean: float, n: int) -> None:
        if not 0 <= n < COARSE_BLOCK or not math.isfinite(mean):
            raise ValueError("detector state: the block's count or mean is out of range")
        self.block_mean, self.block_n = mean, n


_COMPOSITE_VERSION = 8
_BLOCK_HEAD = struct.Struct("<BBd")
_SINGLE_SIZE = _LAYOUTS[_FORMAT_VERSION][1]
_COMPOSITE_SIZE = _BLOCK_HEAD.size + 2 * _SINGLE_SIZE + _WEEK_STRUCT.size
