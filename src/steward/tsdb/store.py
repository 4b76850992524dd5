"""The store: append and the metadata calls here, reads in ``reads.py``, upkeep in
``maintenance.py``; ADR 0002 explains the layout.

Tables (one set per SQLite file or PostgreSQL schema):

- ``series``: id, org, 16-byte label hash, metric, device, canonical labels (JSON),
  first/last sample time (last refreshed at most every 10 min);
- ``raw``: recent samples, ``(series_id, ts) -> value``, a WITHOUT ROWID B-tree on SQLite,
  so an idempotent insert is one ``ON CONFLICT DO NOTHING`` probe of the key;
- ``chunk_raw`` / ``chunk_1m`` / ``chunk_1h``: compressed runs (``codec.py``) of raw
  samples per series-hour, 1-minute buckets per series-hour, 1-hour buckets per
  series-day; written by ``maintain()`` from raw samples older than the *watermark*
  (``compact_after_ms`` before ``now``, floored to ``compact_step_ms``: both 5 min by
  default, so the raw table holds the last 5-10 minutes and a "last hour" query reads
  chunks; the hour being filled is a partial chunk, re-merged at every step);
- ``metadata``: type/unit/help per (org, metric); ``meta``: watermark, flags, lease;
- ``raw_gen``: a generation per ``raw`` bucket, renewed by every transaction that writes
  to the bucket, so a reader's head cache (``head.py``, SQLite) knows a cached bucket is
  still what the table holds.

A replayed sample older than the watermark is checked against its chunk on append (and
counted as a duplicate if there) so idempotency holds across compaction too; one that is
new goes to ``raw`` and is merged into its chunk (and its rollups recomputed) by the next
``maintain()``.
"""

# S608: SQL here is assembled from fixed fragments (table names, IN-list clauses) only;
# every value travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from steward.tsdb import chunkcache, head, maintenance, reads
from steward.tsdb.backends import (
    RAW_BUCKET_MS,
    Backend,
    PostgresBackend,
    SqliteBackend,
    expand_runs,
)
from steward.tsdb.codec import decode_many
from steward.tsdb.registry import Learned, Pending, Registry, add_error
from steward.tsdb.types import (
    DAY_MS,
    HOUR_MS,
    METRIC_NAME,
    MINUTE_MS,
    AppendResult,
    Labels,
    Limits,
    MaintainResult,
    Matcher,
    Retention,
    RollupField,
    Sample,
    SeriesData,
    SeriesMetadata,
    Tier,
)

# The watermark trails now by 5-10 min (ADR 0002): far enough behind that samples in
# flight (agents send every 10 s) arrive above it, close enough that a "last hour" query
# reads chunks (~0.1 µs a sample) rather than rows (~1.2 µs).
DEFAULT_COMPACT_AFTER_MS = 5 * MINUTE_MS
DEFAULT_COMPACT_STEP_MS = 5 * MINUTE_MS
# select(tier=None): ranges longer than these read the coarser tier (ADR 0002).
MINUTE_TIER_AFTER_MS = 2 * DAY_MS
HOUR_TIER_AFTER_MS = 60 * DAY_MS
_TIERS = (Tier.RAW, Tier.MINUTE, Tier.HOUR)


_SID = itemgetter(0)
_TS = itemgetter(1)
_LO = itemgetter(0)  # of a cached (first, last) bounds pair
_HI = itemgetter(1)
# One append's work for ``_write``: rows of known series, new label sets, (id, ts) pairs
# beyond the cached first/last times, the oldest timestamp, and where to count.
_Job = tuple[
    "list[tuple[int, int, float]] | Columns",
    dict[tuple[tuple[str, str], ...], Pending],
    list[tuple[int, int]],
    int,
    AppendResult,
]


