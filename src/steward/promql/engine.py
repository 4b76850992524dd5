"""Evaluates a parsed PromQL expression over a ``Store``, for every step at once.

The query text is parsed by ``promql_parser`` (the Rust parser of the GreptimeDB project,
compatible with Prometheus 2.45's grammar); this module walks its AST. An instant query is
a range query of one step.
"""

from __future__ import annotations

from collections.abc import Collection
from itertools import compress

import numpy as np
import promql_parser as pp

from steward.promql import aggregations, binops, functions
from steward.promql import range_functions as rf
from steward.promql.errors import QueryError, UnsupportedQuery
from steward.promql.result import Result, ResultType, Series
from steward.promql.selectors import Fetcher, duration_of, matchers_of
from steward.promql.values import RangeWindows, Scalar, String, Value, Vector, label_key
from steward.tsdb.types import Store

DEFAULT_LOOKBACK_MS = 300_000

# The parser's enums are not hashable: map by their names.
_CARD = {
    "VectorMatchCardinality.OneToOne": "one-to-one",
    "VectorMatchCardinality.ManyToOne": "many-to-one",
    "VectorMatchCardinality.OneToMany": "one-to-many",
    "VectorMatchCardinality.ManyToMany": "many-to-many",
}
_ORDERING = {"sort", "sort_desc"}
# From this many series on, a range result converts to lists as one block (``_matrix``).
_BLOCK_ROWS_MIN = 16


def parse(expr: str) -> pp.Expr:
    """The AST of ``expr``; ``QueryError`` with the parser's message when it is invalid."""
    try:
        return pp.parse(expr)
    except ValueError as exc:
        raise QueryError(str(exc)) from None


def _unwrap(node: pp.Expr) -> pp.Expr:
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


