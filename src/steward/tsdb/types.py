"""The contract of the time-series store, shared by ingest, query and the console.

Conventions (Prometheus'): timestamps are integer milliseconds since the epoch (UTC),
values are float64, a series is identified by its complete label set including
``__name__``. Every series belongs to exactly one organization (``org_id``): tenant
isolation for metrics is the ``org_ids`` argument of every read, which the callers fill
from ``tenancy.scoping`` and never from the request.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, Protocol

Labels = Mapping[str, str]

METRIC_NAME = "__name__"
# Labels Steward adds to every series it stores for a device; clients cannot set them.
DEVICE_LABEL = "steward_device"  # the device id, as a string
ORG_LABEL = "steward_org"  # the organization's slug
RESERVED_LABELS = frozenset({DEVICE_LABEL, ORG_LABEL})

METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class MetricType(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    UNKNOWN = "unknown"


class Sample(NamedTuple):
    """One value of one series at one time, as ingest hands it to the store.

    Immutable like the frozen dataclass it was, and built in half the time (~0.2 µs):
    ingest makes one per sample, millions a minute.
    """

    labels: Labels  # includes __name__
    timestamp_ms: int
    value: float


@dataclass
class AppendResult:
    accepted: int = 0  # new samples stored
    duplicates: int = 0  # same (series, timestamp) seen before: ignored (replays are safe)
    rejected: int = 0  # refused by a limit (see errors)
    new_series: int = 0
    errors: list[str] = field(default_factory=list)


class MatchOp(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    """A label matcher; regexes are fully anchored, as in PromQL."""

    name: str
    op: MatchOp
    value: str

    def matches(self, labels: Labels) -> bool:
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NE:
            return actual != self.value
        hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op is MatchOp.RE else not hit


@dataclass
class SeriesData:
    """The samples of one series in a time range, in timestamp order."""

    labels: dict[str, str]
    timestamps: Sequence[int]  # ms
    values: Sequence[float]


class Tier(StrEnum):
    RAW = "raw"
    MINUTE = "1m"
    HOUR = "1h"


@dataclass(frozen=True)
class SeriesMetadata:
    metric: str
    type: MetricType
    unit: str
    help: str


class RollupField(StrEnum):
    """What a rollup bucket keeps of the raw samples that fell in it (NaN ones skipped).

    ``AVG`` is derived (sum / count); ``VALUE`` is what ``Store.select`` returns: ``LAST``
    for counters, ``AVG`` for gauges and untyped metrics.
    """

    MIN = "min"
    MAX = "max"
    SUM = "sum"
    COUNT = "count"
    LAST = "last"
    AVG = "avg"
    VALUE = "value"


MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Limits:
    """The cardinality guard and the accepted time window of ``Store.append``.

    A sample that breaks a limit is rejected (counted, with a message) and never takes
    the other samples of its batch down with it. Series counts are checked when a new
    series is registered; with several writers on PostgreSQL they are soft (concurrent
    registrations may overshoot by a batch).

    The series limits count *active* series: those with a sample in the last
    ``active_series_ms`` (``series.last_ms``, kept to within ``BOUNDS_SLACK_MS``), as
    VictoriaMetrics' ``-maxDailySeries`` does. Label values that churn (a Docker host's
    ``veth*`` interfaces, the pids of its busiest processes) then age out of the count,
    where counting every series ever stored filled a device's limit within weeks and
    refused its new series for good. A series that comes back is never refused (only
    new series are).
    """

    max_series_per_device: int = 10_000  # devices are told apart by the steward_device label
    max_series_per_org: int = 1_000_000
    active_series_ms: int = DAY_MS
    max_label_name_len: int = 128
    max_label_value_len: int = 2048
    max_labels_per_series: int = 64  # __name__ included
    max_past_ms: int = 7 * DAY_MS  # also capped by Retention.raw_ms
    max_future_ms: int = 10 * MINUTE_MS


@dataclass(frozen=True)
class Retention:
    """How long each tier keeps data, in milliseconds (whole chunks are dropped)."""

    raw_ms: int = 7 * DAY_MS
    minute_ms: int = 90 * DAY_MS
    hour_ms: int = 730 * DAY_MS

    def of(self, tier: Tier) -> int:
        return {Tier.RAW: self.raw_ms, Tier.MINUTE: self.minute_ms, Tier.HOUR: self.hour_ms}[tier]


@dataclass
class MaintainResult:
    """What one ``maintain()`` call did; ``claimed=False``: another worker was at it."""

    claimed: bool = True
    compacted_series: int = 0
    compacted_samples: int = 0
    chunks_written: int = 0
    deleted_chunks: int = 0
    deleted_raw: int = 0
    watermark_ms: int = 0  # raw samples before this are in chunks and rollups


class Store(Protocol):
    """What the rest of Steward may ask of the store."""

    def append(self, org_id: int, samples: Iterable[Sample]) -> AppendResult:
        """Store samples; idempotent on (series, timestamp); limits per the store's config."""
        ...

    def select(
        self,
        org_ids: Collection[int] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        tier: Tier | None = None,
    ) -> list[SeriesData]:
        """Series matching all matchers with their samples in [start_ms, end_ms].

        ``org_ids=None`` means every organization (staff only). ``tier=None`` lets the
        store pick the finest tier that still covers the range under its retention;
        rollup tiers return one sample per bucket (avg for gauges, last for counters).
        """
        ...

    def series(
        self,
        org_ids: Collection[int] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
    ) -> list[dict[str, str]]: ...

    def label_names(
        self, org_ids: Collection[int] | None, matchers: Sequence[Matcher]
    ) -> list[str]: ...

    def label_values(
        self, org_ids: Collection[int] | None, name: str, matchers: Sequence[Matcher]
    ) -> list[str]: ...

    def metadata(
        self, org_ids: Collection[int] | None, metric: str | None = None
    ) -> list[SeriesMetadata]: ...

    def set_metadata(self, org_id: int, metadata: Iterable[SeriesMetadata]) -> None:
        """Record type/unit/help per (org, metric); the last write wins."""
        ...


class ManagedStore(Store, Protocol):
    """The store as the worker and the console see it: rollup fields, upkeep, shutdown."""

    def pick_tier(self, start_ms: int, end_ms: int) -> Tier:
        """The tier ``select(..., tier=None)`` reads for this range."""
        ...

    def select_rollup(
        self,
        org_ids: Collection[int] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        field: RollupField,
        tier: Tier | None = None,
    ) -> list[SeriesData]:
        """Like ``select`` but one chosen field of each bucket (e.g. MAX for chart bands)."""
        ...

    def maintain(self, now_ms: int | None = None) -> MaintainResult:
        """Compact, roll up and apply retention; idempotent, one worker at a time."""
        ...

    def close(self) -> None: ...
