"""An in-memory ``Store``: the reference implementation of the contract, for tests.

Semantics are those documented in ``steward.tsdb.types``: idempotent on (series,
timestamp), every series in one organization, ``org_ids=None`` reads all of them. It keeps
raw samples only (``tier`` is accepted and ignored) and applies no limits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import numpy as np

from steward.tsdb.reads import SeriesColumns
from steward.tsdb.types import (
    METRIC_NAME,
    AppendResult,
    Labels,
    Matcher,
    MatchOp,
    MetricType,
    Sample,
    SeriesData,
    SeriesMetadata,
    Tier,
)

SeriesKey = tuple[int, tuple[tuple[str, str], ...]]


class _Series:
    """One series' samples in numpy arrays with spare capacity at the end.

    Numpy arrays are not tracked by the garbage collector, ``array.array`` objects are
    (``gc.get_objects()`` lists them on 3.11): with 50,000 series, two ``array`` per
    series made every full collection walk 100,000 more objects, a cost larger than the
    fleet query itself (``bench/query.py``). ``__slots__`` spares a ``__dict__`` each.

    ``arrays()`` hands out views of the first ``n`` samples; nothing ever writes below
    ``n`` again (appends write past it, inserts and growth copy), so a view stays valid.
    """

    __slots__ = ("_n", "_ts", "_vs", "labels", "org_id")

    def __init__(self, org_id: int, labels: dict[str, str]) -> None:
        self.org_id = org_id
        self.labels = labels
        self._ts = np.zeros(0, dtype=np.int64)
        self._vs = np.zeros(0, dtype=np.float64)
        self._n = 0

    def add(self, ts: int, value: float) -> bool:
        """False when the timestamp is already stored (the first value wins)."""
        n = self._n
        if n == 0 or ts > self._ts[n - 1]:
            if n == self._ts.size:
                self._grow(max(16, 2 * n))
            self._ts[n] = ts
            self._vs[n] = value
            self._n = n + 1
            return True
        i = int(np.searchsorted(self._ts[:n], ts))
        if self._ts[i] == ts:
            return False
        self._ts = np.insert(self._ts[:n], i, ts)
        self._vs = np.insert(self._vs[:n], i, value)
        self._n = n + 1
        return True

    def extend(self, ts: np.ndarray, vs: np.ndarray) -> None:
        """Appends samples that all come after the last one, in time order."""
        n = self._n
        self._ts = np.concatenate([self._ts[:n], ts])
        self._vs = np.concatenate([self._vs[:n], vs])
        self._n = n + ts.size

    def last(self) -> int | None:
        return int(self._ts[self._n - 1]) if self._n else None

    def _grow(self, capacity: int) -> None:
        n = self._n
        ts = np.empty(capacity, dtype=np.int64)
        vs = np.empty(capacity, dtype=np.float64)
        ts[:n], vs[:n] = self._ts[:n], self._vs[:n]
        self._ts, self._vs = ts, vs

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        n = self._n
        if n == self._ts.size:  # bulk-loaded: no spare capacity, no view to make
            return self._ts, self._vs
        return self._ts[:n], self._vs[:n]

    def window(self, start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray]:
        ts, vs = self.arrays()
        if not ts.size or (start_ms <= ts[0] and ts[-1] <= end_ms):
            return ts, vs
        lo = int(np.searchsorted(ts, start_ms, "left"))
        hi = int(np.searchsorted(ts, end_ms, "right"))
        return ts[lo:hi], vs[lo:hi]


class MemoryStore:
    """A ``Store`` held in dicts and numpy arrays; fine for tens of millions of samples."""

    def __init__(self) -> None:
        self._series: dict[SeriesKey, _Series] = {}
        self._by_name: dict[str, list[_Series]] = {}
        self._metadata: dict[tuple[int, str], SeriesMetadata] = {}

    # -- writing ---------------------------------------------------------------------------

    def _get(self, org_id: int, labels: Labels, result: AppendResult | None) -> _Series:
        key = (org_id, tuple(sorted(labels.items())))
        series = self._series.get(key)
        if series is None:
            series = _Series(org_id, dict(labels))
            self._series[key] = series
            self._by_name.setdefault(labels.get(METRIC_NAME, ""), []).append(series)
            if result is not None:
                result.new_series += 1
        return series

    def append(self, org_id: int, samples: Iterable[Sample]) -> AppendResult:
        result = AppendResult()
        for sample in samples:
            if not sample.labels.get(METRIC_NAME):
                result.rejected += 1
                result.errors.append("sample without a metric name")
                continue
            series = self._get(org_id, sample.labels, result)
            if series.add(sample.timestamp_ms, float(sample.value)):
                result.accepted += 1
            else:
                result.duplicates += 1
        return result

    def append_series(
        self, org_id: int, labels: Labels, timestamps: Sequence[int], values: Sequence[float]
    ) -> None:
        """Bulk load of one series' samples in timestamp order (benchmarks, fixtures)."""
        series = self._get(org_id, labels, None)
        ts = np.asarray(timestamps, dtype=np.int64)
        vs = np.asarray(values, dtype=np.float64)
        if ts.shape != vs.shape:
            raise ValueError("timestamps and values differ in length")
        last = series.last()
        if ts.size and (last is None or ts[0] > last) and (np.diff(ts) > 0).all():
            series.extend(ts, vs)
            return
        for t, v in zip(ts.tolist(), vs.tolist(), strict=True):
            series.add(t, v)

    def set_metadata(self, org_id: int, metadata: Iterable[SeriesMetadata]) -> None:
        """As the Store protocol: several families at once."""
        for item in metadata:
            self._metadata[(org_id, item.metric)] = item

    # -- reading ---------------------------------------------------------------------------

    def _matching(
        self, org_ids: Collection[int] | None, matchers: Sequence[Matcher]
    ) -> list[_Series]:
        by_name = [m for m in matchers if m.name == METRIC_NAME and m.op is MatchOp.EQ]
        if by_name:
            candidates: Iterable[_Series] = self._by_name.get(by_name[0].value, [])
            # Every candidate has that name: its matcher needs no test per series.
            matchers = [m for m in matchers if m is not by_name[0]]
        else:
            candidates = self._series.values()
        orgs = None if org_ids is None else set(org_ids)
        if orgs is not None:
            candidates = [s for s in candidates if s.org_id in orgs]
        if not matchers:
            return list(candidates)
        return [s for s in candidates if all(m.matches(s.labels) for m in matchers)]

    def select(
        self,
        org_ids: Collection[int] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        tier: Tier | None = None,
    ) -> list[SeriesData]:
        out = []
        for s in self._matching(org_ids, matchers):
            ts, vs = s.window(start_ms, end_ms)
            if ts.size:
                out.append(SeriesData(dict(s.labels), ts, vs))
        return out

    def select_columns(
        self,
        org_ids: Collection[int] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
    ) -> SeriesColumns:
        """``select`` as flat arrays (``SeriesColumns``), the PromQL engine's read.

        No ``SeriesData`` and no label copy per series: with thousands of series those
        objects cost as much as the samples (and, surviving the query, they trigger the
        garbage collector's full passes). The label dicts are the store's own: readers
        must not modify them (the engine copies before it changes labels).
        """
        labels: list[dict[str, str]] = []
        ts_parts: list[np.ndarray] = []
        vs_parts: list[np.ndarray] = []
        for s in self._matching(org_ids, matchers):
            ts, vs = s.window(start_ms, end_ms)
            if ts.size:
                labels.append(s.labels)
                ts_parts.append(ts)
                vs_parts.append(vs)
        offsets = np.zeros(len(labels) + 1, dtype=np.int64)
        if not labels:
            return SeriesColumns(labels, np.zeros(0, np.int64), np.zeros(0, np.float64), offsets)
        np.cumsum([t.size for t in ts_parts], out=offsets[1:])
        return SeriesColumns(labels, np.concatenate(ts_parts), np.concatenate(vs_parts), offsets)

    def series(
        self,
        org_ids: Collection[int] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
    ) -> list[dict[str, str]]:
        return [
            dict(s.labels)
            for s in self._matching(org_ids, matchers)
            if s.window(start_ms, end_ms)[0].size
        ]

    def label_names(
        self, org_ids: Collection[int] | None, matchers: Sequence[Matcher]
    ) -> list[str]:
        names: set[str] = set()
        for s in self._matching(org_ids, matchers):
            names.update(k for k, v in s.labels.items() if v)
        return sorted(names)

    def label_values(
        self, org_ids: Collection[int] | None, name: str, matchers: Sequence[Matcher]
    ) -> list[str]:
        values = {s.labels[name] for s in self._matching(org_ids, matchers) if s.labels.get(name)}
        return sorted(values)

    def metadata(
        self, org_ids: Collection[int] | None, metric: str | None = None
    ) -> list[SeriesMetadata]:
        orgs = None if org_ids is None else set(org_ids)
        seen: dict[str, SeriesMetadata] = {}
        for (org_id, name), meta in sorted(self._metadata.items()):
            if (orgs is None or org_id in orgs) and (metric is None or name == metric):
                seen.setdefault(name, meta)
        return list(seen.values())


__all__ = ["MemoryStore", "MetricType"]
