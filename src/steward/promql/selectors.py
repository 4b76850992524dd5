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

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import timedelta
from typing import Protocol, runtime_checkable

import numpy as np
import promql_parser as pp

from steward.promql.errors import QueryError, UnsupportedQuery
from steward.promql.values import RangeWindows, Vector
from steward.tsdb import reads
from steward.tsdb.reads import SeriesColumns
from steward.tsdb.rollup import FIELDS
from steward.tsdb.store import TimeSeriesStore
from steward.tsdb.types import METRIC_NAME, Matcher, MatchOp, RollupField, Store, Tier

# Prometheus 3.0 excludes a sample lying exactly on the window's start (left-open); 2.x
# includes it. True switches to 3.x behaviour.
LEFT_OPEN = False

# From this many (series x steps) windows on, the bounds shared by consecutive windows
# are searched once (``_shared_search``); below it two plain searches are cheaper.
SHARED_BOUNDS_MIN = 50_000


@runtime_checkable
class ColumnStore(Protocol):
    """A store that can hand over a selection as flat arrays, sparing the engine one
    ``SeriesData`` per series (``MemoryStore``)."""

    def select_columns(
        self,
        org_ids: Collection[int] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
    ) -> SeriesColumns: ...


# The parser's enums are not hashable: map by their names.
_OPS = {
    "MatchOp.Equal": MatchOp.EQ,
    "MatchOp.NotEqual": MatchOp.NE,
    "MatchOp.Re": MatchOp.RE,
    "MatchOp.NotRe": MatchOp.NRE,
}


# Prometheus' durations are int64 nanoseconds (~292 years); longer ones do not parse.
MAX_DURATION_MS = (2**63 - 1) // 1_000_000


def duration_ms(delta: timedelta | None) -> int:
    if delta is None:
        return 0
    ms = round(delta.total_seconds() * 1000)
    if abs(ms) > MAX_DURATION_MS:
        raise QueryError("duration out of range")
    return ms


def duration_of(node: object, attribute: str) -> int:
    """``duration_ms`` of a node's ``range``/``offset``. The parser hands a duration
    beyond ``timedelta``'s range (``x[1000000000y]``) over as a ValueError on reading
    the attribute: that is the query's fault (400), not a crash (500)."""
    try:
        delta = getattr(node, attribute)
    except (ValueError, OverflowError):
        raise QueryError("duration out of range") from None
    return duration_ms(delta)


def matchers_of(node: pp.VectorSelector) -> list[Matcher]:
    """The store matchers of a selector; rejects what the engine does not evaluate."""
    if node.at is not None:
        raise UnsupportedQuery("@ modifier", str(node.at))
    if node.matchers.or_matchers:
        raise UnsupportedQuery("'or' inside label matchers")
    matchers = []
    for m in node.matchers.matchers:
        op = _OPS[str(m.op)]
        value = m.value
        if op in (MatchOp.RE, MatchOp.NRE):
            value = _python_regex(Matcher(m.name, op, value))
        matchers.append(Matcher(m.name, op, value))
    if node.name:
        matchers.insert(0, Matcher(METRIC_NAME, MatchOp.EQ, node.name))
    return matchers


# RE2's (and Rust's) POSIX classes, valid inside a bracket expression (``[[:alpha:]_]``),
# as the Python ranges they stand for. Python's ``re`` reads ``[[:alpha:]]`` as a set of
# the characters "[:alph" followed by "]": no error, a wrong answer.
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_POSIX_CLASS = re.compile(r"\[:(\^?)([a-z]+):\]")


def _python_regex(m: Matcher) -> str:
    """The matcher's pattern for Python's ``re`` (which the stores match with).

    The parser checked the pattern with Rust's regex crate, which (like Prometheus' RE2)
    also knows ``\\p{L}``, ``\\z``, ``(?U)`` and POSIX classes. POSIX classes are
    translated; a pattern ``re`` still cannot compile is the query's fault (400), not the
    server's (500).
    """
    value = m.value
    if "[:" in value:
        value = _translate_posix(m, value)
    try:
        re.compile(value)
    except re.error as exc:
        raise QueryError(
            f"{_describe(m)}: {exc} (not supported by Steward's regular expressions)"
        ) from None
    return value


def _describe(m: Matcher) -> str:
    op = "=~" if m.op is MatchOp.RE else "!~"
    return f'invalid regular expression in matcher {m.name}{op}"{m.value}"'


