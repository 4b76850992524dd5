"""Experiments on the block scale of detector format 8 (bench only, not the product).

Every variant is a sample-scale :class:`SingleScaleDetector` plus one or more block-scale ones,
combined as the product combines them (the more surprising verdict wins; each scale keeps its
own episodes unless ``shared`` says otherwise).  A variant is written as comma-separated
``key=value`` pairs:

* ``blocks=12`` (``12+48`` for two block scales): samples per block;
* ``hop=12``: a block judgement every ``hop`` samples, over the last ``blocks`` (overlapping
  blocks when ``hop`` < ``blocks``);
* ``agg=mean`` or ``median``: what a block is reduced to;
* ``weight=0.8``: SPIKE_WEIGHT while a block scale judges (default: the module's);
* ``shared=none``, ``block`` (a block onset is damped while the sample scale is in an
  episode) or ``both`` (and the other way round).

Usage::

    nice .venv/bin/python bench/_nabscales.py 'blocks=12' 'blocks=12,weight=1' [--jitters 6]
        [--offset 10]

prints, per variant, all-dev and the cross-validated scores of :func:`_nabexp.robustness`
("cv": nab.py's random halvings, each half at the other half's thresholds; "real@other": the
same over the real files) and, with ``--jitters``, their averages over jittered rates (offset
0 is robustness's own set; ``--offset 10`` draws seeds 11.., with other halvings).  The
figures of docs/intelligence.md (format 8 section) come from here; the variants have no weekly
view (format 8 without it is ``blocks=12``).
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import _nabexp as nx
import _nabkit as nk

from steward.intel import detector as D
from steward.intel.detector import Verdict


class Scales:
    """A sample-scale detector and block-scale detectors, combined as one variant says."""

    def __init__(
        self,
        blocks: tuple[int, ...] = (12,),
        hop: int | None = None,
        agg: str = "mean",
        weight: float | None = None,
        shared: str = "none",
    ) -> None:
        self.fine = D.SingleScaleDetector()
        self.wide = [D.SingleScaleDetector() for _ in blocks]
        self.blocks = blocks
        self.hop = hop
        self.agg = statistics.fmean if agg == "mean" else statistics.median
        self.weight = weight
        self.shared = shared
        self.recent: list[float] = []
        self.n = 0

    def update(self, timestamp: float, value: float) -> Verdict:
        fine_busy = self.fine.quiet < D.REARM
        wide_busy = any(w.quiet < D.REARM for w in self.wide)
        best = self.fine.update(timestamp, value)
        if self.shared == "both" and wide_busy and not fine_busy and best.is_anomaly:
            best.score *= D.EPISODE_DAMP
        self.n += 1
        self.recent.append(value)
        del self.recent[: -max(self.blocks)]
        for k, det in zip(self.blocks, self.wide, strict=True):
            if self.n < k or self.n % (self.hop or k):
                continue
            saved = D.SPIKE_WEIGHT
            if self.weight is not None:
                D.SPIKE_WEIGHT = self.weight
            try:
                verdict = det.update(timestamp, self.agg(self.recent[-k:]))
            finally:
                D.SPIKE_WEIGHT = saved
            score = verdict.score
            if self.shared != "none" and fine_busy and verdict.is_anomaly:
                score *= D.EPISODE_DAMP
            if score > best.score:
                verdict.score = score
                best = verdict
        return best


def parse(text: str) -> dict[str, Any]:
    knobs: dict[str, Any] = {}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        if key == "blocks":
            knobs[key] = tuple(int(v) for v in value.split("+"))
        elif key == "hop":
            knobs[key] = int(value)
        elif key == "weight":
            knobs[key] = float(value)
        elif key in ("agg", "shared"):
            knobs[key] = value
        else:
            raise SystemExit(f"unknown knob {key!r}")
    return knobs


def jittered(factory: Any, seeds: range) -> dict[str, tuple[float, ...]]:
    """Cross-validated scores averaged over jitters of the rates drawn from ``seeds``."""
    base = {name: getattr(D, name) for name in nx.JITTERED}
    files = nk.file_list()
    halvings = nk.random_halves(files, seed=77)
    splits = nx.real_splits(seed=5)
    cvs, reals = [], []
    try:
        for seed in seeds:
            rng = random.Random(seed)
            for name, value in base.items():
                setattr(D, name, value * rng.uniform(0.9, 1.1))
            with ProcessPoolExecutor(2) as pool:
                scores = dict(pool.map(nx._run, [(f, factory) for f in files]))
            cvs.append(nx._mean3(nk.cross_scores(scores, halvings)))
            reals.append(nx.cross_real(scores, splits))
    finally:
        for name, value in base.items():
            setattr(D, name, value)
    return {"cv~": nx._mean3(cvs), "real~": nx._mean3(reals)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--jitters", type=int, default=0)
    ap.add_argument("--offset", type=int, default=0)
    args = ap.parse_args()
    for text in args.variants:
        factory = functools.partial(Scales, **parse(text))
        if args.offset:
            found = jittered(factory, range(args.offset + 1, args.offset + 1 + args.jitters))
        else:
            found = nx.robustness(factory, max(args.jitters, 1))
            if not args.jitters:
                found = {k: v for k, v in found.items() if not k.endswith("~")}
        print(text, found, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
