"""Binary operators: arithmetic, comparisons and set operators, with vector matching.

Follows Prometheus 2.42 ``engine.go`` (``VectorBinop``, ``VectorscalarBinop``,
``resultMetric``, ``VectorAnd/Or/Unless``) including its error messages; matching is done
once for all steps, and the "duplicate" checks look at each step, as Prometheus does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from steward.promql.errors import QueryError
from steward.promql.values import Scalar, Vector, format_labels, merge_rows
from steward.tsdb.types import METRIC_NAME

Arith = Callable[[np.ndarray, np.ndarray], np.ndarray]

ARITHMETIC: dict[str, Arith] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.fmod,  # Go's math.Mod: the sign of the dividend, NaN for x % 0
    "^": np.power,
    "atan2": np.arctan2,
}
COMPARISON: dict[str, Arith] = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}
SET_OPERATORS = {"and", "or", "unless"}
# Prometheus' ``shouldDropMetricName``: arithmetic drops the metric name, except atan2.
DROPS_NAME = frozenset({"+", "-", "*", "/", "%", "^"})


@dataclass
class Matching:
    """``on(...)``/``ignoring(...)`` and ``group_left``/``group_right`` of one operator."""

    on: bool = False
    labels: tuple[str, ...] = ()
    card: str = "one-to-one"  # one-to-one, many-to-one, one-to-many, many-to-many
    include: tuple[str, ...] = ()
    return_bool: bool = False

    def signature(self, labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
        if self.on:
            return tuple((n, labels.get(n, "")) for n in sorted(self.labels))
        skip = {*self.labels, METRIC_NAME}
        return tuple(sorted((k, v) for k, v in labels.items() if k not in skip))

    def match_labels(self, labels: dict[str, str]) -> dict[str, str]:
        if self.on:
            return {k: v for k, v in labels.items() if k in self.labels}
        skip = {*self.labels, METRIC_NAME}
        return {k: v for k, v in labels.items() if k not in skip}


def _apply(op: str, lhs: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(value, keep): keep is None for arithmetic, the comparison's outcome otherwise."""
    with np.errstate(all="ignore"):
        if op in ARITHMETIC:
            return ARITHMETIC[op](lhs, rhs), None
        return lhs, COMPARISON[op](lhs, rhs)


def scalar_scalar(op: str, lhs: Scalar, rhs: Scalar) -> Scalar:
    value, keep = _apply(op, lhs.values, rhs.values)
    return Scalar(value if keep is None else keep.astype(np.float64))


def vector_scalar(op: str, vec: Vector, scalar: Scalar, swap: bool, m: Matching) -> Vector:
    """``vector op scalar`` (or ``scalar op vector`` when ``swap``): comparisons filter and
    keep the vector's value; arithmetic (but atan2) and ``bool`` drop the metric name."""
    s = scalar.values[None, :]
    value, keep = _apply(op, s, vec.values) if swap else _apply(op, vec.values, s)
    if keep is None:
        out = Vector(vec.labels, value, vec.present)
        return out.without_name() if op in DROPS_NAME else out
    if m.return_bool:
        return Vector(vec.labels, keep.astype(np.float64), vec.present).without_name()
    return Vector(vec.labels, vec.values, vec.present & keep)


def _sig_rows(vec: Vector, m: Matching) -> dict[tuple, list[int]]:
    rows: dict[tuple, list[int]] = {}
    for i, ls in enumerate(vec.labels):
        rows.setdefault(m.signature(ls), []).append(i)
    return rows


def _any_by_sig(vec: Vector, m: Matching) -> dict[tuple, np.ndarray]:
    return {sig: vec.present[rows].any(axis=0) for sig, rows in _sig_rows(vec, m).items()}


def set_operation(op: str, lhs: Vector, rhs: Vector, m: Matching) -> Vector:
    steps = lhs.values.shape[1]
    none = np.zeros(steps, dtype=bool)
    if op in ("and", "unless"):
        right = _any_by_sig(rhs, m)
        mask = np.array(
            [right.get(m.signature(ls), none) for ls in lhs.labels], dtype=bool
        ).reshape(lhs.present.shape)
        keep = mask if op == "and" else ~mask
        return Vector(lhs.labels, lhs.values, lhs.present & keep)
    left = _any_by_sig(lhs, m)
    mask = np.array([left.get(m.signature(ls), none) for ls in rhs.labels], dtype=bool).reshape(
        rhs.present.shape
    )
    return merge_rows(
        lhs.labels + rhs.labels,
        np.concatenate([lhs.values, rhs.values]),
        np.concatenate([lhs.present, rhs.present & ~mask]),
    )


