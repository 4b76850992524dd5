"""An in-memory ``Store``: the reference implementation of the contract, for tests.

Semantics are those documented in ``steward.tsdb.types``: idempotent on (series,
timestamp), every series in one organization, ``org_ids=None`` reads all of them. It keeps
raw samples only (``tier`` is accepted and ignored) and applies no limits.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

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


@dataclass
class _Series:
    org_id: int
    labels: dict[str, str]
    # Typed arrays: 16 bytes a sample, and numpy reads them without copying.
    timestamps: array = field(default_factory=lambda: array("q"))
    values: array = field(default_factory=lambda: array("d"))
    _arrays: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, ts: int, value: float) -> bool:
        """False when the timestamp is already stored (the first value wins)."""
        self._arrays = None
        if not self.timestamps or ts > self.timestamps[-1]:
            self.timestamps.append(ts)
            self.values.append(value)
            return True
        i = bisect.bisect_left(self.timestamps, ts)
        if i < len(self.timestamps) and self.timestamps[i] == ts:
            return False
        self.timestamps.insert(i, ts)
        self.values.insert(i, value)
        return True

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:
            self._arrays = (
                np.frombuffer(self.timestamps, dtype=np.int64).copy(),
                np.frombuffer(self.values, dtype=np.float64).copy(),
            )
        return self._arrays

    def window(self, start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray]:
        ts, vs = self.arrays()
        if not ts.size or (start_ms <= ts[0] and ts[-1] <= end_ms):
            return ts, vs
        lo = int(np.searchsorted(ts, start_ms, "left"))
        hi = int(np.searchsorted(ts, end_ms, "right"))
        return ts[lo:hi], vs[lo:hi]


class MemoryStore:
    """A ``Store`` held in dicts and lists; fine for a few million samples."""

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
        last = series.timestamps[-1] if series.timestamps else None
        if ts.size and (last is None or ts[0] > last) and (np.diff(ts) > 0).all():
            series.timestamps.frombytes(ts.tobytes())
            series.values.frombytes(vs.tobytes())
            series._arrays = None
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
        names = [m.value for m in matchers if m.name == METRIC_NAME and m.op is MatchOp.EQ]
        if names:
            candidates: Iterable[_Series] = self._by_name.get(names[0], [])
        else:
            candidates = self._series.values()
        orgs = None if org_ids is None else set(org_ids)
        return [
            s
            for s in candidates
            if (orgs is None or s.org_id in orgs) and all(m.matches(s.labels) for m in matchers)
        ]

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
