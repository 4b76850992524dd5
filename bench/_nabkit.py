"""Helpers shared by the NAB bench: load nab-dev, run a detector, score in memory."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import os
import random
import statistics
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAB_DIR = (ROOT / ".." / "shared" / "data" / "nab-dev").resolve()
SCORER = (ROOT / ".." / "shared" / "tools" / "nab_score.py").resolve()


def load_scorer() -> Any:
    spec = importlib.util.spec_from_file_location("nab_score", SCORER)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


DEV_DIR = NAB_DIR


def use(nab_dir: Path) -> None:
    """Point the kit at another NAB tree: NAB's own repository layout (``data/``,
    ``labels/combined_windows.json``, ``config/profiles.json``) or a flat copy like nab-dev."""
    global NAB_DIR
    NAB_DIR = Path(nab_dir).resolve()
    _CACHE.clear()


def _layout() -> tuple[str, str, str]:
    ns = load_scorer() if "mod" not in _CACHE else _CACHE["mod"]
    _CACHE["mod"] = ns
    return ns.resolve_layout(str(NAB_DIR))


def file_list() -> list[str]:
    with open(_layout()[1]) as fh:
        return sorted(json.load(fh))


def dev_files() -> list[str]:
    with open(DEV_DIR / "labels.json") as fh:
        return sorted(json.load(fh))


def read_series(rel: str) -> tuple[list[str], list[float], list[float]]:
    """Return (timestamp text, epoch seconds, values) of one data file."""
    texts: list[str] = []
    secs: list[float] = []
    vals: list[float] = []
    with open(Path(_layout()[0]) / rel, newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            if not row:
                continue
            texts.append(row[0])
            t = dt.datetime.fromisoformat(row[0]).replace(tzinfo=dt.UTC)
            secs.append(t.timestamp())
            vals.append(float(row[1]))
    return texts, secs, vals


def run_file(args: tuple[str, Callable[[], Any]]) -> tuple[str, list[float]]:
    rel, factory = args
    _, secs, vals = read_series(rel)
    det = factory()
    upd = det.update
    return rel, [upd(t, v).score for t, v in zip(secs, vals, strict=True)]


def run_all(
    factory: Callable[[], Any], files: Iterable[str], workers: int = 2
) -> dict[str, list[float]]:
    jobs = [(rel, factory) for rel in files]
    if workers <= 1:
        return dict(map(run_file, jobs))
    with ProcessPoolExecutor(workers) as pool:
        return dict(pool.map(run_file, jobs))


_CACHE: dict[Any, Any] = {}


def score(
    scores: dict[str, list[float]],
    subset: list[str] | None = None,
    thresholds: dict[str, float | None] | None = None,
    per_file: bool = False,
) -> dict[str, Any]:
    """Score in memory with the shared scorer; returns its per-profile results."""
    ns = load_scorer() if "mod" not in _CACHE else _CACHE["mod"]
    _CACHE["mod"] = ns
    files = sorted(subset if subset is not None else scores)
    data_dir, labels_path, profiles_path = _layout()
    key = tuple(files)
    if key not in _CACHE:
        labels = ns.load_labels(labels_path)
        _CACHE[key] = ns.load_corpus(data_dir, labels, files)
    corpus = _CACHE[key]
    profiles = ns.load_profiles(profiles_path)
    return ns.score_corpus(corpus, [scores[f] for f in files], profiles, thresholds, per_file)


def finals(res: dict[str, Any]) -> tuple[float, float, float]:
    return tuple(round(res[p]["final"], 2) for p in res)  # type: ignore[return-value]


def halves(files: list[str]) -> tuple[list[str], list[str]]:
    """Split files into two halves, alternating within each category."""
    a: list[str] = []
    b: list[str] = []
    by_cat: dict[str, list[str]] = {}
    for f in files:
        by_cat.setdefault(os.path.dirname(f), []).append(f)
    for cat in sorted(by_cat):
        for i, f in enumerate(sorted(by_cat[cat])):
            (a if i % 2 == 0 else b).append(f)
    return a, b


def random_halves(
    files: list[str], k: int = 10, seed: int = 2026
) -> list[tuple[list[str], list[str]]]:
    """k random partitions of files into two equal halves, each category split evenly.

    The alternating split of :func:`halves` is one partition; scoring one half at the other's
    thresholds on several random ones shows how much of a difference is the draw of files.
    A category with an odd number of files gives its extra file to whichever half is
    smaller so far (ties broken at random), so the halves differ by at most one file.
    """
    by_cat: dict[str, list[str]] = {}
    for f in sorted(files):
        by_cat.setdefault(os.path.dirname(f), []).append(f)
    rng = random.Random(seed)
    out = []
    for _ in range(k):
        a: list[str] = []
        b: list[str] = []
        for cat in sorted(by_cat):
            members = list(by_cat[cat])
            rng.shuffle(members)
            half = len(members) // 2
            if len(members) % 2 and (len(a) < len(b) or (len(a) == len(b) and rng.random() < 0.5)):
                half += 1
            a += members[:half]
            b += members[half:]
        out.append((sorted(a), sorted(b)))
    return out


def cross_scores(
    scores: dict[str, list[float]], splits: list[tuple[list[str], list[str]]]
) -> list[tuple[float, float, float]]:
    """Each half scored at the thresholds optimised on the other half, both ways per split."""
    got = []
    for a, b in splits:
        for tune, test in ((a, b), (b, a)):
            res = score(scores, tune)
            thr = {p: res[p]["threshold"] for p in res}
            got.append(finals(score(scores, test, thr)))
    return got


def summarise(rows: list[tuple[float, float, float]]) -> str:
    """'mean +- sd (min)' per profile of a list of (standard, low FP, low FN) scores."""
    parts = []
    for i in range(3):
        col = [r[i] for r in rows]
        sd = statistics.stdev(col) if len(col) > 1 else 0.0
        parts.append(f"{statistics.fmean(col):6.2f} +-{sd:5.2f} (min {min(col):6.2f})")
    return " / ".join(parts)
