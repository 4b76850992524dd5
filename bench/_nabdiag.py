"""Where the NAB points go: false-positive onsets and missed windows at a fixed threshold.

Usage (from the repository root)::

    .venv/bin/python bench/_nabdiag.py [--threshold 0.4956] [--module MODULE] [--set NAME=VALUE]

Runs the detector over every nab-dev file and prints, per file, each scored detection
outside a window (row, time, its fraction of the file, whether it opened an episode, the
pattern, the score and its NAB cost in fpWeight units), each labelled window with the row of
its first detection (or MISSED, with the largest score seen inside it and the pattern there),
and the alarm onsets inside the probationary prefix (not scored, but they open episodes).
A summary counts false positives by pattern and by where they fall in the file.
``--module`` names a detector module (default: the product's, ``steward.intel.detector``;
a bench copy with switches for experiments), ``--set`` overrides its module constants.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import _nabkit as nk


def run(module: object, rel: str) -> tuple[list[str], list[object]]:
    texts, secs, vals = nk.read_series(rel)
    det = module.StreamDetector()  # type: ignore[attr-defined]
    return texts, [det.update(t, v) for t, v in zip(secs, vals, strict=True)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threshold", type=float, default=0.4956)
    ap.add_argument("--module", default="steward.intel.detector")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--quiet", action="store_true", help="summary only")
    args = ap.parse_args()
    mod = importlib.import_module(args.module)
    for item in args.set:
        name, value = item.split("=", 1)
        setattr(mod, name, type(getattr(mod, name))(float(value)))
    ns = nk.load_scorer()
    files = nk.file_list()
    data_dir, labels_path, _ = ns.resolve_layout(str(nk.NAB_DIR))
    corpus = ns.load_corpus(data_dir, ns.load_labels(labels_path), files)
    thr = args.threshold
    fp_by_pattern: Counter[str] = Counter()
    fp_by_place: Counter[str] = Counter()
    fp_cost = 0.0
    found = missed = 0
    onset_rows = 0
    for rel, lf in zip(files, corpus, strict=True):
        texts, verdicts = run(mod, rel)
        lines = []
        for i in range(lf.probation):
            v = verdicts[i]
            if v.is_anomaly:  # type: ignore[attr-defined]
                lines.append(f"    probation onset row {i} {texts[i]} {v.pattern}")  # type: ignore[attr-defined]
        for i in range(lf.probation, lf.n):
            v = verdicts[i]
            if lf.window[i] >= 0 or v.score < thr:  # type: ignore[attr-defined]
                continue
            onset_rows += 1
            frac = (i - lf.probation) / max(1, lf.n - lf.probation)
            place = "first 10% after probation" if frac < 0.1 else "later"
            after = any(b < i for _, b in lf.spans)
            fp_by_place[place + (", after a window" if after else "")] += 1
            fp_by_pattern[v.pattern] += 1  # type: ignore[attr-defined]
            fp_cost += lf.unit[i]
            lines.append(
                f"    FP row {i:5d} {texts[i]} at {frac:4.2f} "
                f"{'onset' if v.is_anomaly else 'near '} {v.pattern:26s} "  # type: ignore[attr-defined]
                f"{v.score:.3f} cost {lf.unit[i]:+.2f}"  # type: ignore[attr-defined]
            )
        for k, (a, b) in enumerate(lf.spans):
            if k not in lf.scorable_windows:
                continue
            hits = [i for i in range(max(a, lf.probation), b + 1) if verdicts[i].score >= thr]  # type: ignore[attr-defined]
            if hits:
                found += 1
                i = hits[0]
                lines.append(
                    f"    window {texts[a]}..{texts[b]} ({b - a + 1} rows) hit at +{i - a} "
                    f"value {lf.unit[i]:.2f} by {verdicts[i].pattern}"  # type: ignore[attr-defined]
                )
            else:
                missed += 1
                j = max(range(max(a, lf.probation), b + 1), key=lambda r: verdicts[r].score)  # type: ignore[attr-defined]
                before = [i for i in range(max(0, a - 200), a) if verdicts[i].is_anomaly]  # type: ignore[attr-defined]
                lines.append(
                    f"    window {texts[a]}..{texts[b]} ({b - a + 1} rows) MISSED: max "
                    f"{verdicts[j].score:.3f} at +{j - a} {verdicts[j].pattern}"  # type: ignore[attr-defined]
                    + (
                        f"; onsets in the 200 rows before: {[i - a for i in before]}"
                        if before
                        else ""
                    )
                )
        if not args.quiet:
            print(f"{rel} ({lf.n} rows, probation {lf.probation})")
            print("\n".join(lines) if lines else "    (clean)")
    print(
        f"windows found {found}, missed {missed}; "
        f"false-positive rows {onset_rows}, cost {fp_cost:.2f}"
    )
    print("false positives by pattern:", dict(fp_by_pattern.most_common()))
    print("false positives by place:", dict(fp_by_place.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
