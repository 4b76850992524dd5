"""Experiments towards a detector that generalises beyond nab-dev (issue 6; bench only).

The product detector (state format 5) scores 72.3 on nab-dev but ~65 on average over +-10 %
jitters of its rates (``_nabexp.robustness``): the tuned point is a sharp peak, so the score
on unseen files is better guessed by the jittered averages than by dev.  This file tries
ideas aimed at that gap, each judged on the random re-splits ("cv") and on the re-splits
averaged over jitters of the rates ("cv~"), never on dev alone:

* ``copies``/``spread``: a small ensemble of format-5 detectors whose rates are spread
  around the tuned ones (multiplied by ``spread ** p`` with p in {-1, 0, +1} following a fixed
  balanced pattern), combined by the mean (or median) of their surprises before the alarm
  logic.  Bagging over the rates is the direct answer to "the score depends on the exact
  rates": an onset that only one rate setting produces is outvoted.
* ``refractory``: NAB-aware output shaping, a minimum number of samples after an onset
  before the next one may fire, on top of the calm-samples rule.
* ``records``: episodes open at any surprise (not only at an alarm) and a new record inside
  an episode is emitted in full until one reaches the alarm level, so that thresholds under
  0.5 become usable by the optimiser (one detection per episode at any threshold).
* ``novelty``: a "have I seen this shape before" view: the last ``novelty`` one-step
  residuals (asinh of residual / scale) against a reservoir of ``nov_slots`` past windows
  (deterministic reservoir sampling over the whole history); the mean absolute distance to the
  nearest one goes through its own tail model like the other views.

Usage::

    nice -n 10 .venv/bin/python bench/_nabens.py 'copies=3,spread=1.25' [--jitters 5]
        [--offset 10]

prints dev, "cv" (nab.py's 10 random stratified halvings, both ways, one half at the other's
thresholds), "real" (_nabexp.real_splits) and us/sample for this harness (one process; the
product's update() is faster); with ``--jitters N`` the same averaged over the tuned rates
plus N +-10 % jitters of them (seeds 1..N, or offset+1.. with ``--offset``; offset 0 is
_nabexp.robustness's set, so "cv~" matches ``_nabdet4 --jitters 6``).

Results (standard / low FP / low FN; 2026-11-29).  Format 5 as shipped: dev 72.26/65.46/76.51,
cv 70.16/63.30/74.37, real 70.22/63.19/74.50, cv~ 64.65/54.77/69.33 (jitter set 0) and
63.68/54.62/69.33 (set 10); 6.6 us/sample here.

==============================================  =====================  =====================
variant                                         cv                     cv~ set 0 / set 10
==============================================  =====================  =====================
copies=3 spread=1.25 mean                       65.47/56.74/71.43      64.66/53.15/71.46
copies=3 spread=1.15 median                     68.93/59.86/73.70      64.95/56.16/69.53
copies=3 spread=1.2 median                      70.75/61.97/75.16      65.29/56.44/70.74
                                                                       66.61/58.76/71.03
copies=3 spread=1.25 median                     69.56/57.46/74.54      67.04/57.98/71.69
                                                                       66.39/56.07/71.68
copies=3 spread=1.3 median                      68.08/58.62/72.56      - / 65.79/57.12/69.74
copies=3 spread=1.5 median                      65.01/58.48/71.15      64.50/56.16/70.78
tails only, spread=1.2 median                   66.07/59.90/70.88      65.80/58.37/70.67
tails only, spread=1.3 median                   67.90/60.77/71.72      65.91/58.24/70.58
tails only, spread=1.4 median                   70.34/62.76/74.45      67.52/59.58/71.47
                                                                       66.89/59.70/71.54
tails only, spread=1.5 median                   68.26/60.90/72.52      66.08/57.31/70.47
tails only, spread=1.6 median                   67.34/59.67/70.58      64.82/57.76/69.30
copies=3 spread=1.2 median + records            70.79/62.05/74.69      65.46/56.48/71.27
records (one detector)                          70.16/63.30/74.37      64.95/55.21/69.71
refractory=50 / 150 (samples after an onset)    67.25 / 63.04          62.29 / 58.40
novelty=4 nov_slots=8                           70.94/63.35/75.43      65.34/54.60/70.63
novelty=6 / novelty=6 weight 0.8                69.56 / 70.44          not run
==============================================  =====================  =====================

"tails only, spread=1.4": dev 73.84/66.77/78.11, real 71.51/63.69/75.71, real~ (set 0)
68.65/60.73/72.94 against 65.97/55.75/71.28.  Novelty=4: real 71.20/63.46/75.75, real~
66.72/56.14/72.39; 13-22 us/sample for the view alone in this harness (one detector).

What this says: a median of three detectors whose rates are spread around the tuned ones is
the one idea that gains consistently on the jittered averages (+0.6 to +3.2 standard, +1.5 to
+5 low FP, on two independent jitter sets), and the cheapest form spreads only the tails'
TAIL_STEP and TAIL_ALPHA (features computed once; ~4.3 us/sample more for eight extra
surprise+learn calls, +256 bytes of state).  But at the tuned rates (cv) no variant gains
more than +0.8 standard, and the spread is itself a knob with a peak (tails only: cv 66.1 /
67.9 / 70.3 / 68.3 / 67.3 at 1.2 / 1.3 / 1.4 / 1.5 / 1.6, i.e. 2-4 points under format 5
except at 1.4, while cv~ gains only +1.2 to +1.4 standard off 1.4 but +2.5 to +4.8 low FP
throughout).  The mean instead of the median loses.  Refractory periods lose windows that
follow an alarm closely; "records" is identical at the tuned threshold (the optimiser still
picks 0.5035) and within the noise elsewhere.  None met the bar of issue 6 (+2 standard on cv
*and* cv~), so the product detector is unchanged.

Later on 2026-11-29 "tails only, spread=1.4" (median) was adopted as state format 6 (three
copies of each view's tail; the features are computed once): the issue's bar became "better on
cv and on the jittered averages in standard and low FN without hurting low FP", which it meets
on the jitter sets measured.  A third, independent set (jitter seeds 21-25 and re-drawn
halvings, /tmp scratch driver): format 5 cv 70.06/63.26/74.25, cv~ 65.58/55.66/70.59, real~
67.14/57.22/72.32; format 6 cv 70.22/63.46/74.28, cv~ 68.50/59.54/73.60, real~ 70.05/60.67/75.32.
Its weak point: at the tuned rates (cv) spread 1.4 is a peak (1.35: 67.87, 1.45: 68.29
standard), like every tuned rate of this detector.  Variants of format 6 (cv, standard/low
FP/low FN): the median of each view's three surprises instead of the median of the copies'
maxima 70.40/62.83/74.48 (cv~ 67.50/59.62/71.46, the same); spreading only TAIL_STEP
69.87/61.48/74.13, only TAIL_ALPHA 69.57/62.78/73.76; five copies (spread^-2..2) at 1.25
67.15/59.87/71.32 and at 1.4 69.35/64.57/72.69.  Jittering only the seven non-tail rates (tail
rates as tuned; set 0): format 5 cv~ 62.11/51.92/67.55, format 6 66.79/58.52/71.14, so the gain
is not just immunity to jitters of the spread rates themselves.  Two variants that were meant
to keep tests/insights' CPU alert active at +4 min (format 6 lets the step's undamped score fall
under 0.5 at ~+3.5 min): the median floored at the tuned copy's surprise (passes that test; cv
69.88/62.80/74.07, cv~ 67.27/57.87/71.86; set 20: cv 69.39/62.60/73.50, cv~ 67.32/57.59/73.04;
non-tail jitters cv~ 65.11/55.25/70.41: under format 5 on cv, under the pure median
everywhere), and every copy learning a view only when the median copy's surprise is under
LEARN_CAP (still fails it; cv 69.65/62.07/76.04).
"""

