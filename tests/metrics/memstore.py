"""A minimal in-memory ``Store`` for ingest tests: dedupe on (series, timestamp), limits.

Deliberately small: the real store has its own tests; these check what ingest hands it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from steward.tsdb.types import AppendResult, Matcher, Sample, SeriesData, SeriesMetadata


class MemoryStore:
    def __init__(self, max_series_per_org: int | None = None) -> None:
        self.max_series_per_org = max_series_per_org
        self.data: dict[int, dict[frozenset, dict[int, float]]] = {}
        self.meta: dict[int, dict[str, SeriesMetadata]] = {}
        self.appends = 0
        self.maintained: list[int] = []

    def append(self, org_id: int, samples: Iterable[Sample]) -> AppendResult:
        self.appends += 1
        result = AppendResult()
        series = self.data.setdefault(org_id, {})
        for sample in samples:
            key = frozenset(sample.labels.items())
            points = series.get(key)
            if points is None:
                limit = self.max_series_per_org
                if limit is not None and len(series) >= limit:
                    result.rejected += 1
                    if not result.errors:
                        result.errors.append(f"series limit of {limit} per organization reached")
                    continue
                points = series[key] = {}
                result.new_series += 1
            if sample.timestamp_ms in points:
                result.duplicates += 1
                continue
            points[sample.timestamp_ms] = sample.value
            result.accepted += 1
        return result

    def set_metadata(self, org_id: int, items: list[SeriesMetadata]) -> None:
        for item in items:
            self.meta.setdefault(org_id, {})[item.metric] = item

    def maintain(self, now_ms: int) -> dict:
        self.maintained.append(now_ms)
        return {}

    def select(
        self,
        org_ids: Collection[int] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        tier=None,
    ) -> list[SeriesData]:
        out = []
        for org_id, series in self.data.items():
            if org_ids is not None and org_id not in org_ids:
                continue
            for key, points in series.items():
                labels = dict(key)
                if all(m.matches(labels) for m in matchers):
                    ts = sorted(t for t in points if start_ms <= t <= end_ms)
                    out.append(SeriesData(labels, ts, [points[t] for t in ts]))
        return out

    # --- helpers for assertions ---------------------------------------------------------

    def all_series(self, org_id: int | None = None) -> list[dict[str, str]]:
        return [
            dict(key)
            for oid, series in self.data.items()
            if org_id is None or oid == org_id
            for key in series
        ]

    def find(self, name: str, **labels: str) -> list[tuple[dict[str, str], dict[int, float]]]:
        found = []
        for series in self.data.values():
            for key, points in series.items():
                d = dict(key)
                if d.get("__name__") == name and all(d.get(k) == v for k, v in labels.items()):
                    found.append((d, points))
        return found

    def sample_count(self) -> int:
        return sum(len(p) for series in self.data.values() for p in series.values())