def _check_one_side(one: Vector, many: Vector, m: Matching, side: str) -> dict[tuple, list[int]]:
    """Index the "one" side by signature; two of its series present at a step where the
    other side has samples is many-to-many matching, which Prometheus refuses."""
    active = many.present.any(axis=0)
    index = _sig_rows(one, m)
    for rows in index.values():
        if len(rows) < 2:
            continue
        overlap = (one.present[rows].sum(axis=0) > 1) & active
        if overlap.any():
            step = int(np.flatnonzero(overlap)[0])
            a, b = [r for r in rows if one.present[r, step]][:2]
            raise QueryError(
                f"found duplicate series for the match group "
                f"{format_labels(m.match_labels(one.labels[a]))} on the {side} hand-side "
                f"of the operation: [{format_labels(one.labels[b])}, "
                f"{format_labels(one.labels[a])}];many-to-many matching not allowed: "
                "matching labels must be unique on one side",
                execution=True,
            )
    return index


def _result_labels(
    many: dict[str, str], one: dict[str, str], op: str, m: Matching
) -> dict[str, str]:
    out = dict(many)
    if op in DROPS_NAME or m.return_bool:
        out.pop(METRIC_NAME, None)
    if m.card == "one-to-one":
        if m.on:
            out = {k: v for k, v in out.items() if k in m.labels}
        else:
            for name in m.labels:
                out.pop(name, None)
    for name in m.include:
        value = one.get(name, "")
        if value:
            out[name] = value
        else:
            out.pop(name, None)
    return out


def vector_vector(op: str, lhs: Vector, rhs: Vector, m: Matching) -> Vector:
    if op in SET_OPERATORS:
        return set_operation(op, lhs, rhs, m)
    steps = lhs.values.shape[1]
    if len(lhs) == 0 or len(rhs) == 0:
        return Vector.empty(steps)
    swap = m.card == "one-to-many"
    many, one = (rhs, lhs) if swap else (lhs, rhs)
    index = _check_one_side(one, many, m, "left" if swap else "right")
    # One output row per (many, one) pair with equal signatures; a signature's "one" rows
    # never overlap where it matters (checked), so each pair is its own steps.
    pairs: list[tuple[int, int]] = []
    sigs: list[tuple] = []
    for i, ls in enumerate(many.labels):
        sig = m.signature(ls)
        for j in index.get(sig, ()):
            pairs.append((i, j))
            sigs.append(sig)
    if not pairs:
        return Vector.empty(steps)
    many_rows = [i for i, _ in pairs]
    one_rows = [j for _, j in pairs]
    mv, ov = many.values[many_rows], one.values[one_rows]
    both = many.present[many_rows] & one.present[one_rows]
    left, right = (ov, mv) if swap else (mv, ov)
    value, keep = _apply(op, left, right)
    if keep is None:
        present = both
    elif m.return_bool:
        value, present = keep.astype(np.float64), both
    else:
        present = both & keep
    labels = [_result_labels(many.labels[i], one.labels[j], op, m) for i, j in pairs]
    _check_unique(labels, sigs, present, m)
    return merge_rows(labels, value, present)


def _check_unique(
    labels: list[dict[str, str]], sigs: list[tuple], present: np.ndarray, m: Matching
) -> None:
    groups: dict[tuple, list[int]] = {}
    for i, (ls, sig) in enumerate(zip(labels, sigs, strict=True)):
        key = (sig,) if m.card == "one-to-one" else (sig, tuple(sorted(ls.items())))
        groups.setdefault(key, []).append(i)
    for rows in groups.values():
        if len(rows) > 1 and (present[rows].sum(axis=0) > 1).any():
            if m.card == "one-to-one":
                raise QueryError(
                    "multiple matches for labels: many-to-one matching must be explicit "
                    "(group_left/group_right)",
                    execution=True,
                )
            raise QueryError(
                "multiple matches for labels: grouping labels must ensure unique matches",
                execution=True,
            )


def unary_minus(vec: Vector) -> Vector:
    return Vector(vec.labels, -vec.values, vec.present).without_name()
