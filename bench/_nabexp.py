"""Experiment harness for the NAB bench: a tunable copy of the detector, scored in memory.

Not used by the product: it lets one knob be changed at a time and reports all-dev scores and
half B at half A's thresholds, the two numbers every change must improve.

nab-dev is a noisy judge: each window is worth ~1.6 points, and changing any of the detector's
rates by 5-10 % moves the all-dev standard score by several points either way (state format 3:
71.19 as tuned, 66.8 on average over 16 random +-10 % jitters of its nine rates).  A change is
worth keeping only if it also wins on :func:`robustness`, which averages over such jitters and
over many random half splits of the *real* files (the held-out NAB files are all real).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import _nabkit as nk

from steward.intel import detector as D

# the rates :func:`robustness` jitters (module constants of steward.intel.detector)
JITTERED = (
    "LEVEL_ALPHA",
    "SCALE_ALPHA",
    "SLOW_ALPHA",
    "PROFILE_ALPHA",
    "SEASON_SCALE_ALPHA",
    "VAR_FAST_ALPHA",
    "VAR_SLOW_ALPHA",
    "TAIL_STEP",
    "TAIL_ALPHA",
)


def _run(args: tuple[str, Callable[[], Any]]) -> tuple[str, list[float]]:
    return nk.run_file(args)


def evaluate(factory: Callable[[], Any], workers: int = 2) -> dict[str, tuple[float, ...]]:
    files = nk.file_list()
    with ProcessPoolExecutor(workers) as pool:
        scores = dict(pool.map(_run, [(f, factory) for f in files]))
    a, b = nk.halves(files)
    res_all = nk.score(scores)
    res_a = nk.score(scores, a)
    thr = {p: res_a[p]["threshold"] for p in res_a}
    res_b = nk.score(scores, b, thr)
    return {"dev": nk.finals(res_all), "A": nk.finals(res_a), "B@A": nk.finals(res_b)}


def real_splits(k: int = 8, seed: int = 1) -> list[tuple[list[str], list[str]]]:
    """k random halvings of the real files, each category split evenly."""
    by_cat: dict[str, list[str]] = {}
    for f in nk.file_list():
        if f.startswith("real"):
            by_cat.setdefault(f.split("/")[0], []).append(f)
    rng = random.Random(seed)
    out = []
    for _ in range(k):
        a: list[str] = []
        b: list[str] = []
        for cat in sorted(by_cat):
            files = sorted(by_cat[cat])
            rng.shuffle(files)
            half = len(files) // 2 + (len(files) % 2 and rng.random() < 0.5)
            a += files[:half]
            b += files[half:]
        out.append((a, b))
    return out


def cross_real(scores: dict[str, list[float]], splits: list[Any]) -> tuple[float, ...]:
    """Mean score of each half of the real files at the other half's thresholds."""
    return _mean3(nk.cross_scores(scores, splits))


def _mean3(rows: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(round(sum(r[i] for r in rows) / len(rows), 2) for i in range(3))


def robustness(factory: Callable[[], Any], jitters: int = 8) -> dict[str, tuple[float, ...]]:
    """All-dev and cross-validated scores, as tuned and averaged over jittered rates.

    "cv" is the mean over nab.py's random stratified halvings of all dev files (both ways) of
    one half at the other half's thresholds; "real" the same over :func:`real_splits`.

    Jitter j > 0 multiplies each of :data:`JITTERED` by a factor drawn from [0.9, 1.1]
    (seeded by j).  The constants are patched in this process and the workers are forked, so
    ``factory`` must build a detector that reads steward.intel.detector's constants.
    """
    base = {name: getattr(D, name) for name in JITTERED}
    splits = real_splits()
    files = nk.file_list()
    halvings = nk.random_halves(files)
    devs, crosses, cvs = [], [], []
    try:
        for j in range(jitters):
            rng = random.Random(j)
            for name, value in base.items():
                setattr(D, name, value * (rng.uniform(0.9, 1.1) if j else 1.0))
            with ProcessPoolExecutor(2) as pool:
                scores = dict(pool.map(_run, [(f, factory) for f in files]))
            devs.append(nk.finals(nk.score(scores)))
            crosses.append(cross_real(scores, splits))
            cvs.append(_mean3(nk.cross_scores(scores, halvings)))
    finally:
        for name, value in base.items():
            setattr(D, name, value)

    return {
        "dev": devs[0],
        "cv": cvs[0],
        "real@other": crosses[0],
        "dev~": _mean3(devs),
        "cv~": _mean3(cvs),
        "real~": _mean3(crosses),
    }


if __name__ == "__main__":
    print(robustness(D.StreamDetector, int(sys.argv[1]) if len(sys.argv) > 1 else 8))