def _translate_posix(m: Matcher, value: str) -> str:
    out: list[str] = []
    i, n = 0, len(value)
    in_class = False
    while i < n:
        c = value[i]
        if c == "\\":
            out.append(value[i : i + 2])
            i += 2
            continue
        if not in_class:
            if c == "[":
                in_class = True
                out.append(c)
                i += 1
                if value.startswith("^", i):
                    out.append("^")
                    i += 1
                if value.startswith("]", i):  # a leading ']' is a literal
                    out.append("\\]")
                    i += 1
                continue
            out.append(c)
            i += 1
            continue
        found = _POSIX_CLASS.match(value, i) if c == "[" else None
        if found is not None:
            negated, name = found.groups()
            if name not in _POSIX_CLASSES or negated:
                raise QueryError(
                    f"{_describe(m)}: POSIX class [:{negated}{name}:] is not supported"
                )
            out.append(_POSIX_CLASSES[name])
            i = found.end()
            continue
        if c == "[":
            out.append("\\[")  # a literal inside a class (Python would warn of nesting)
        else:
            out.append(c)
            if c == "]":
                in_class = False
        i += 1
    return "".join(out)


class Fetcher:
    """Reads a selector's samples for every step of the query in one store call."""

    def __init__(self, store: Store, org_ids: Collection[int] | None, steps: np.ndarray) -> None:
        self.store = store
        self.org_ids = org_ids
        self.steps = steps  # int64 ms

    def select(self, matchers: list[Matcher], start_ms: int, end_ms: int) -> SeriesColumns:
        """``Store.select`` as flat arrays: straight from the chunks for the real store,
        from ``select_columns`` for a store that has it (``MemoryStore``)."""
        if isinstance(self.store, TimeSeriesStore):
            return reads.select_columns(self.store, self.org_ids, matchers, start_ms, end_ms)
        if isinstance(self.store, ColumnStore):
            return self.store.select_columns(self.org_ids, matchers, start_ms, end_ms)
        return SeriesColumns.of(self.store.select(self.org_ids, matchers, start_ms, end_ms))

    def select_fields(
        self, matchers: list[Matcher], start_ms: int, end_ms: int
    ) -> tuple[SeriesColumns, list[np.ndarray] | None]:
        """``select``, plus every bucket field (min, max, sum, count, last: ``FIELDS``)
        when the real store answers from a rollup tier; None for raw samples."""
        store = self.store
        if isinstance(store, TimeSeriesStore) and end_ms >= start_ms:
            tier = store.pick_tier(start_ms, end_ms)
            if tier is not Tier.RAW:
                got = reads.select_rollup_columns(
                    store, self.org_ids, matchers, start_ms, end_ms, tier
                )
                return got.columns, got.fields
        return self.select(matchers, start_ms, end_ms), None

    def windows(self, node: pp.VectorSelector, range_ms: int) -> RangeWindows:
        """Every step's window ``[t - offset - range_ms, t - offset]`` of the selector.

        From a rollup tier the windows are ``RollupWindows``: one point per bucket at its
        end, the VALUE field in ``vs`` and every field alongside, for the range functions
        that need the field matching them (``range_functions``)."""
        offset = duration_of(node, "offset")
        ends = self.steps - offset
        starts = ends - range_ms
        first, last = int(starts.min()), int(ends.max())
        data, fields = self.select_fields(matchers_of(node), first, last)
        return windows_of(data, starts, ends, range_ms, fields)

    def instant(self, node: pp.VectorSelector, lookback_ms: int) -> Vector:
        """The newest sample of each series within the lookback window, per step."""
        w = self.windows(node, lookback_ms)
        present = w.hi > w.lo
        last = np.where(present, w.hi - 1, 0)
        values = w.vs[last] if w.vs.size else np.zeros(present.shape)
        return Vector(w.labels, values, present)


@dataclass
class RollupWindows(RangeWindows):
    """Windows over rollup buckets (one point per bucket, at its end): ``vs`` holds the
    VALUE field (a counter's last, a gauge's average), ``fields`` the bucket columns of
    ``rollup.FIELDS`` (min, max, sum, count, last), aligned with ``ts``."""

    fields: list[np.ndarray] = dc_field(default_factory=list)
    # ``lo`` without a bucket ending exactly on the window's start (see windows_of): the
    # first bucket of the window's aggregates.
    lo_open: np.ndarray = dc_field(default_factory=lambda: np.zeros((0, 0), np.int64))

    def field(self, which: RollupField) -> np.ndarray:
        return self.fields[FIELDS.index(which)]


