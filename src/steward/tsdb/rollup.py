"""Rollup buckets and merges of sample runs, on numpy arrays (no I/O here).

A bucket of width ``step`` covers ``[start, start + step)`` and keeps min, max, sum,
count and last of the non-NaN samples in it (NaN is Prometheus' staleness marker, not a
measurement). Reads report a bucket at its END, ``start + step``, the Prometheus reading
of a point ("the value over the interval ending here"); a bucket is only reported once its
end is in the requested range, so a half-filled current minute never shows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from steward.tsdb.codec import Float64Array, Int64Array
from steward.tsdb.types import HOUR_MS, MINUTE_MS, MetricType, RollupField, Tier

# Chunk spans: raw samples and 1-minute buckets are chunked per series per hour, hourly
# buckets per series per day, so one chunk holds 360 samples at 10 s, 60 or 24 buckets.
CHUNK_SPAN = {Tier.RAW: HOUR_MS, Tier.MINUTE: HOUR_MS, Tier.HOUR: 24 * HOUR_MS}
STEP = {Tier.MINUTE: MINUTE_MS, Tier.HOUR: HOUR_MS}
FIELDS = (RollupField.MIN, RollupField.MAX, RollupField.SUM, RollupField.COUNT, RollupField.LAST)


class Buckets(NamedTuple):
    """Rollup buckets of one series, ``starts`` increasing; columns in ``FIELDS`` order."""

    starts: Int64Array
    columns: list[Float64Array]


def empty_buckets() -> Buckets:
    return Buckets(np.empty(0, np.int64), [np.empty(0, np.float64) for _ in FIELDS])


def aggregate(ts: Int64Array, values: Float64Array, step: int) -> Buckets:
    """Buckets of ``step`` ms over samples sorted by timestamp (one series)."""
    keyed = aggregate_keyed(np.zeros(len(ts), dtype=np.int64), ts, values, step)
    return Buckets(keyed.starts, keyed.columns)


def combine(buckets: Buckets, step: int) -> Buckets:
    """Coarser buckets from finer ones (min of mins, sum of sums, last of lasts...)."""
    keys = np.zeros(len(buckets.starts), dtype=np.int64)
    keyed = combine_keyed(KeyedBuckets(keys, buckets.starts, buckets.columns), step)
    return Buckets(keyed.starts, keyed.columns)


class KeyedBuckets(NamedTuple):
    """Rollup buckets of many series, sorted by (``keys``, ``starts``): what compaction
    computes for a range of series at once."""

    keys: Int64Array  # the series id of each bucket
    starts: Int64Array
    columns: list[Float64Array]


def runs(keys: Int64Array, starts: Int64Array) -> tuple[Int64Array, Int64Array]:
    """First and end index of each run of equal (key, start) in sorted arrays."""
    change = np.ones(len(keys), dtype=bool)
    change[1:] = (keys[1:] != keys[:-1]) | (starts[1:] != starts[:-1])
    first = np.flatnonzero(change)
    return first, np.concatenate((first[1:], [len(keys)]))


def aggregate_keyed(
    keys: Int64Array, ts: Int64Array, values: Float64Array, step: int
) -> KeyedBuckets:
    """``aggregate`` of many series at once: samples sorted by (key, ts)."""
    keep = ~np.isnan(values)
    keys, ts, values = keys[keep], ts[keep], values[keep]
    starts = ts - ts % step
    if not len(ts):
        return KeyedBuckets(keys, starts, empty_buckets().columns)
    first, ends = runs(keys, starts)
    return KeyedBuckets(
        keys[first],
        starts[first],
        [
            np.minimum.reduceat(values, first),
            np.maximum.reduceat(values, first),
            np.add.reduceat(values, first),
            (ends - first).astype(np.float64),
            values[ends - 1],
        ],
    )


def combine_keyed(buckets: KeyedBuckets, step: int) -> KeyedBuckets:
    """``combine`` of many series at once: buckets sorted by (key, start)."""
    starts = buckets.starts - buckets.starts % step
    if not len(starts):
        return KeyedBuckets(buckets.keys, starts, empty_buckets().columns)
    first, ends = runs(buckets.keys, starts)
    mins, maxs, sums, counts, lasts = buckets.columns
    return KeyedBuckets(
        buckets.keys[first],
        starts[first],
        [
            np.minimum.reduceat(mins, first),
            np.maximum.reduceat(maxs, first),
            np.add.reduceat(sums, first),
            np.add.reduceat(counts, first),
            lasts[ends - 1],
        ],
    )


def merge_keep_first(
    ts_parts: list[Int64Array], col_parts: list[list[Float64Array]]
) -> tuple[Int64Array, list[Float64Array]]:
    """Concatenate runs, sort by time and keep the FIRST run's row on equal timestamps.

    Used with the stored chunk first: a sample already stored wins over a replayed one,
    the same rule as ``INSERT ... ON CONFLICT DO NOTHING`` on the recent samples.
    """
    if len(ts_parts) == 1:
        return ts_parts[0], col_parts[0]
    ts = np.concatenate(ts_parts)
    ncols = len(col_parts[0])
    cols = [np.concatenate([part[i] for part in col_parts]) for i in range(ncols)]
    uniq, index = np.unique(ts, return_index=True)  # index: first occurrence of each
    return uniq, [c[index] for c in cols]


def field_values(buckets: Buckets, field: RollupField, metric_type: MetricType) -> Float64Array:
    """The requested field of each bucket (VALUE: last for counters, avg otherwise)."""
    if field is RollupField.VALUE:
        field = RollupField.LAST if metric_type is MetricType.COUNTER else RollupField.AVG
    if field is RollupField.AVG:
        return buckets.columns[2] / buckets.columns[3]
    return buckets.columns[FIELDS.index(field)]


def raw_field_values(values: Float64Array, field: RollupField) -> Float64Array:
    """A raw sample seen as a bucket of one: every field is the value, count is 1."""
    if field is RollupField.COUNT:
        return np.where(np.isnan(values), 0.0, 1.0)
    return values
