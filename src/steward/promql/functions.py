"""Functions of instant vectors and scalars (``abs``, ``clamp_min``, ``scalar``, ...).

Element-wise functions drop the metric name, as in Prometheus; ``sort``, ``label_replace``
and ``label_join`` keep it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from steward.promql.errors import QueryError
from steward.promql.values import Scalar, Vector, merge_rows
from steward.tsdb.types import LABEL_NAME_RE, METRIC_NAME, Matcher, MatchOp


def _round(v: np.ndarray, to_nearest: np.ndarray) -> np.ndarray:
    inverse = 1.0 / to_nearest
    return np.floor(v * inverse + 0.5) / inverse


ELEMENTWISE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sgn": np.sign,
}


def elementwise(name: str, vec: Vector) -> Vector:
    with np.errstate(all="ignore"):
        values = ELEMENTWISE[name](vec.values)
    return Vector(vec.labels, values, vec.present).without_name()


def clamp(vec: Vector, low: np.ndarray | None, high: np.ndarray | None) -> Vector:
    values, present = vec.values, vec.present
    if high is not None:
        values = np.minimum(high[None, :], values)
    if low is not None:
        values = np.maximum(low[None, :], values)
    if low is not None and high is not None:
        present = present & ~(high < low)[None, :]  # clamp() with max < min is empty
    return Vector(vec.labels, values, present).without_name()


def round_(vec: Vector, to_nearest: np.ndarray) -> Vector:
    with np.errstate(all="ignore"):
        values = _round(vec.values, to_nearest[None, :])
    return Vector(vec.labels, values, vec.present).without_name()


def scalar(vec: Vector) -> Scalar:
    """The value of the only element, NaN when there are none or several."""
    count = vec.present.sum(axis=0)
    total = np.where(vec.present, vec.values, 0.0).sum(axis=0)
    return Scalar(np.where(count == 1, total, np.nan))


def vector(s: Scalar) -> Vector:
    return Vector([{}], s.values[None, :].copy(), np.ones((1, s.values.size), dtype=bool))


def sort(vec: Vector, descending: bool) -> Vector:
    """Orders elements by their value at the first step (only instant queries keep order)."""
    if len(vec) == 0:
        return vec
    first = np.where(vec.present[:, 0], vec.values[:, 0], np.nan)
    # NaN last in both directions, as Prometheus' vectorByValueHeap.
    key = np.where(np.isnan(first), np.inf, -first if descending else first)
    order = np.argsort(key, kind="stable")
    return Vector([vec.labels[i] for i in order], vec.values[order], vec.present[order])


def absent_labels(matchers: list[Matcher]) -> dict[str, str]:
    """Labels of absent()'s output: the selector's equality matchers (Prometheus'
    ``createLabelsForAbsentFunction``); a label matched twice or by another op is left out."""
    out: dict[str, str] = {}
    for m in matchers:
        if m.name == METRIC_NAME:
            continue
        if m.op is MatchOp.EQ and m.name not in out:
            out[m.name] = m.value
        else:
            out.pop(m.name, None)
    return out


def absent(present: np.ndarray, labels: dict[str, str]) -> Vector:
    empty = ~present.any(axis=0)
    return Vector([labels], np.ones((1, empty.size)), empty[None, :])


_TEMPLATE = re.compile(r"\$\$|\$\{(\w+)\}|\$(\w+)")


def _expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.ExpandString``: $1, ${1}, $name, ${name}; unknown groups are empty."""

    def group(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(2)
        try:
            value = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:  # no such group
            return ""
        return value or ""

    return _TEMPLATE.sub(group, template)


def label_replace(vec: Vector, dst: str, replacement: str, src: str, regex: str) -> Vector:
    try:
        pattern = re.compile(f"^(?:{regex})$")
    except re.error as exc:
        raise QueryError(f"invalid regular expression in label_replace(): {regex}") from exc
    if not LABEL_NAME_RE.match(dst):
        raise QueryError(f"invalid destination label name in label_replace(): {dst}")
    labels = []
    for ls in vec.labels:
        match = pattern.match(ls.get(src, ""))
        out = dict(ls)
        if match is not None:
            value = _expand(replacement, match)
            if value:
                out[dst] = value
            else:
                out.pop(dst, None)
        labels.append(out)
    return merge_rows(labels, vec.values, vec.present)


def label_join(vec: Vector, dst: str, sep: str, sources: list[str]) -> Vector:
    if not LABEL_NAME_RE.match(dst):
        raise QueryError(f"invalid destination label name in label_join(): {dst}")
    labels = []
    for ls in vec.labels:
        out = dict(ls)
        value = sep.join(ls.get(s, "") for s in sources)
        if value:
            out[dst] = value
        else:
            out.pop(dst, None)
        labels.append(out)
    return merge_rows(labels, vec.values, vec.present)


def _calendar(name: str, seconds: np.ndarray) -> np.ndarray:
    t = np.floor(seconds).astype("int64").astype("datetime64[s]")
    day = t.astype("datetime64[D]")
    month = t.astype("datetime64[M]")
    year = t.astype("datetime64[Y]")
    if name == "minute":
        return ((t - t.astype("datetime64[h]")).astype(np.int64) // 60).astype(np.float64)
    if name == "hour":
        return (t.astype("datetime64[h]") - day).astype(np.int64).astype(np.float64)
    if name == "day_of_week":
        return ((day.astype(np.int64) + 4) % 7).astype(np.float64)  # 1970-01-01: Thursday
    if name == "day_of_month":
        return ((day - month).astype(np.int64) + 1).astype(np.float64)
    if name == "month":
        return ((month - year).astype(np.int64) + 1).astype(np.float64)
    if name == "year":
        return (year.astype(np.int64) + 1970).astype(np.float64)
    # days_in_month
    return ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.float64)


CALENDAR = {"minute", "hour", "day_of_week", "day_of_month", "month", "year", "days_in_month"}


def calendar(name: str, vec: Vector) -> Vector:
    finite = np.isfinite(vec.values)
    out = np.full(vec.values.shape, np.nan)
    if finite.any():
        out[finite] = _calendar(name, vec.values[finite])
    return Vector(vec.labels, out, vec.present).without_name()
