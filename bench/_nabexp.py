"""Experiment harness for the NAB bench: a tunable copy of the detector, scored in memory.

Not used by the product: it lets one knob be changed at a time and reports all-dev scores and
half B at half A's thresholds, the two numbers every change must improve.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import _nabkit as nk


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