class Columns:
    """``(series_id, ts_ms, value)`` rows as columns: ids, values, and runs of equal
    timestamps (``append_resolved`` takes it where it takes a list of row tuples).

    Line protocol's fast path (``metrics/linefast.py``) hands the store 10,000 rows a
    request whose lines mostly share one timestamp. As tuples that was 10,000 objects
    built, walked by ``itemgetter`` three or four times (window, bounds, sort, buckets)
    and freed; as columns a line adds its ids and values with two list extends, the
    timestamps are one ``(start, ts)`` run per distinct stamp, and the window check,
    the buckets touched and the insert's parameter list work on whole lists in C.

    ``runs``: ``(start, ts)`` pairs, ``start`` strictly increasing from 0: rows
    ``start`` up to the next run's start (or the end) have timestamp ``ts``. A run is
    never empty (``add`` is the only way in that needs care).
    """

    __slots__ = ("ids", "runs", "values")

    def __init__(
        self,
        ids: list[int] | None = None,
        values: list[float] | None = None,
        runs: list[tuple[int, int]] | None = None,
    ) -> None:
        self.ids: list[int] = [] if ids is None else ids
        self.values: list[float] = [] if values is None else values
        self.runs: list[tuple[int, int]] = [] if runs is None else runs

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, float]]) -> Columns:
        """The same rows, in the same order (tests, and callers holding tuples)."""
        out = cls()
        for sid, ts, value in rows:
            out.add(ts, (sid,), (value,))
        return out

    def add(self, ts: int, ids: Sequence[int], values: Sequence[float]) -> None:
        """Append rows sharing ``ts`` (``ids`` and ``values`` of equal length)."""
        if not ids:
            return
        runs = self.runs
        if not runs or runs[-1][1] != ts:
            runs.append((len(self.ids), ts))
        self.ids += ids
        self.values += values

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[tuple[int, int, float]]:
        """The rows as tuples: a store that only knows rows still takes columns."""
        return iter(self.rows())

    def stamps(self) -> list[int]:
        """The timestamp column, one per row."""
        return expand_runs(self.runs, len(self.ids))

    def distinct_stamps(self) -> set[int]:
        return {ts for _, ts in self.runs}

    def rows(self) -> list[tuple[int, int, float]]:
        """As ``(series_id, ts, value)`` tuples, in order (the general path's form)."""
        return list(zip(self.ids, self.stamps(), self.values, strict=True))


def check_compaction(compact_after_ms: int, compact_step_ms: int) -> None:
    """Refuse settings that would break the store's invariants.

    The step must be whole minutes (a 1-minute bucket never straddles the watermark, so
    stored 1-minute buckets are complete) and divide an hour (hour chunks fill in equal
    steps and an hour boundary is always a watermark position, so a chunk_1h bucket
    below ``floor_hour(watermark)`` is complete). A minute of delay at least, so samples
    a few seconds old are not routinely "late" (late samples cost a chunk lookup).
    """
    if compact_step_ms < MINUTE_MS or compact_step_ms % MINUTE_MS or HOUR_MS % compact_step_ms:
        raise ValueError("compact_step_ms must be whole minutes dividing an hour")
    if compact_after_ms < MINUTE_MS:
        raise ValueError("compact_after_ms must be at least a minute")


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