from __future__ import annotations

import ast
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import _nabexp as nx
import _nabkit as nk

from steward.intel import detector as D
from steward.intel.detector import Verdict, _fold, _mem

DEFAULTS: dict[str, Any] = {
    "copies": 1,
    "spread": 1.25,
    "combine": "mean",
    "refractory": 0,
    "records": False,
    "only_tails": False,  # spread only TAIL_STEP and TAIL_ALPHA across the copies
    "novelty": 0,  # window length of the novelty view (0: off)
    "nov_slots": 16,
    "nov_weight": 1.0,
}

# the pattern of exponents p (rate * spread ** p) for each copy, over nx.JITTERED's order;
# copy 0 is the tuned detector, the others are balanced (+1/-1 alternating and its mirror)
_PATTERNS = [
    [0] * 9,
    [1, -1, 1, -1, 1, -1, 1, -1, 1],
    [-1, 1, -1, 1, -1, 1, -1, 1, -1],
    [1, 1, -1, -1, 1, 1, -1, -1, 1],
    [-1, -1, 1, 1, -1, -1, 1, 1, -1],
]


class Core:
    """The product detector's scoring (format 5) up to the raw surprise, with its own rates.

    Reads steward.intel.detector's constants at construction (so _nabexp's jitters apply) and
    multiplies the rates of nx.JITTERED by ``mult``.
    """

    def __init__(self, mult: dict[str, float]) -> None:
        r = {name: getattr(D, name) * mult.get(name, 1.0) for name in nx.JITTERED}
        self.la = r["LEVEL_ALPHA"]
        self.sca = r["SCALE_ALPHA"]
        self.sla = r["SLOW_ALPHA"]
        self.pa = r["PROFILE_ALPHA"]
        self.ssa = r["SEASON_SCALE_ALPHA"]
        self.vfa = r["VAR_FAST_ALPHA"]
        self.vsa = r["VAR_SLOW_ALPHA"]
        self.up = r["TAIL_STEP"] * D.TAIL_Q
        self.down = r["TAIL_STEP"] * (1.0 - D.TAIL_Q)
        self.talpha = r["TAIL_ALPHA"]
        self.det = D.SingleScaleDetector()
        self.nov_w = 0
        self.nov_weight = 1.0
        self.recent: list[float] = []
        self.memory: list[list[float]] = []
        self.nov_slots = 16
        self.windows = 0
        self.lcg = 12345
        self.ntail = [0.0, 0.1, 0.02, 0.0]

    def novelty(self, u: float) -> float:
        """Distance of the last nov_w compressed residuals to the nearest remembered window.

        The memory is a reservoir sample of the past non-overlapping windows (a fixed
        pseudo-random sequence, so the detector stays deterministic): it remembers the whole
        history at a constant size, "have I seen this shape before".
        """
        rec = self.recent
        rec.append(u)
        w = self.nov_w
        if len(rec) > w:
            del rec[0]
        if len(rec) < w:
            return 0.0
        best = 1e9
        for m in self.memory:
            dd = 0.0
            for a, b in zip(rec, m, strict=True):
                dd += abs(a - b)
                if dd >= best:
                    break
            if dd < best:
                best = dd
        self.windows += 1
        if self.windows % w == 0:
            k = self.windows // w
            if len(self.memory) < self.nov_slots:
                self.memory.append(list(rec))
            else:
                self.lcg = (self.lcg * 1103515245 + 12345) % 2147483648
                j = self.lcg % k
                if j < self.nov_slots:
                    self.memory[j] = list(rec)
        return best / w if best < 1e9 else 0.0

    def learn(self, g: float, tail: list[float], i: int) -> None:
        n = tail[i + 3] + 1.0
        tail[i + 3] = n
        ex = g - tail[i]
        if ex > 0.0:
            tail[i] += self.up
            if n > D._TAIL_RATE:
                b = max(self.talpha, 1.0 / n) * D._TAIL_RATE
                tail[i + 1] += b * (ex - tail[i + 1])
                tail[i + 2] += b * (ex * ex - tail[i + 2])
        else:
            tail[i] -= self.down

    def surprise(self, t: float, x: float) -> float:
        """The weighted surprise of the format-5 detector, then learn."""
        st = self.det
        n = st.count
        st.count = n + 1
        b = int((t % D.DAY) * (D.BUCKETS / D.DAY)) % D.BUCKETS
        day = float(math.floor(t / D.DAY))
        if n == 0:
            st.level = st.slow = x
            st.day = day
            return 0.0
        level = st.level
        slow = st.slow
        sc = st.scale + 1e-9 * abs(level) + 1e-12
        r = x - level
        d = abs(r)
        ring = st.ring
        k = n % D.SHIFT_SPAN
        shift = st.shift_sum + r - ring[k]
        st.shift_sum = shift
        ring[k] = r
        pred = slow + st.profile[b]
        rs = x - pred
        ss = st.season_scale
        seasoned = st.profile_count[b] > 3
        vf = st.var_fast
        vsl = st.var_slow
        g0 = math.log1p(d / sc)
        g1 = math.log1p(abs(shift) / (sc * D.SHIFT_SPAN))
        g2 = math.log1p(abs(rs) / (ss + 1e-12)) if seasoned else 0.0
        g3 = math.log1p(abs(math.log((vf + sc * 1e-3) / (vsl + sc * 1e-3))))
        s4 = 0.0
        if self.nov_w:
            g4 = math.log1p(self.novelty(math.asinh(r / sc)))
            s4 = D._surprise(g4, self.ntail, 0)
            if n > D.WARMUP and s4 < D.LEARN_CAP:
                self.learn(g4, self.ntail, 0)
            s4 *= self.nov_weight
        if day != st.day:
            st.day = day
            _fold(st.daily_max, st.today_max)
            _fold(st.spike_daily, st.spike_today)
            st._set_spike_bar()
        tail = st.tail
        sur = D._surprise
        s0 = sur(g0, tail, 0)
        s1 = sur(g1, tail, 4)
        s2 = sur(g2, tail, 8)
        s3 = sur(g3, tail, 12)
        if n > D.WARMUP:
            cap = D.LEARN_CAP
            if s0 < cap:
                self.learn(g0, tail, 0)
            if s1 < cap:
                self.learn(g1, tail, 4)
            if s2 < cap:
                self.learn(g2, tail, 8)
            if s3 < cap:
                self.learn(g3, tail, 12)
        known = st.spike_daily[b]
        tol = D.DAILY_TOLERANCE
        if known > 0.0 and known >= st.spike_bar and g0 <= tol * known:
            s0 = 0.0
        if g0 > st.spike_today[b]:
            st.spike_today[b] = _mem(g0)
        daily = st.daily_max
        today = st.today_max
        i2 = D.BUCKETS + b
        i3 = i2 + D.BUCKETS
        if g1 <= tol * daily[b]:
            s1 = 0.0
        if g2 <= tol * daily[i2]:
            s2 = 0.0
        if g3 <= tol * daily[i3]:
            s3 = 0.0
        if g1 > today[b]:
            today[b] = _mem(g1)
        if g2 > today[i2]:
            today[i2] = _mem(g2)
        if g3 > today[i3]:
            today[i3] = _mem(g3)
        if n < D.WARMUP:
            st.scale += (d - st.scale) / n
        else:
            st.scale += self.sca * (min(d, 5.0 * sc) - st.scale)
        st.var_fast = vf + self.vfa * (d - vf)
        st.var_slow = vsl + self.vsa * (d - vsl)
        st.level = level + self.la * r
        slow += self.sla * (x - slow)
        st.slow = slow
        st.season_scale = ss + self.ssa * (abs(rs) - ss)
        st.profile[b] += self.pa * (x - slow - st.profile[b])
        if not seasoned:
            st.profile_count[b] += 1
        return max(D.SPIKE_WEIGHT * s0, s1, s2, s3, s4)


