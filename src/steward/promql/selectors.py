"""Vector and range-vector selectors: one ``Store.select`` per selector per query.

On the real store (``steward.tsdb``) the read is ``reads.select_columns``: the same
samples as ``select`` but as flat arrays decoded in batches, which is the shape the
windows are built on; other stores go through ``select``.

Window bounds follow Prometheus 2.x (the version Debian ships and the differential test
runs): an instant selector takes the newest sample in ``[t - offset - lookback, t -
offset]`` and a range selector every sample in ``[t - offset - range, t - offset]``, both
ends included (Prometheus 3.0 made the start exclusive; see ``LEFT_OPEN``).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

import numpy as np
import promql_parser as pp

from steward.promql.errors import UnsupportedQuery
from steward.promql.values import RangeWindows, Vector
from steward.tsdb import reads
from steward.tsdb.reads import SeriesColumns
from steward.tsdb.store import TimeSeriesStore
from steward.tsdb.types import METRIC_NAME, Matcher, MatchOp, Store

# Prometheus 3.0 excludes a sample lying exactly on the window's start (left-open); 2.x
# includes it. True switches to 3.x behaviour.
LEFT_OPEN = False

# The parser's enums are not hashable: map by their names.
_OPS = {
    "MatchOp.Equal": MatchOp.EQ,
    "MatchOp.NotEqual": MatchOp.NE,
    "MatchOp.Re": MatchOp.RE,
    "MatchOp.NotRe": MatchOp.NRE,
}


def duration_ms(delta: timedelta | None) -> int:
    if delta is None:
        return 0
    return round(delta.total_seconds() * 1000)


def matchers_of(node: pp.VectorSelector) -> list[Matcher]:
    """The store matchers of a selector; rejects what the engine does not evaluate."""
    if node.at is not None:
        raise UnsupportedQuery("@ modifier", str(node.at))
    if node.matchers.or_matchers:
        raise UnsupportedQuery("'or' inside label matchers")
    matchers = [Matcher(m.name, _OPS[str(m.op)], m.value) for m in node.matchers.matchers]
    if node.name:
        matchers.insert(0, Matcher(METRIC_NAME, MatchOp.EQ, node.name))
    return matchers


class Fetcher:
    """Reads a selector's samples for every step of the query in one store call."""

    def __init__(self, store: Store, org_ids: Collection[int] | None, steps: np.ndarray) -> None:
        self.store = store
        self.org_ids = org_ids
        self.steps = steps  # int64 ms

    def select(self, matchers: list[Matcher], start_ms: int, end_ms: int) -> SeriesColumns:
        """``Store.select`` as flat arrays; straight from the chunks for the real store."""
        if isinstance(self.store, TimeSeriesStore):
            return reads.select_columns(self.store, self.org_ids, matchers, start_ms, end_ms)
        return SeriesColumns.of(self.store.select(self.org_ids, matchers, start_ms, end_ms))

    def windows(self, node: pp.VectorSelector, range_ms: int) -> RangeWindows:
        """Every step's window ``[t - offset - range_ms, t - offset]`` of the selector."""
        offset = duration_ms(node.offset)
        ends = self.steps - offset
        starts = ends - range_ms
        first, last = int(starts.min()), int(ends.max())
        data = self.select(matchers_of(node), first, last)
        return windows_of(data, starts, ends, range_ms)

    def instant(self, node: pp.VectorSelector, lookback_ms: int) -> Vector:
        """The newest sample of each series within the lookback window, per step."""
        w = self.windows(node, lookback_ms)
        present = w.hi > w.lo
        last = np.where(present, w.hi - 1, 0)
        values = w.vs[last] if w.vs.size else np.zeros(present.shape)
        return Vector(w.labels, values, present)


def windows_of(
    data: SeriesColumns, starts: np.ndarray, ends: np.ndarray, range_ms: int
) -> RangeWindows:
    """The windows ``[starts[i], ends[i]]`` (ms) of every series for every step ``i``."""
    base = int(starts.min())
    span = int(ends.max()) - base + 1
    ts_all, vs_all = data.timestamps, data.values
    sizes = np.diff(data.offsets)
    keep = (ts_all >= base) & (ts_all < base + span)  # a store may return a wider range
    if not keep.all():
        owner = np.repeat(np.arange(len(sizes)), sizes)
        ts_all, vs_all = ts_all[keep], vs_all[keep]
        sizes = np.bincount(owner[keep], minlength=len(sizes)).astype(np.int64)
    labels = [ls for ls, size in zip(data.labels, sizes.tolist(), strict=True) if size]
    sizes = sizes[sizes > 0]
    count = len(labels)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    # One sorted key space for all series: series s owns [s * span, (s + 1) * span).
    series_idx = np.repeat(np.arange(count, dtype=np.int64), sizes)
    keys = series_idx * span + (ts_all - base)
    row = (np.arange(count, dtype=np.int64) * span)[:, None]
    lo = np.searchsorted(keys, row + (starts - base)[None, :], "right" if LEFT_OPEN else "left")
    hi = np.searchsorted(keys, row + (ends - base)[None, :], "right")
    return RangeWindows(
        labels=labels,
        ts=ts_all,
        vs=vs_all,
        starts=offsets,
        lo=lo.astype(np.int64),
        hi=hi.astype(np.int64),
        range_start=starts,
        range_end=ends,
        range_ms=range_ms,
    )