class TimeSeriesStore:
    """Implements ``types.ManagedStore`` on SQLite or PostgreSQL (see ``open_store``)."""

    def __init__(
        self,
        backend: Backend,
        *,
        limits: Limits | None = None,
        retention: Retention | None = None,
        clock: Callable[[], int] | None = None,
        compact_after_ms: int = DEFAULT_COMPACT_AFTER_MS,
        compact_step_ms: int = DEFAULT_COMPACT_STEP_MS,
        head_cache_rows: int = head.DEFAULT_MAX_ROWS,
        chunk_cache_bytes: int | None = None,
    ) -> None:
        check_compaction(compact_after_ms, compact_step_ms)
        self.backend = backend
        # Decoded chunks for reads (chunkcache.py): the process's shared cache unless
        # this store asks for its own bound (0: none).
        self.chunk_cache: chunkcache.DecodedChunks | None = (
            chunkcache.shared()
            if chunk_cache_bytes is None
            else chunkcache.DecodedChunks(chunk_cache_bytes)
            if chunk_cache_bytes > 0
            else None
        )
        # Settled buckets of ``raw`` in memory, for reads (head.py); SQLite only.
        self.head = (
            head.HeadCache(head_cache_rows)
            if head_cache_rows > 0 and backend.keeps_generations
            else None
        )
        self.limits = limits or Limits()
        self.retention = retention or Retention()
        self.clock = clock or _wall_clock_ms
        self.compact_after_ms = compact_after_ms
        self.compact_step_ms = compact_step_ms
        self.registry = Registry(backend, self.limits, self.clock)
        self._metadata_written: dict[tuple[int, str], SeriesMetadata] = {}
        backend.setup()

    # -- writes -----------------------------------------------------------------------

    def append(self, org_id: int, samples: Iterable[Sample]) -> AppendResult:
        """Store samples; see ``types.Store.append``. One transaction per call."""
        return self.append_resolved(org_id, (), samples)

    def series_id(self, org_id: int, labels: Labels) -> int | None:
        """The id of a label set this process has appended to before, else None.

        A cache lookup only (no query). Ingest keeps it to skip building label dicts
        for series it sees again: see ``append_resolved``.
        """
        cache = self.registry.by_items.get(org_id)
        return None if cache is None else cache.get(tuple(labels.items()))

    def append_resolved(
        self,
        org_id: int,
        rows: Iterable[tuple[int, int, float]] | Columns,
        samples: Iterable[Sample] = (),
    ) -> AppendResult:
        """``append`` for ``(series_id, ts_ms, value)`` rows plus ``samples``, in one
        transaction, with the same time window, idempotency and bounds bookkeeping.
        ``rows`` may be ``Columns`` (the same rows, cheaper to hand over in bulk); the
        outcome is the same either way, row for row.

        Every id must come from ``series_id(org_id, ...)`` of this store: ids are
        per organization, and the caller vouches for that (it saves a label-set
        hash per sample, the costliest part of ``append``).
        """
        return self.append_resolved_parts(org_id, [(rows, samples)])[0]

    def append_parts(self, org_id: int, parts: Sequence[Iterable[Sample]]) -> list[AppendResult]:
        """``append`` of several sample lists in one transaction, each counted apart."""
        return self.append_resolved_parts(org_id, [((), samples) for samples in parts])

    def append_resolved_parts(
        self,
        org_id: int,
        parts: Sequence[tuple[Iterable[tuple[int, int, float]] | Columns, Iterable[Sample]]],
    ) -> list[AppendResult]:
        """``append_resolved`` of several (rows, samples) parts in one transaction, each
        counted apart: an agent's batch and its own health series, one commit and the
        batch's answer exact."""
        now = self.clock()
        oldest = now - min(self.limits.max_past_ms, self.retention.raw_ms)
        newest = now + self.limits.max_future_ms
        results: list[AppendResult] = []
        jobs: list[_Job] = []
        for rows, samples in parts:
            result = AppendResult()
            results.append(result)
            job = self._resolved_job(org_id, rows, samples, result, oldest, newest)
            if job is not None:
                jobs.append(job)
        if jobs:
            self._write(org_id, jobs)
        return results

    def _resolved_job(
        self,
        org_id: int,
        rows: Iterable[tuple[int, int, float]] | Columns,
        samples: Iterable[Sample],
        result: AppendResult,
        oldest: int,
        newest: int,
    ) -> _Job | None:
        """One part's rows inside the window, its new label sets and the bounds it
        widens (None: nothing to write); refusals are counted in ``result``."""
        if isinstance(rows, Columns):
            job = self._columns_job(org_id, rows, samples, result, oldest, newest)
            if job is not False:
                return job
            rows = rows.rows()  # some rows outside the window: the general path below
        bounds = self.registry.bounds
        rows = rows if isinstance(rows, list) else list(rows)
        stamps = list(map(_TS, rows))
        min_ts = min(stamps, default=newest)
        max_ts = max(stamps, default=oldest)
        if rows and oldest <= min_ts and max_ts <= newest:
            # The usual case, all inside the window: C-level passes only (a loop per row
            # was ~15% of a line-protocol write). Rows beyond their series' cached bounds
            # are "touched"; when every series' bounds hold the whole [min_ts, max_ts]
            # there are none, which is the case between two bounds refreshes.
            out = rows.copy()
            got = list(map(bounds.get, map(_SID, rows)))
            if None not in got and max(map(_LO, got)) <= min_ts and max_ts <= min(map(_HI, got)):
                touched = []
            else:
                touched = [
                    (sid, ts)
                    for (sid, ts, _), b in zip(rows, got, strict=True)
                    if b is None or ts < b[0] or ts > b[1]
                ]
        else:
            out, touched, min_ts = self._window(rows, result, oldest, newest)
        pending: dict[tuple[tuple[str, str], ...], Pending] = {}
        min_ts = self._collect(
            org_id, samples, result, oldest, newest, out, pending, touched, min_ts
        )
        if not out and not pending:
            return None
        return (out, pending, touched, min_ts, result)

    def _columns_job(
        self,
        org_id: int,
        cols: Columns,
        samples: Iterable[Sample],
        result: AppendResult,
        oldest: int,
        newest: int,
    ) -> _Job | bool | None:
        """``_resolved_job`` for columns all inside the window; False if some are not
        (the caller then takes the row path, which refuses and counts them).

        The same decisions as the row path: the window and the cached bounds are checked
        on the runs' timestamps and the id column, and samples of known series are added
        after the columns, in the order the row path would have them.
        """
        stamps = [ts for _, ts in cols.runs]
        if not stamps:
            return self._resolved_job(org_id, [], samples, result, oldest, newest)
        min_ts = min(stamps)
        max_ts = max(stamps)
        if min_ts < oldest or max_ts > newest:
            return False
        ids = cols.ids
        got = list(map(self.registry.bounds.get, ids))
        touched: list[tuple[int, int]]
        if None not in got and max(map(_LO, got)) <= min_ts and max_ts <= min(map(_HI, got)):
            touched = []
        else:
            touched = [
                (sid, ts)
                for sid, ts, b in zip(ids, cols.stamps(), got, strict=True)
                if b is None or ts < b[0] or ts > b[1]
            ]
        more: list[tuple[int, int, float]] = []
        pending: dict[tuple[tuple[str, str], ...], Pending] = {}
        min_ts = self._collect(
            org_id, samples, result, oldest, newest, more, pending, touched, min_ts
        )
        if more:  # a copy: the caller's columns stay as they were
            cols = Columns(cols.ids.copy(), cols.values.copy(), cols.runs.copy())
            for sid, ts, value in more:
                cols.add(ts, (sid,), (value,))
        return (cols, pending, touched, min_ts, result)

    def _window(
        self, rows: list[tuple[int, int, float]], result: AppendResult, oldest: int, newest: int
    ) -> tuple[list[tuple[int, int, float]], list[tuple[int, int]], int]:
        """Rows inside [oldest, newest] (the others refused and counted), the (id, ts)
        pairs beyond the cached bounds, and the oldest timestamp kept."""
        bounds = self.registry.bounds
        out: list[tuple[int, int, float]] = []
        add = out.append
        touched: list[tuple[int, int]] = []  # (id, ts) beyond what series.first/last say
        min_ts = newest
        for row in rows:
            sid, ts, _ = row
            if ts < oldest or ts > newest:
                labels = self.registry.labels.get(sid, (0, {}))[1]
                self._reject_time(result, Sample(labels, ts, row[2]), ts, oldest, newest)
                continue
            if ts < min_ts:
                min_ts = ts
            add(row)
            b = bounds.get(sid)
            if b is None or ts < b[0] or ts > b[1]:
                touched.append((sid, ts))
        return out, touched, min_ts

    def _collect(
        self,
        org_id: int,
        samples: Iterable[Sample],
        result: AppendResult,
        oldest: int,
        newest: int,
        rows: list[tuple[int, int, float]],
        pending: dict[tuple[tuple[str, str], ...], Pending],
        touched: list[tuple[int, int]],
        min_ts: int,
    ) -> int:
        """Sort samples into rows (known series) and pending (new label sets)."""
        cache = self.registry.items_cache(org_id)
        bounds = self.registry.bounds
        last_labels: object = None
        items: tuple[tuple[str, str], ...] = ()
        sid: int | None = None
        # The hot loop: a dict lookup per label set, nothing else per sample.
        for sample in samples:
            ts = sample.timestamp_ms
            if ts < oldest or ts > newest:
                self._reject_time(result, sample, ts, oldest, newest)
                continue
            if ts < min_ts:
                min_ts = ts
            labels = sample.labels
            if labels is not last_labels:
                last_labels = labels
                items = tuple(labels.items())
                sid = cache.get(items)
            if sid is None:
                p = pending.get(items)
                if p is None:
                    p = pending[items] = Pending(labels)
                p.points.append((ts, sample.value))
                continue
            rows.append((sid, ts, sample.value))
            b = bounds.get(sid)
            if b is None or ts < b[0] or ts > b[1]:
                touched.append((sid, ts))
        return min_ts

    def _write(self, org_id: int, jobs: list[_Job]) -> None:
        """Each job's rows, pending label sets and bounds, in one write transaction.

        The registry's caches learn the transaction's new ids and bounds only once it has
        committed (registry.py): a rolled-back one leaves them as they were.
        """
        b = self.backend
        conn = b.conn()
        learned: list[Learned] = []
        spans: dict[int, list[int]] = {}  # series id -> [first, last] written to series
        with b.write(conn):
            b.lock_appends(conn)
            watermark = self._meta(conn, "watermark")
            stamps: set[int] = set()  # of the rows handed to insert_raw
            for rows, pending, touched, min_ts, result in jobs:
                if isinstance(rows, Columns):
                    if not pending and min_ts >= watermark:
                        # The usual case: columns straight to the insert.
                        inserted = b.insert_columns(conn, rows.ids, rows.values, rows.runs)
                        result.accepted += inserted
                        result.duplicates += len(rows) - inserted
                        if b.keeps_generations:
                            stamps.update(rows.distinct_stamps())
                        if touched:
                            self._update_bounds(conn, touched, spans)
                        continue
                    rows = rows.rows()
                if pending:
                    new_rows, widen = self.registry.register(conn, org_id, pending, result, learned)
                    rows.extend(new_rows)
                    touched.extend(widen)
                if rows and min_ts < watermark:
                    rows = self._drop_compacted(conn, rows, watermark, result)
                if rows:
                    inserted = b.insert_raw(conn, rows)
                    result.accepted += inserted
                    result.duplicates += len(rows) - inserted
                    if b.keeps_generations:
                        stamps.update(map(_TS, rows))
                if touched:
                    self._update_bounds(conn, touched, spans)
            if stamps:
                # A new generation for every bucket written to (head.py): a batch
                # usually holds one or two timestamps, so this is one or two rows.
                b.touch_buckets(conn, {ts - ts % RAW_BUCKET_MS for ts in stamps})
        self.registry.learn(learned, spans)

    def _reject_time(
        self, result: AppendResult, sample: Sample, ts: int, oldest: int, newest: int
    ) -> None:
        result.rejected += 1
        if len(result.errors) < 10:
            name = sample.labels.get(METRIC_NAME, "?")
            if ts < oldest:
                why = f"older than the accepted {(self.clock() - oldest) // 60_000} minutes"
            else:
                why = f"more than {self.limits.max_future_ms // 1000} s in the future"
            add_error(result, f"{name}: sample at {ts} ms is {why}")

    def _meta(self, conn: Any, key: str) -> int:
        row = self.backend.execute(conn, "SELECT value FROM meta WHERE key = ?", (key,))
        return int(row.fetchone()[0])

    def _drop_compacted(
        self, conn: Any, rows: list[tuple[int, int, float]], watermark: int, result: AppendResult
    ) -> list[tuple[int, int, float]]:
        """Leave out samples already in a chunk; flag the rest for the next compaction.

        The watermark trails now by minutes, so an agent's spool replay after a short
        outage lands here with a few hundred series at once: one query per hour chunk
        for all of them and one batched decode, not a query per series.
        """
        fresh = [r for r in rows if r[1] >= watermark]
        late = [r for r in rows if r[1] < watermark]
        by_hour: dict[int, set[int]] = {}
        for sid, ts, _ in late:
            by_hour.setdefault(ts - ts % HOUR_MS, set()).add(sid)
        stored: set[tuple[int, int]] = set()
        for hour, sids in by_hour.items():
            where, param = self.backend.id_filter("series_id", sorted(sids))
            found = self.backend.execute(
                conn,
                f"SELECT series_id, data FROM chunk_raw WHERE start_ts = ? AND {where}",
                (hour, param),
            ).fetchall()
            if not found:
                continue
            stamps, _, sizes = decode_many([bytes(data) for _, data in found])
            owners = np.repeat(np.array([int(sid) for sid, _ in found], np.int64), sizes)
            stored.update(zip(owners.tolist(), stamps.tolist(), strict=True))
        keep = [r for r in late if (r[0], r[1]) not in stored]
        result.duplicates += len(late) - len(keep)
        if keep:
            self.backend.execute(conn, "UPDATE meta SET value = 1 WHERE key = 'late'")
        return fresh + keep

    def _update_bounds(
        self, conn: Any, touched: list[tuple[int, int]], written: dict[int, list[int]]
    ) -> None:
        """Widen series.first_ms/last_ms to the (id, ts) pairs of ``touched``, and merge
        what was written into ``written`` (the cache learns it after the commit)."""
        spans: dict[int, list[int]] = {}
        for sid, ts in touched:
            span = spans.get(sid)
            if span is None:
                spans[sid] = [ts, ts]
            elif ts < span[0]:
                span[0] = ts
            elif ts > span[1]:
                span[1] = ts
        self.backend.update_bounds(conn, [(lo, hi, sid) for sid, (lo, hi) in spans.items()])
        for sid, (lo, hi) in spans.items():
            seen = written.get(sid)
            if seen is None:
                written[sid] = [lo, hi]
            else:
                seen[0] = min(seen[0], lo)
                seen[1] = max(seen[1], hi)

    def set_metadata(self, org_id: int, metadata: Iterable[SeriesMetadata]) -> None:
        """Record type/unit/help per (org, metric); unchanged entries cost no write."""
        changed = {
            m.metric: m for m in metadata if self._metadata_written.get((org_id, m.metric)) != m
        }
        if not changed:
            return
        b = self.backend
        conn = b.conn()
        with b.write(conn):
            b.executemany(
                conn,
                "INSERT INTO metadata (org_id, metric, type, unit, help) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (org_id, metric) DO UPDATE SET type = excluded.type, "
                "unit = excluded.unit, help = excluded.help",
                [(org_id, m.metric, str(m.type), m.unit, m.help) for m in changed.values()],
            )
        for m in changed.values():
            self._metadata_written[(org_id, m.metric)] = m

    # -- reads ------------------------------------------------------------------------

    def pick_tier(self, start_ms: int, end_ms: int) -> Tier:
        """The coarser of: the tier for the range's length, the finest still holding start.

        Length: up to 2 days raw, up to 60 days 1-minute buckets, longer hourly ones (a
        chart is ~1,000 points wide; 2 days at 10 s is 17,280 already). Retention: raw
        if start is within ``retention.raw_ms`` of now, else 1 m within
        ``retention.minute_ms``, else 1 h.
        """
        span = end_ms - start_ms
        by_length = 0 if span <= MINUTE_TIER_AFTER_MS else 1 if span <= HOUR_TIER_AFTER_MS else 2
        age = self.clock() - start_ms
        by_age = 0 if age <= self.retention.raw_ms else 1 if age <= self.retention.minute_ms else 2
        return _TIERS[max(by_length, by_age)]

    def select(
        self,
        org_ids: Collection[int] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        tier: Tier | None = None,
    ) -> list[SeriesData]:
        """See ``types.Store.select``; rollup tiers give one point per bucket at its end."""
        return self.select_rollup(org_ids, matchers, start_ms, end_ms, RollupField.VALUE, tier)

    def select_rollup(
        self,
        org_ids: Collection[int] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        field: RollupField,
        tier: Tier | None = None,
    ) -> list[SeriesData]:
        """One field of each bucket (MIN/MAX for chart bands, COUNT for gaps...).

        On the raw tier every sample is a bucket of one: MIN = MAX = LAST = AVG = SUM =
        the value and COUNT = 1.
        """
        if tier is None:
            tier = self.pick_tier(start_ms, end_ms)
        return reads.select(self, org_ids, matchers, start_ms, end_ms, tier, field)

    def series(
        self,
        org_ids: Collection[int] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
    ) -> list[dict[str, str]]:
        """Label sets of matching series with samples around [start, end].

        Precision is ``BOUNDS_SLACK_MS`` (10 min): a series that stopped up to 10 min
        before ``start`` may be listed (Prometheus is block-precise, i.e. coarser).
        """
        return reads.series(self, org_ids, matchers, start_ms, end_ms)

    def label_names(
        self, org_ids: Collection[int] | None, matchers: Sequence[Matcher]
    ) -> list[str]:
        return reads.label_names(self, org_ids, matchers)

    def label_values(
        self, org_ids: Collection[int] | None, name: str, matchers: Sequence[Matcher]
    ) -> list[str]:
        return reads.label_values(self, org_ids, name, matchers)

    def metadata(
        self, org_ids: Collection[int] | None, metric: str | None = None
    ) -> list[SeriesMetadata]:
        return reads.metadata(self, org_ids, metric)

    def metric_types(self, conn: Any, keys: set[tuple[int, str]]) -> dict[tuple[int, str], str]:
        """(org, metric) -> type, for the rollup reads' avg-or-last choice."""
        if not keys:
            return {}
        metrics = sorted({m for _, m in keys})
        where, param = self.backend.id_filter("metric", metrics, text=True)
        cur = self.backend.execute(
            conn, f"SELECT org_id, metric, type FROM metadata WHERE {where}", (param,)
        )
        return {(int(o), m): t for o, m, t in cur.fetchall() if (int(o), m) in keys}

    # -- upkeep -----------------------------------------------------------------------

    def maintain(self, now_ms: int | None = None) -> MaintainResult:
        """Compact, roll up, apply retention (see ``maintenance.py``)."""
        return maintenance.maintain(self, self.clock() if now_ms is None else now_ms)

    def close(self) -> None:
        """Close this process's connections; the store must not be used afterwards."""
        self.backend.close()

    def size_bytes(self) -> int:
        """Bytes used on disk (file + WAL, or the schema's tables)."""
        return self.backend.size_bytes()


