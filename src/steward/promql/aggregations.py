"""Aggregation operators (``sum by (instance) (...)``), evaluated for all steps at once.

Rows are sorted by group so each operator is one ``ufunc.reduceat`` along the series axis.
Grouping follows Prometheus: ``by`` keeps exactly the listed labels, ``without`` drops the
listed labels and ``__name__``; ``topk``/``bottomk`` keep their elements' labels.
"""

from __future__ import annotations

import numpy as np

from steward.promql.errors import UnsupportedQuery
from steward.promql.range_functions import quantile
from steward.promql.values import Vector, label_key
from steward.tsdb.types import METRIC_NAME

REDUCING = {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "quantile"}
SELECTING = {"topk", "bottomk"}


def group_labels(labels: dict[str, str], by: bool, names: list[str]) -> dict[str, str]:
    if by:
        return {k: labels[k] for k in names if k in labels}
    drop = {*names, METRIC_NAME}
    return {k: v for k, v in labels.items() if k not in drop}


def _groups(vec: Vector, by: bool, names: list[str]) -> tuple[list[dict[str, str]], np.ndarray]:
    """The distinct groups' label sets and each row's group index.

    Rows outnumber groups (8,000 CPU series, 1,000 hosts): each row costs a key only, and
    a group's label dict is made once, for its first row.
    """
    index: dict[object, int] = {}
    out: list[dict[str, str]] = []
    ordered = sorted(set(names))
    keys: list[object]
    if by and len(ordered) == 1:
        name = ordered[0]
        keys = [ls.get(name) for ls in vec.labels]  # a missing label is None, never ''
    elif by:
        # With ``by`` the key's order is known: skip sorting every row's items.
        keys = [tuple((k, ls[k]) for k in ordered if k in ls) for ls in vec.labels]
    else:
        keys = [label_key(group_labels(ls, by, names)) for ls in vec.labels]
    gids: list[int] = []
    for i, key in enumerate(keys):
        g = index.setdefault(key, len(out))
        if g == len(out):
            out.append(group_labels(vec.labels[i], by, names))
        gids.append(g)
    return out, np.array(gids, dtype=np.int64)


def aggregate(op: str, vec: Vector, by: bool, names: list[str], param: np.ndarray | None) -> Vector:
    steps = vec.values.shape[1]
    if len(vec) == 0:
        return Vector.empty(steps)
    if op in SELECTING:
        assert param is not None
        return _select_k(vec, by, names, param, op == "topk")
    if op not in REDUCING:
        raise UnsupportedQuery(f"aggregation {op}")
    labels, gid = _groups(vec, by, names)
    order = np.argsort(gid, kind="stable")
    sorted_gid = gid[order]
    bounds = np.flatnonzero(np.r_[True, sorted_gid[1:] != sorted_gid[:-1]])
    values, present = vec.values[order], vec.present[order]

    def reduce(ufunc: np.ufunc, arr: np.ndarray) -> np.ndarray:
        return ufunc.reduceat(arr, bounds, axis=0)

    count = reduce(np.add, present.astype(np.float64))
    out_present = count > 0
    with np.errstate(all="ignore"):
        if op == "count":
            out = count
        elif op == "group":
            out = np.ones(count.shape)
        elif op in ("sum", "avg", "stddev", "stdvar"):
            total = reduce(np.add, np.where(present, values, 0.0))
            out = total if op == "sum" else total / count
            if op in ("stddev", "stdvar"):
                mean = out[sorted_gid]
                dev = np.where(present, values - mean, 0.0)
                out = reduce(np.add, dev * dev) / count
                if op == "stddev":
                    out = np.sqrt(out)
        elif op in ("min", "max"):
            # fmin/fmax skip NaN unless all are NaN: Prometheus replaces a NaN by any value.
            ufunc = np.fmin if op == "min" else np.fmax
            out = reduce(ufunc, np.where(present, values, np.nan))
        else:  # quantile
            assert param is not None
            out = np.full(count.shape, np.nan)
            ends = np.r_[bounds[1:], len(order)]
            for g, (a, b) in enumerate(zip(bounds, ends, strict=True)):
                for i in np.flatnonzero(out_present[g]):
                    out[g, i] = quantile(float(param[i]), values[a:b, i][present[a:b, i]])
    # The group's rows were reordered; `labels` are indexed by group id, as are the rows.
    return Vector(labels, out, out_present)


def _select_k(vec: Vector, by: bool, names: list[str], k: np.ndarray, top: bool) -> Vector:
    """topk/bottomk: per group and step, the k largest (smallest) values; NaN ranks last."""
    _, gid = _groups(vec, by, names)
    selected = np.zeros(vec.present.shape, dtype=bool)
    kk = np.where(np.isnan(k), 0, k).astype(np.int64)
    for g in np.unique(gid):
        rows = np.flatnonzero(gid == g)
        vals, pres = vec.values[rows], vec.present[rows]
        nan = np.isnan(vals)
        # Sort keys, last one primary: absent last, then NaN, then by value.
        klass = np.where(~pres, 2, np.where(nan, 1, 0))
        key = np.where(nan | ~pres, 0.0, -vals if top else vals)
        order = np.lexsort((key, klass), axis=0)
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(len(rows))[:, None], axis=0)
        selected[rows] = (rank < kk[None, :]) & pres
    return Vector(vec.labels, vec.values, selected)