class Ens:
    """Ensemble of Cores + the product's episode logic (and an optional refractory)."""

    def __init__(self, **knobs: Any) -> None:
        unknown = set(knobs) - set(DEFAULTS)
        if unknown:
            raise KeyError(sorted(unknown))
        self.k = k = {**DEFAULTS, **knobs}
        self.cores = []
        for c in range(k["copies"]):
            pat = _PATTERNS[c]
            mult = {name: k["spread"] ** p for name, p in zip(nx.JITTERED, pat, strict=True)}
            if k["only_tails"]:
                mult = {n: m for n, m in mult.items() if n.startswith("TAIL_")}
            core = Core(mult)
            core.nov_w = k["novelty"]
            core.nov_slots = k["nov_slots"]
            core.nov_weight = k["nov_weight"]
            self.cores.append(core)
        self.quiet = float(D.REARM)
        self.since = 10**9
        self.peak = 0.0

    def update(self, t: float, x: float) -> Verdict:
        t = float(t)
        x = float(x)
        ss = [c.surprise(t, x) for c in self.cores]
        if len(ss) == 1:
            s = ss[0]
        elif self.k["combine"] == "median":
            s = statistics.median(ss)
        else:
            s = sum(ss) / len(ss)
        score = 1.0 - 2.0 ** (-s / D.ALARM_SURPRISE)
        onset = False
        self.since += 1
        if self.k["records"]:
            return self._records(s, score, x)
        if self.quiet >= D.REARM and self.since >= self.k["refractory"]:
            if s >= D.ALARM_SURPRISE:
                onset = True
                self.quiet = 0.0
                self.since = 0
        else:
            score *= D.EPISODE_DAMP
            self.quiet = self.quiet + 1.0 if s <= 0.0 else 0.0
        return Verdict(score, onset, x, 0.0, 0.0, "normal", 0.0)

    def _records(self, s: float, score: float, x: float) -> Verdict:
        """Episodes open at any surprise; a new record emits in full until one alarms."""
        if self.quiet >= D.REARM:
            self.peak = 0.0
        self.quiet = self.quiet + 1.0 if s <= 0.0 else 0.0
        if s > self.peak and self.peak < D.ALARM_SURPRISE:
            self.peak = s
            return Verdict(score, s >= D.ALARM_SURPRISE, x, 0.0, 0.0, "normal", 0.0)
        return Verdict(score * D.EPISODE_DAMP, False, x, 0.0, 0.0, "normal", 0.0)