class Evaluator:
    """Evaluates one query over fixed steps (int64 ms)."""

    def __init__(
        self,
        store: Store,
        org_ids: Collection[int] | None,
        steps: np.ndarray,
        lookback_ms: int = DEFAULT_LOOKBACK_MS,
    ) -> None:
        self.steps = steps
        self.lookback_ms = lookback_ms
        self.fetcher = Fetcher(store, org_ids, steps)

    @property
    def n(self) -> int:
        return int(self.steps.size)

    def eval(self, node: pp.Expr) -> Value:
        if isinstance(node, pp.ParenExpr):
            return self.eval(node.expr)
        if isinstance(node, pp.NumberLiteral):
            return Scalar(np.full(self.n, node.val))
        if isinstance(node, pp.StringLiteral):
            return String(node.val)
        if isinstance(node, pp.VectorSelector):
            return self.fetcher.instant(node, self.lookback_ms)
        if isinstance(node, pp.MatrixSelector):
            return self.fetcher.windows(node.vector_selector, duration_of(node, "range"))
        if isinstance(node, pp.UnaryExpr):
            value = self.eval(node.expr)
            if isinstance(value, Scalar):
                return Scalar(-value.values)
            return binops.unary_minus(self._vector(value))
        if isinstance(node, pp.BinaryExpr):
            return self._binary(node)
        if isinstance(node, pp.AggregateExpr):
            return self._aggregate(node)
        if isinstance(node, pp.Call):
            return self._call(node)
        if isinstance(node, pp.SubqueryExpr):
            raise UnsupportedQuery("subquery", "e.g. rate(x[5m])[1h:1m]")
        raise UnsupportedQuery(type(node).__name__)

    def _vector(self, value: Value) -> Vector:
        if not isinstance(value, Vector):
            raise QueryError(f"expected an instant vector, got {type(value).__name__.lower()}")
        return value

    def _scalar(self, value: Value) -> Scalar:
        if not isinstance(value, Scalar):
            raise QueryError(f"expected a scalar, got {type(value).__name__.lower()}")
        return value

    def _string(self, node: pp.Expr) -> str:
        value = self.eval(node)
        if not isinstance(value, String):
            raise QueryError("expected a string")
        return value.value

    def _windows(self, value: Value) -> RangeWindows:
        if not isinstance(value, RangeWindows):
            raise QueryError("expected a range vector")
        return value

    def _binary(self, node: pp.BinaryExpr) -> Value:
        op = str(node.op)
        mod = node.modifier
        matching = binops.Matching()
        if mod is not None:
            fill = mod.fill_values
            if fill is not None and (fill.lhs is not None or fill.rhs is not None):
                raise UnsupportedQuery("fill modifiers")
            matching.card = _CARD[str(mod.card)]
            matching.return_bool = bool(mod.return_bool)
            matching.include = tuple(mod.group_labels or ())
            if mod.matching is not None:
                matching.on = mod.matching.type == pp.LabelModifierType.Include
                matching.labels = tuple(mod.matching.labels)
        if op not in {*binops.ARITHMETIC, *binops.COMPARISON, *binops.SET_OPERATORS}:
            raise UnsupportedQuery(f"binary operator {op}")
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
            return binops.scalar_scalar(op, lhs, rhs)
        if isinstance(lhs, Vector) and isinstance(rhs, Scalar):
            return binops.vector_scalar(op, lhs, rhs, False, matching)
        if isinstance(lhs, Scalar) and isinstance(rhs, Vector):
            return binops.vector_scalar(op, rhs, lhs, True, matching)
        return binops.vector_vector(op, self._vector(lhs), self._vector(rhs), matching)

    def _aggregate(self, node: pp.AggregateExpr) -> Vector:
        op = str(node.op)
        if op not in aggregations.REDUCING and op not in aggregations.SELECTING:
            raise UnsupportedQuery(f"aggregation {op}")
        vec = self._vector(self.eval(node.expr))
        param = None
        if node.param is not None:
            param = self._scalar(self.eval(node.param)).values
            if op in aggregations.SELECTING:
                _check_k(param)
        by, names = True, []
        if node.modifier is not None:
            by = node.modifier.type == pp.AggModifierType.By
            names = list(node.modifier.labels)
        return aggregations.aggregate(op, vec, by, names, param)

    def _call(self, node: pp.Call) -> Value:
        name = node.func.name
        args = list(node.args)
        if name in rf.SIMPLE:
            w = self._windows(self.eval(args[0]))
            # Prometheus 2.x keeps the metric name for last_over_time only.
            return self._from_windows(w, rf.SIMPLE[name](w), keep_name=name == "last_over_time")
        if name == "quantile_over_time":
            q = self._scalar(self.eval(args[0])).values
            w = self._windows(self.eval(args[1]))
            return self._from_windows(w, rf.quantile_over_time(w, q))
        if name == "predict_linear":
            w = self._windows(self.eval(args[0]))
            seconds = self._scalar(self.eval(args[1])).values
            return self._from_windows(w, rf.predict_linear(w, seconds, self.steps))
        if name == "time":
            return Scalar(self.steps / 1000.0)
        if name == "vector":
            return functions.vector(self._scalar(self.eval(args[0])))
        if name == "scalar":
            return functions.scalar(self._vector(self.eval(args[0])))
        if name in functions.ELEMENTWISE:
            return functions.elementwise(name, self._vector(self.eval(args[0])))
        if name in ("clamp", "clamp_min", "clamp_max"):
            vec = self._vector(self.eval(args[0]))
            bounds = [self._scalar(self.eval(a)).values for a in args[1:]]
            if name == "clamp":
                return functions.clamp(vec, bounds[0], bounds[1])
            if name == "clamp_min":
                return functions.clamp(vec, bounds[0], None)
            return functions.clamp(vec, None, bounds[0])
        if name == "round":
            vec = self._vector(self.eval(args[0]))
            to = self._scalar(self.eval(args[1])).values if len(args) > 1 else np.ones(self.n)
            return functions.round_(vec, to)
        if name in _ORDERING:
            return functions.sort(self._vector(self.eval(args[0])), name == "sort_desc")
        if name in ("absent", "absent_over_time"):
            return self._absent(name, args[0])
        if name == "label_replace":
            vec = self._vector(self.eval(args[0]))
            dst, repl, src, regex = (self._string(a) for a in args[1:5])
            return functions.label_replace(vec, dst, repl, src, regex)
        if name == "label_join":
            vec = self._vector(self.eval(args[0]))
            dst, sep, *sources = (self._string(a) for a in args[1:])
            return functions.label_join(vec, dst, sep, sources)
        if name in functions.CALENDAR:
            if args:
                vec = self._vector(self.eval(args[0]))
            else:
                vec = functions.vector(Scalar(self.steps / 1000.0))
            return functions.calendar(name, vec)
        raise UnsupportedQuery(f"function {name}()")

    def _from_windows(self, w: RangeWindows, out: rf.Out, keep_name: bool = False) -> Vector:
        values, present = out
        vec = Vector(w.labels, values, present)
        return vec if keep_name else vec.without_name()

    def _absent(self, name: str, arg: pp.Expr) -> Vector:
        value = self.eval(arg)
        node = _unwrap(arg)
        selector = node.vector_selector if isinstance(node, pp.MatrixSelector) else node
        labels = {}
        if isinstance(selector, pp.VectorSelector):
            labels = functions.absent_labels(matchers_of(selector))
        if name == "absent":
            present = self._vector(value).present
        else:
            present = self._windows(value).count > 0
        return functions.absent(present, labels)


def _check_k(k: np.ndarray) -> None:
    """``topk``/``bottomk``'s k must convert to int64 at every step (Prometheus'
    ``convertibleToInt64``): NaN, infinities and larger values are an execution error."""
    bad = ~((k >= -(2.0**63)) & (k <= 2.0**63))  # NaN compares false
    if bad.any():
        v = float(k[int(np.flatnonzero(bad)[0])])
        text = "NaN" if v != v else ("+Inf" if v == np.inf else "-Inf" if v == -np.inf else repr(v))
        raise QueryError(f"Scalar value {text} overflows int64", execution=True)