def open_store(
    target: str | Path,
    *,
    limits: Limits | None = None,
    retention: Retention | None = None,
    schema: str = "tsdb",
    clock: Callable[[], int] | None = None,
    compact_after_ms: int = DEFAULT_COMPACT_AFTER_MS,
    compact_step_ms: int = DEFAULT_COMPACT_STEP_MS,
    head_cache_rows: int = head.DEFAULT_MAX_ROWS,
    chunk_cache_bytes: int | None = None,
) -> TimeSeriesStore:
    """Open (creating if needed) the store at a SQLite file path or a postgresql:// URL.

    ``schema``: the PostgreSQL schema holding the tables (ignored for SQLite).
    ``clock``: milliseconds now, for the accepted time window and ``pick_tier`` (tests
    freeze it). ``compact_after_ms`` / ``compact_step_ms``: the watermark is
    ``floor(now - compact_after_ms, compact_step_ms)`` (see ``maintenance.py``).
    ``head_cache_rows``: at most this many rows of settled ``raw`` buckets kept in memory
    for reads (``head.py``: 14 bytes a row; 0 turns the cache off; SQLite only).
    ``chunk_cache_bytes``: None uses the process's shared cache of decoded chunks
    (``chunkcache.shared()``, sized by ``chunkcache.configure``); 0 turns it off for this
    store; another value gives this store a cache of its own. Safe to call from several
    processes at once.
    """
    text = str(target)
    backend: Backend
    if text.startswith(("postgresql://", "postgres://")):
        backend = PostgresBackend(text, schema)
    else:
        backend = SqliteBackend(Path(text))
    return TimeSeriesStore(
        backend,
        limits=limits,
        retention=retention,
        clock=clock,
        compact_after_ms=compact_after_ms,
        compact_step_ms=compact_step_ms,
        head_cache_rows=head_cache_rows,
        chunk_cache_bytes=chunk_cache_bytes,
    )