def _mean3(rows: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(round(statistics.fmean(r[i] for r in rows), 2) for i in range(3))


def run(knobs: dict[str, Any]) -> tuple[dict[str, list[float]], float]:
    """Scores of every dev file (one process), and the mean seconds per sample."""
    out = {}
    n = 0
    spent = 0.0
    for rel in nk.file_list():
        _, secs, vals = nk.read_series(rel)
        det = Ens(**knobs)
        upd = det.update
        t0 = time.perf_counter()
        out[rel] = [upd(t, v).score for t, v in zip(secs, vals, strict=True)]
        spent += time.perf_counter() - t0
        n += len(vals)
    return out, spent / n


def evaluate(knobs: dict[str, Any], jitters: int) -> None:
    files = nk.file_list()
    halvings = nk.random_halves(files)
    base = {name: getattr(D, name) for name in nx.JITTERED}
    real = nx.real_splits()
    devs, cvs, reals = [], [], []
    try:
        for j in range(jitters + 1):
            rng = random.Random(j + (_OFFSET if j else 0))
            for name, value in base.items():
                setattr(D, name, value * (rng.uniform(0.9, 1.1) if j else 1.0))
            scores, per = run(knobs)
            devs.append(nk.finals(nk.score(scores)))
            cvs.append(_mean3(nk.cross_scores(scores, halvings)))
            reals.append(_mean3(nk.cross_scores(scores, real)))
            if j == 0:
                print(
                    f"  dev {devs[0]} cv {cvs[0]} real {reals[0]} {per * 1e6:.1f} us/sample",
                    flush=True,
                )
    finally:
        for name, value in base.items():
            setattr(D, name, value)
    if jitters:
        print(
            f"  over {jitters + 1} (tuned + {jitters} jitters): dev~ {_mean3(devs)}"
            f" cv~ {_mean3(cvs)} real~ {_mean3(reals)}",
            flush=True,
        )


_OFFSET = 0


def main(argv: list[str]) -> None:
    global _OFFSET
    jitters = 0
    if "--offset" in argv:
        at = argv.index("--offset")
        _OFFSET = int(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    if "--jitters" in argv:
        at = argv.index("--jitters")
        jitters = int(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    for spec in argv or [""]:
        knobs: dict[str, Any] = {}
        for item in filter(None, spec.split(",")):
            name, text = item.split("=")
            val = text if isinstance(DEFAULTS[name], str) else ast.literal_eval(text)
            knobs[name] = type(DEFAULTS[name])(val)
        print(spec or "as shipped", flush=True)
        evaluate(knobs, jitters)


if __name__ == "__main__":
    main(sys.argv[1:])