def windows_of(
    data: SeriesColumns,
    starts: np.ndarray,
    ends: np.ndarray,
    range_ms: int,
    fields: list[np.ndarray] | None = None,
) -> RangeWindows:
    """The windows ``[starts[i], ends[i]]`` (ms) of every series for every step ``i``.

    All series are searched at once: series ``s`` owns the key space ``[s * span, (s + 1)
    * span)``, so one sorted key array holds every sample and one ``searchsorted`` finds
    every window bound. ``fields``: rollup bucket columns aligned with the samples
    (``Fetcher.select_fields``), making the result ``RollupWindows``.
    """
    base = int(starts.min())
    span = int(ends.max()) - base + 1
    ts_all, vs_all = data.timestamps, data.values
    offsets = np.asarray(data.offsets, dtype=np.int64)
    sizes = np.diff(offsets)
    labels = data.labels
    if not _within(ts_all, offsets, sizes, base, base + span):
        # A store may return a wider range: keep the samples inside it only.
        keep = (ts_all >= base) & (ts_all < base + span)
        owner = np.repeat(np.arange(len(sizes)), sizes)
        ts_all, vs_all = ts_all[keep], vs_all[keep]
        if fields is not None:
            fields = [f[keep] for f in fields]
        sizes = np.bincount(owner[keep], minlength=len(sizes)).astype(np.int64)
    if not sizes.all():
        labels = [ls for ls, size in zip(labels, sizes.tolist(), strict=True) if size]
        sizes = sizes[sizes > 0]
    count = len(labels)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    row = np.arange(count, dtype=np.int64) * span
    keys = np.repeat(row - base, sizes)
    keys += ts_all
    if count * starts.size < SHARED_BOUNDS_MIN:
        # Few windows (one series over 24 h): two plain searches cost less than finding
        # the distinct bounds.
        side = "right" if LEFT_OPEN else "left"
        lo = np.searchsorted(keys, row[:, None] + (starts - base)[None, :], side)
        hi = np.searchsorted(keys, row[:, None] + (ends - base)[None, :], "right")
    else:
        lo, hi = _shared_search(keys, row, starts - base, ends - base, LEFT_OPEN)
    if fields is not None:
        # A bucket's point stands for the samples of [end - step, end): the one ending
        # on a window's start holds none of the window's samples (all are before it).
        # Aggregates over the buckets (max_over_time...) leave it out, or a 5m window at
        # a whole minute would read 6 one-minute buckets; functions of the values at
        # times (rate: the last sample by the bucket's end) keep it, as a sample there.
        lo_open = lo if LEFT_OPEN else lo + _on(keys, lo, row[:, None] + (starts - base)[None, :])
        return RollupWindows(
            labels, ts_all, vs_all, offsets, lo, hi, starts, ends, range_ms, fields, lo_open
        )
    return RangeWindows(labels, ts_all, vs_all, offsets, lo, hi, starts, ends, range_ms)


def _shared_search(
    keys: np.ndarray, row: np.ndarray, starts: np.ndarray, ends: np.ndarray, left_open: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Window bounds from one left-search over the distinct bounds of all windows.

    With a range a multiple of the step (``rate(x[5m])`` at 60 s) consecutive windows
    share most bounds, so this searches about half as many keys as two searches would. A
    right-search for ``end`` is the left-search plus one where a sample sits exactly on
    ``end`` (series own disjoint key spaces, so the sample found is never another's).
    """
    bounds, where = np.unique(np.concatenate([starts, ends]), return_inverse=True)
    where = where.reshape(-1)
    found = np.searchsorted(keys, row[:, None] + bounds[None, :], "left")
    # take() keeps C order (``found[:, idx]`` would not), which the range functions read.
    lo = np.take(found, where[: starts.size], axis=1)
    hi = np.take(found, where[starts.size :], axis=1)
    hi += _on(keys, hi, row[:, None] + ends[None, :])
    if left_open:
        lo += _on(keys, lo, row[:, None] + starts[None, :])
    return lo, hi


def _on(keys: np.ndarray, at: np.ndarray, key: np.ndarray) -> np.ndarray:
    """1 where ``keys[at]`` is ``key`` (``at`` may be one past the end), else 0."""
    if not keys.size:
        return np.zeros(at.shape, dtype=np.int64)
    hit = keys[np.minimum(at, keys.size - 1)] == key
    hit &= at < keys.size
    return hit.astype(np.int64)


def _within(ts: np.ndarray, offsets: np.ndarray, sizes: np.ndarray, lo: int, hi: int) -> bool:
    """Whether every sample lies in ``[lo, hi)``, from each series' first and last sample
    (each series is in time order)."""
    has = sizes > 0
    if not has.any():
        return True
    first = ts[offsets[:-1][has]]
    last = ts[offsets[1:][has] - 1]
    return bool((first >= lo).all() and (last < hi).all())