def _steps(start_ms: int, end_ms: int, step_ms: int) -> np.ndarray:
    if step_ms <= 0:
        raise QueryError("zero or negative query resolution step widths are not accepted")
    if end_ms < start_ms:
        raise QueryError("end timestamp must not be before start time")
    return np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)


def evaluate_range(
    expr: str,
    start_ms: int,
    end_ms: int,
    step_ms: int,
    store: Store,
    org_ids: Collection[int] | None,
    lookback_ms: int = DEFAULT_LOOKBACK_MS,
) -> Result:
    """``expr`` at ``start_ms, start_ms + step_ms, ... <= end_ms``: always a matrix.

    Every selector is read once for the whole range. ``org_ids=None`` reads every
    organization (staff only: the caller decides).
    """
    node = parse(expr)
    steps = _steps(start_ms, end_ms, step_ms)
    value = Evaluator(store, org_ids, steps, lookback_ms).eval(node)
    if isinstance(value, Scalar):
        value = functions.vector(value)
    if not isinstance(value, Vector):
        kind = "range vector" if isinstance(value, RangeWindows) else "string"
        raise QueryError(
            f'invalid expression type "{kind}" for range query, must be Scalar or instant Vector'
        )
    return Result(ResultType.MATRIX, _matrix(value, steps))


def _matrix(value: Vector, steps: np.ndarray) -> list[Series]:
    """The vector's series in label order, each with its present steps only.

    With many series mostly present (a fleet query) the block converts to Python lists
    with one ``tolist`` each and rows pick their present steps with ``compress``: no
    numpy call per series. A few series (one host over 24 h), or a sparse block (series
    that come and go over a long range), convert row by row: cheaper for a few rows, and
    absent cells never become Python floats.
    """
    order = sorted(range(len(value)), key=lambda i: label_key(value.labels[i]))
    series = []
    few = len(value) < _BLOCK_ROWS_MIN
    if few or 2 * int(np.count_nonzero(value.present)) < value.present.size:
        for i in order:
            idx = np.flatnonzero(value.present[i])
            if idx.size:
                series.append(
                    Series(
                        dict(value.labels[i]), steps[idx].tolist(), value.values[i, idx].tolist()
                    )
                )
        return series
    rows = value.values.tolist()
    masks = value.present.tolist()
    all_steps = steps.tolist()
    for i in order:
        mask = masks[i]
        if all(mask):
            series.append(Series(dict(value.labels[i]), all_steps.copy(), rows[i]))
        elif any(mask):
            series.append(
                Series(
                    dict(value.labels[i]),
                    list(compress(all_steps, mask)),
                    list(compress(rows[i], mask)),
                )
            )
    return series


def evaluate_instant(
    expr: str,
    time_ms: int,
    store: Store,
    org_ids: Collection[int] | None,
    lookback_ms: int = DEFAULT_LOOKBACK_MS,
) -> Result:
    """``expr`` at ``time_ms``: a vector, a scalar, a string, or (for a range selector such
    as ``x[5m]``) the matrix of its raw samples."""
    node = parse(expr)
    steps = np.array([time_ms], dtype=np.int64)
    value = Evaluator(store, org_ids, steps, lookback_ms).eval(node)
    if isinstance(value, Scalar):
        return Result(ResultType.SCALAR, scalar=float(value.values[0]), time_ms=time_ms)
    if isinstance(value, String):
        return Result(ResultType.STRING, string=value.value, time_ms=time_ms)
    if isinstance(value, RangeWindows):
        raw = []
        for s, labels in enumerate(value.labels):
            lo, hi = int(value.lo[s, 0]), int(value.hi[s, 0])
            if hi > lo:
                raw.append(Series(dict(labels), value.ts[lo:hi].tolist(), value.vs[lo:hi].tolist()))
        return Result(ResultType.MATRIX, raw, time_ms=time_ms)
    rows = [i for i in range(len(value)) if value.present[i, 0]]
    top = _unwrap(node)
    ordered = (isinstance(top, pp.Call) and top.func.name in _ORDERING) or (
        isinstance(top, pp.AggregateExpr) and str(top.op) in aggregations.SELECTING
    )
    if isinstance(top, pp.AggregateExpr) and ordered:
        descending = str(top.op) == "topk"
        rows.sort(key=lambda i: -value.values[i, 0] if descending else value.values[i, 0])
    elif not ordered:
        rows.sort(key=lambda i: label_key(value.labels[i]))
    series = [Series(dict(value.labels[i]), [time_ms], [float(value.values[i, 0])]) for i in rows]
    return Result(ResultType.VECTOR, series, time_ms=time_ms)
