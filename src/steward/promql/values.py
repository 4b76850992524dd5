"""The engine's internal values: every expression is evaluated at all steps at once.

An instant vector over N steps is a dense block: one row per series, a float64 value and a
``present`` flag per step (absence cannot be a NaN: NaN is a legitimate sample value). A
range-vector selector keeps its raw samples flattened, with the window bounds of every
(series, step) pair found by one ``searchsorted`` call; range functions then reduce those
windows with numpy. This is what makes a 24 h range query cost one fetch and a few array
operations instead of one evaluation per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from steward.promql.errors import QueryError
from steward.tsdb.types import METRIC_NAME

LabelKey = tuple[tuple[str, str], ...]


def label_key(labels: dict[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


def format_labels(labels: dict[str, str]) -> str:
    """Prometheus' ``labels.String()``: ``{a="1", b="2"}``."""
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def drop_name(labels: dict[str, str]) -> dict[str, str]:
    if METRIC_NAME not in labels:
        return labels
    out = dict(labels)  # a C-level copy, then one deletion: cheaper than a comprehension
    del out[METRIC_NAME]
    return out


@dataclass
class Scalar:
    values: np.ndarray  # float64, one per step


@dataclass
class String:
    value: str


@dataclass
class Vector:
    labels: list[dict[str, str]]
    values: np.ndarray  # float64 (series, steps)
    present: np.ndarray  # bool (series, steps)

    @classmethod
    def empty(cls, steps: int) -> Vector:
        return cls([], np.zeros((0, steps)), np.zeros((0, steps), dtype=bool))

    def __len__(self) -> int:
        return len(self.labels)

    def with_labels(self, labels: list[dict[str, str]]) -> Vector:
        """The same values under new label sets, merging rows whose sets now coincide."""
        return merge_rows(labels, self.values, self.present)

    def without_name(self) -> Vector:
        labels = [drop_name(ls) for ls in self.labels]
        if len({ls.get(METRIC_NAME) for ls in self.labels}) == 1:
            # Rows named alike stay distinct without the name (most often all rows are
            # one selector's series of one metric): no merge to look for.
            return Vector(labels, self.values, self.present)
        return merge_rows(labels, self.values, self.present)


@dataclass
class RangeWindows:
    """A range-vector selector over all steps.

    ``ts``/``vs`` are every series' samples concatenated (``starts[s]:starts[s+1]`` belong
    to series ``s``); ``lo``/``hi`` (series, steps) bound each window as flat indices.
    ``range_start``/``range_end`` are the window bounds per step (ms).
    """

    labels: list[dict[str, str]]
    ts: np.ndarray  # int64
    vs: np.ndarray  # float64
    starts: np.ndarray  # int64 (series + 1)
    lo: np.ndarray  # int64 (series, steps)
    hi: np.ndarray
    range_start: np.ndarray  # int64 (steps,)
    range_end: np.ndarray
    range_ms: int

    @property
    def count(self) -> np.ndarray:
        return self.hi - self.lo


Value = Scalar | String | Vector | RangeWindows


def merge_rows(labels: Sequence[dict[str, str]], values: np.ndarray, present: np.ndarray) -> Vector:
    """Rows with equal label sets become one series (they came from different series at
    different steps, e.g. after dropping ``__name__``); at one step they would be a
    duplicate, which Prometheus refuses with the same message."""
    keys = [label_key(ls) for ls in labels]
    if len(set(keys)) == len(keys):
        return Vector(list(labels), values, present)
    rows: dict[LabelKey, list[int]] = {}
    for i, key in enumerate(keys):
        rows.setdefault(key, []).append(i)
    out_labels, out_values, out_present = [], [], []
    for idx in rows.values():
        if len(idx) == 1:
            v, p = values[idx[0]], present[idx[0]]
        else:
            p_stack = present[idx]
            if (p_stack.sum(axis=0) > 1).any():
                raise QueryError(
                    "vector cannot contain metrics with the same labelset", execution=True
                )
            v = np.where(p_stack, values[idx], 0.0).sum(axis=0)
            p = p_stack.any(axis=0)
        out_labels.append(dict(labels[idx[0]]))
        out_values.append(v)
        out_present.append(p)
    steps = values.shape[1]
    return Vector(
        out_labels,
        np.array(out_values).reshape(len(out_labels), steps),
        np.array(out_present, dtype=bool).reshape(len(out_labels), steps),
    )


def window_reduce(
    ufunc: np.ufunc, arr: np.ndarray, lo: np.ndarray, hi: np.ndarray, empty: float
) -> np.ndarray:
    """``ufunc.reduce(arr[lo:hi])`` for every window at once (``empty`` where lo == hi).

    ``reduceat`` over the interleaved bounds [lo0, hi0, lo1, hi1, ...] reduces [lo_k, hi_k)
    at the even positions; a sentinel element keeps every bound a valid index.
    """
    shape = lo.shape
    if lo.size == 0:
        return np.full(shape, empty)
    padded = np.append(arr, 0.0)
    bounds = np.empty(lo.size * 2, dtype=np.int64)
    bounds[0::2] = lo.ravel()
    bounds[1::2] = hi.ravel()
    reduced = ufunc.reduceat(padded, bounds)[0::2].reshape(shape)
    return np.where(hi > lo, reduced, empty)
