"""Score every stored series with its own ``StreamDetector``; write rates and bands back.

One run, per organization (``score_organization``):

1. list the organization's metric families (``label_values(__name__)``) and their types;
2. per family: load the family's ``DetectorState`` rows (one query), read the new samples
   of *all* its series with **one** ``select`` from the oldest cursor of its running
   series (never further back than ``MAX_CATCHUP_MS``; see ``_read_start``), feed each
   series' samples newer than its own cursor to its detector (counters as per-second
   rates), and save every changed row with ``executemany`` (a transaction per
   ``SAVE_BATCH`` rows), each row guarded by its previous cursor (exactly-once learning,
   even if two workers raced); the states of series silent for ``FORGET_AFTER_MS`` are
   deleted;
3. derived signals (``SIGNALS``: the CPU chart's busy % and the memory chart's used bytes)
   are built per device from the family data already in hand and scored the same way;
4. write to the store: ``steward_anomaly_rate{steward_device, metric}`` (% of the
   samples flagged in the last hour, per device and family), and for the derived signals
   ``steward_expected_low``/``steward_expected_high`` (after ``LEARNING_SAMPLES``),
   ``steward_anomaly_score`` and, for flagged samples only, ``steward_anomaly_observed``
   (the chart's anomaly markers).

The rows of the signals and of their families (``SIGNAL_FAMILIES``) are saved only after
step 4: the signals are built from those families' new samples, so a run that fails
before its outputs are stored leaves their cursors as they were and the next run redoes
them (the store keeps the first of two equal samples). ``score_all`` logs an organization
whose run raises and goes on with the others.

Per-series scores stay in ``DetectorState`` (``last_score``, ``last_verdict``): a score
series per stored series would double the store's cardinality for little use.

A sample is *flagged* (counts in the anomaly rate) when the detector was as surprised as at
an alarm (surprise >= 4, i.e. ``confidence >= 1 - 1e-4``), also inside an episode, where
the reported score is damped (see ``steward.intel.detector``).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from steward.insights.models import SIGNAL_CPU, SIGNAL_MEMORY, SIGNAL_PREFIX, DetectorState
from steward.insights.window import Window
from steward.intel import StreamDetector, Verdict
from steward.tsdb.types import (
    DAY_MS,
    DEVICE_LABEL,
    HOUR_MS,
    METRIC_NAME,
    MINUTE_MS,
    ORG_LABEL,
    Matcher,
    MatchOp,
    MetricType,
    Sample,
    SeriesData,
    SeriesMetadata,
    Store,
    Tier,
)

BACKFILL_MS = 15 * MINUTE_MS  # what a family's first run reads
MAX_CATCHUP_MS = HOUR_MS  # a run never reads further back (a stopped worker skips ahead)
# A series this far behind its family's newest cursor has stopped (a removed disk, a
# decommissioned device): it no longer holds the family's read back (see ``_Run.family``).
STOPPED_AFTER_MS = 10 * MINUTE_MS
FORGET_AFTER_MS = 7 * DAY_MS  # the state of a series silent this long is deleted
DELETE_BATCH = 500
LEARNING_SAMPLES = 360  # ~1 h at 10 s: no expected band before this (the model is learning)
FLAG_CONFIDENCE = 1.0 - 1e-4  # surprise >= 4 (the detector's alarm level)
SAVE_BATCH = 2000
log = logging.getLogger("steward.insights")

ANOMALY_RATE = "steward_anomaly_rate"
ANOMALY_SCORE = "steward_anomaly_score"
ANOMALY_OBSERVED = "steward_anomaly_observed"
EXPECTED_LOW = "steward_expected_low"
EXPECTED_HIGH = "steward_expected_high"
OUTPUT_PREFIXES = ("steward_anomaly_", "steward_expected_")
OUTPUT_JOB = "steward_insights"

OUTPUT_METADATA = (
    SeriesMetadata(
        ANOMALY_RATE,
        MetricType.GAUGE,
        "percent",
        "Share of the samples of a device's metric family flagged as anomalous "
        "in the last hour (0-100).",
    ),
    SeriesMetadata(
        ANOMALY_SCORE,
        MetricType.GAUGE,
        "",
        "Anomaly score of a derived signal (0-1; 0.5 is the alarm level).",
    ),
    SeriesMetadata(
        ANOMALY_OBSERVED,
        MetricType.GAUGE,
        "",
        "Value of a derived signal at a sample flagged as anomalous (markers).",
    ),
    SeriesMetadata(
        EXPECTED_LOW,
        MetricType.GAUGE,
        "",
        "Lower edge of the detector's expected band for a derived signal.",
    ),
    SeriesMetadata(
        EXPECTED_HIGH,
        MetricType.GAUGE,
        "",
        "Upper edge of the detector's expected band for a derived signal.",
    ),
)

CPU_FAMILY = "node_cpu_seconds_total"
CPU_BUSY_MODES = frozenset({"user", "system", "iowait", "steal"})  # the CPU chart's stack
MEM_TOTAL = "node_memory_MemTotal_bytes"
MEM_AVAILABLE = "node_memory_MemAvailable_bytes"
SIGNAL_FAMILIES = frozenset({CPU_FAMILY, MEM_TOTAL, MEM_AVAILABLE})


@dataclass
class ScoreResult:
    organizations: int = 0
    families: int = 0
    series: int = 0  # series with at least one new sample
    new_series: int = 0
    samples: int = 0  # samples scored
    flagged: int = 0
    lost_races: int = 0  # rows another run had advanced first (not saved again)
    forgotten: int = 0  # states of series silent for FORGET_AFTER_MS, deleted
    written: int = 0  # samples written to the store
    seconds: float = 0.0
    unfinished: list[int] = field(default_factory=list)  # organizations left for next run
    failed: list[int] = field(default_factory=list)  # organizations whose run raised (logged)


# json.dumps(..., separators=...) builds an encoder per call; these run per series per run
_KEY_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
_JSON = json.JSONEncoder(separators=(",", ":"))


def series_key(labels: dict[str, str]) -> str:
    """SHA-256/16 of the canonical label JSON (the store's own series identity)."""
    canonical = _KEY_JSON.encode(labels)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def band_limits(signal: str, low: float, high: float) -> tuple[float, float]:
    """The expected band as the chart can show it: a CPU share stays within 0-100 %, used
    memory is never negative (the detector's band is symmetric noise, not a physical bound)."""
    if signal == SIGNAL_CPU:
        return min(max(low, 0.0), 100.0), min(max(high, 0.0), 100.0)
    return max(low, 0.0), max(high, 0.0)


def signal_key(signal: str, device_id: int) -> str:
    return f"signal:{signal}:{device_id}"


def _device_of(labels: dict[str, str]) -> int | None:
    value = labels.get(DEVICE_LABEL, "")
    return int(value) if value.isdigit() else None


def _as_list(values: Sequence[Any]) -> list[Any]:
    tolist = getattr(values, "tolist", None)
    return tolist() if tolist is not None else list(values)


def is_counter(name: str, types: dict[str, MetricType]) -> bool:
    kind = types.get(name)
    if kind is not None and kind is not MetricType.UNKNOWN:
        return kind is MetricType.COUNTER
    return name.endswith("_total")


def _raw_score(verdict: Verdict) -> float:
    """The undamped score (the damping inside an episode removed): from the confidence."""
    if verdict.confidence <= 0.0:
        return 0.0
    surprise = -math.log10(max(1.0 - verdict.confidence, 1e-16))
    return 1.0 - 2.0 ** (-surprise / 4.0)


def verdict_dict(verdict: Verdict, ts_ms: int) -> dict[str, Any]:
    return {
        "ts": ts_ms,
        "score": verdict.score,
        "raw_score": _raw_score(verdict),
        "is_anomaly": verdict.is_anomaly,
        "observed": verdict.observed,
        "expected_low": verdict.expected_low,
        "expected_high": verdict.expected_high,
        "pattern": verdict.pattern,
        "confidence": verdict.confidence,
        "span": verdict.span,
    }


def _onset(verdict: Verdict, ts_ms: int) -> dict[str, Any]:
    """What ``last_verdict["anomaly"]`` keeps of an episode's onset (for the API and alerts)."""
    return {
        "ts": ts_ms,
        "raw_score": _raw_score(verdict),
        "observed": verdict.observed,
        "expected_low": verdict.expected_low,
        "expected_high": verdict.expected_high,
        "pattern": verdict.pattern,
        "span": verdict.span,
    }


def _restore(state: bytes | memoryview | None) -> StreamDetector:
    if state is None:
        return StreamDetector()
    try:
        return StreamDetector.from_bytes(bytes(state))
    except ValueError:
        # A state from another version of the detector (its layout is versioned):
        # start learning afresh from the cursor rather than fail the whole run.
        return StreamDetector()


# --- one detector row ------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Row:
    """A DetectorState row in memory for one run (``pk`` None: not stored yet).

    The stored columns are decoded only when the run needs them (a run feeds each series a
    few samples, so decoding and encoding state was most of its cost): the detector and the
    window when the series has new samples (both encoded again as soon as it has been fed,
    see ``settle``), the last verdict's JSON only at the save, and only for the last anomaly
    it keeps when this run found none.
    """

    pk: int | None
    key: str
    metric: str
    device_id: int | None
    labels: dict[str, str]
    cursor_ms: int
    last_raw: float | None
    old_cursor_ms: int
    stored_state: bytes | memoryview | None = None  # None: a new series
    stored_window: bytes | memoryview | None = None
    stored_verdict: str | None = None  # the ``last_verdict`` column's JSON text
    changed: bool = False
    state_out: bytes | None = None  # this run's state and window, once settled
    window_out: bytes | None = None
    last: Verdict | None = None  # of this run's last sample
    last_ts: int = 0
    onset: dict[str, Any] | None = None  # this run's last episode onset (``_onset``)
    _detector: StreamDetector | None = None
    _window: Window | None = None

    @classmethod
    def load(cls, values: tuple[Any, ...]) -> _Row:
        pk, key, metric, device_id, state, cursor, last_raw, window, verdict = values
        return cls(pk, key, metric, device_id, {}, cursor, last_raw, cursor, state, window, verdict)

    @classmethod
    def new(cls, key: str, metric: str, device_id: int | None, labels: dict[str, str]) -> _Row:
        return cls(None, key, metric, device_id, labels, -1, None, -1)

    @property
    def detector(self) -> StreamDetector:
        detector = self._detector
        if detector is None:
            detector = self._detector = _restore(self.stored_state)
        return detector

    @property
    def window(self) -> Window:
        window = self._window
        if window is None:
            window = self._window = Window.from_bytes(self.stored_window)
        return window

    def feed(self, ts_ms: int, value: float) -> Verdict:
        verdict = self.detector.update(ts_ms / 1000.0, value)
        self.window.add(ts_ms, verdict.confidence >= FLAG_CONFIDENCE)
        self.cursor_ms = ts_ms
        self.changed = True
        self.last = verdict
        self.last_ts = ts_ms
        if verdict.is_anomaly:  # the onset of an episode: what the API and alerts show
            self.onset = _onset(verdict, ts_ms)
        return verdict

    def settle(self) -> None:
        """This run has fed the series all it will: store the detector and window as bytes.

        A family's rows wait for its save together, and a restored detector is about 10 KB
        of Python objects (more memory, and most of the garbage collector's work while they
        wait); its bytes are about 1 KB.  Used again, they are restored from these bytes.
        """
        if self._detector is not None:
            self.stored_state = self.state_out = self._detector.to_bytes()
            self._detector = None
        if self._window is not None:
            self.stored_window = self.window_out = self._window.to_bytes()
            self._window = None

    def state(self) -> bytes:
        """The ``state`` column's value after this run."""
        if self._detector is None and self.state_out is not None:
            return self.state_out
        return self.detector.to_bytes()

    def window_bytes(self) -> bytes:
        """The ``window`` column's value after this run."""
        if self._window is None and self.window_out is not None:
            return self.window_out
        return self.window.to_bytes()

    def verdict(self) -> dict[str, Any]:
        """``last_verdict`` as it stands after this run: the last sample's verdict and the
        last onset (this run's, or else the one stored, kept for the API)."""
        text = self.stored_verdict
        if self.last is None:
            return (json.loads(text) if text else None) or {}
        data = verdict_dict(self.last, self.last_ts)
        if self.onset is not None:
            data["anomaly"] = self.onset
        elif text and '"anomaly"' in text:  # a key only: no value of ours has a quote
            stored = json.loads(text)
            if "anomaly" in stored:
                data["anomaly"] = stored["anomaly"]
        return data


_COLUMNS = (
    "id",
    "series_key",
    "metric",
    "device_id",
    "state",
    "cursor_ms",
    "last_raw",
    "window",
    "verdict_text",
)


def _load(org_id: int, **filters: Any) -> dict[str, _Row]:
    rows = (
        DetectorState.objects.filter(organization_id=org_id, **filters)
        # the JSON as text: most rows never need it decoded (see _Row.verdict)
        .annotate(verdict_text=Cast("last_verdict", TextField()))
        .values_list(*_COLUMNS)
    )
    out = {}
    for values in rows:
        row = _Row.load(values)
        out[row.key] = row
    return out


def _read_start(rows: Iterable[_Row], now_ms: int) -> int:
    """Where a family's one read starts: after the oldest cursor of its running series.

    A series that stopped keeps its old cursor; were it counted, the family (every device's
    CPU, say) would be read an hour back on every run for the rest of the week, instead of
    the seconds since the last run. A series counts while it is within
    ``STOPPED_AFTER_MS`` of the family's newest cursor, not of now: after a worker outage
    every series is behind, and the run still catches up (up to ``MAX_CATCHUP_MS``). The
    price: a device back from more than ``STOPPED_AFTER_MS`` offline is scored from its
    live samples on; the backlog its agent replays is older than its cursor by then.
    """
    cursors = [row.cursor_ms for row in rows]
    if cursors:
        running_since = max(cursors) - STOPPED_AFTER_MS
        start = min(c for c in cursors if c >= running_since)
    else:
        start = now_ms - BACKFILL_MS
    return max(start + 1, now_ms - MAX_CATCHUP_MS)


def _save(org_id: int, rows: Iterable[_Row], result: ScoreResult) -> None:
    """Insert new rows and update changed ones, each guarded by the cursor it was read at."""
    now = timezone.now()
    new: list[DetectorState] = []
    updates: list[tuple[Any, ...]] = []
    for row in rows:
        if not row.changed:
            continue
        state = row.state()
        data = row.verdict()
        score = float(data.get("score", 0.0))
        if row.pk is None:
            new.append(
                DetectorState(
                    organization_id=org_id,
                    series_key=row.key,
                    metric=row.metric,
                    device_id=row.device_id,
                    labels=row.labels,
                    state=state,
                    cursor_ms=row.cursor_ms,
                    last_raw=row.last_raw,
                    last_score=score,
                    last_verdict=data,
                    window=row.window_bytes(),
                )
            )
        else:
            updates.append(
                (
                    state,
                    row.cursor_ms,
                    row.last_raw,
                    score,
                    _JSON.encode(data),
                    row.window_bytes(),
                    now,
                    row.pk,
                    row.old_cursor_ms,
                )
            )
    q = connection.ops.quote_name
    table = q(DetectorState._meta.db_table)
    # Names are the model's, quoted ("window" is a reserved word in PostgreSQL); every
    # value is bound.
    sql = (
        f"UPDATE {table} SET state = %s, cursor_ms = %s, last_raw = %s, last_score = %s, "  # noqa: S608
        f"last_verdict = %s, {q('window')} = %s, updated_at = %s "
        "WHERE id = %s AND cursor_ms = %s"
    )
    # A transaction per batch, not one for the family: each row is guarded by its own
    # cursor, so a batch stands alone, and SQLite's write lock is held for one batch at a
    # time (the CPU family of 1,000 devices is tens of thousands of rows; heartbeats wait
    # for the lock meanwhile). A failure leaves later batches unsaved: the next run redoes them.
    for i in range(0, len(updates), SAVE_BATCH):
        batch = updates[i : i + SAVE_BATCH]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, batch)
            if cursor.rowcount >= 0:  # -1 where the driver does not sum executemany
                result.lost_races += len(batch) - cursor.rowcount
    # A concurrent run that created the same key first wins; ours is dropped. A call per
    # SAVE_BATCH rows, as above: one bulk_create is one transaction, and a new fleet's
    # first run (tens of thousands of rows) held SQLite's write lock for 2-2.5 s.
    for i in range(0, len(new), SAVE_BATCH):
        DetectorState.objects.bulk_create(
            new[i : i + SAVE_BATCH], batch_size=500, ignore_conflicts=True
        )
    result.new_series += len(new)


# --- a run -----------------------------------------------------------------------------


@dataclass
class _Run:
    store: Store
    org_id: int
    org_slug: str
    now_ms: int
    result: ScoreResult
    types: dict[str, MetricType] = field(default_factory=dict)
    # (device, family) -> [scored, flagged] in the windows of its series
    rates: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    # device -> ts -> [busy rate, all rate, series count] (CPU) / family -> value (memory)
    cpu: dict[int, dict[int, list[float]]] = field(default_factory=lambda: defaultdict(dict))
    cpu_series: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    memory: dict[int, dict[int, dict[str, float]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    instance: dict[int, str] = field(default_factory=dict)
    out: list[Sample] = field(default_factory=list)
    # Rows of the signal families and signals, saved only after ``write``: the signals'
    # outputs come from these rows' new samples, so a run that fails before its outputs
    # are stored must leave their cursors where they were (the next run redoes them).
    deferred: list[_Row] = field(default_factory=list)

    def family(self, name: str) -> None:
        rows = self._forget_silent(_load(self.org_id, metric=name))
        start = _read_start(rows.values(), self.now_ms)
        matchers = [Matcher(METRIC_NAME, MatchOp.EQ, name)]
        data = self.store.select([self.org_id], matchers, start, self.now_ms, Tier.RAW)
        counter = is_counter(name, self.types)
        touched: list[_Row] = []
        for series in data:
            self._series(name, series, rows, counter, touched)
        if name in SIGNAL_FAMILIES:
            self.deferred += touched
        else:
            _save(self.org_id, touched, self.result)
        self.result.families += 1

    def _series(
        self,
        name: str,
        series: SeriesData,
        rows: dict[str, _Row],
        counter: bool,
        touched: list[_Row],
    ) -> None:
        labels = series.labels
        key = series_key(labels)
        row = rows.get(key)
        device_id = _device_of(labels)
        if row is None:
            row = _Row.new(key, name, device_id, dict(labels))
        timestamps = _as_list(series.timestamps)
        values = _as_list(series.values)
        first = bisect.bisect_right(timestamps, row.cursor_ms)
        if first >= len(timestamps):
            return
        touched.append(row)
        result = self.result
        result.series += 1
        if device_id is not None and "instance" in labels:
            self.instance.setdefault(device_id, labels["instance"])
        cpu = self.cpu[device_id] if name == CPU_FAMILY and device_id is not None else None
        busy = cpu is not None and labels.get("mode") in CPU_BUSY_MODES
        if cpu is not None:
            self.cpu_series[device_id] += 1  # type: ignore[index]
        memory = (
            self.memory[device_id]
            if device_id is not None and name in (MEM_TOTAL, MEM_AVAILABLE)
            else None
        )
        prev_ts = row.cursor_ms
        last_raw = row.last_raw
        scored = flagged = 0
        for i in range(first, len(timestamps)):
            ts = timestamps[i]
            x = values[i]
            if not math.isfinite(x):
                row.cursor_ms = ts
                row.changed = True
                last_raw = None
                continue
            if counter:
                prev, prev_t = last_raw, prev_ts
                last_raw, prev_ts = x, ts
                if prev is None or x < prev or ts <= prev_t:  # first sample or a reset
                    row.cursor_ms = ts
                    row.changed = True
                    continue
                x = (x - prev) * 1000.0 / (ts - prev_t)
                if cpu is not None:
                    slot = cpu.setdefault(ts, [0.0, 0.0, 0.0])
                    slot[1] += x
                    slot[2] += 1.0
                    if busy:
                        slot[0] += x
            elif memory is not None:
                memory.setdefault(ts, {})[name] = x
            verdict = row.feed(ts, x)
            scored += 1
            if verdict.confidence >= FLAG_CONFIDENCE:
                flagged += 1
        row.last_raw = last_raw if counter else None
        result.samples += scored
        result.flagged += flagged
        if device_id is not None:
            in_window = row.window.totals(self.now_ms)
            counts = self.rates.setdefault((device_id, name), [0, 0])
            counts[0] += in_window[0]
            counts[1] += in_window[1]
        row.settle()

    # --- derived signals ----------------------------------------------------------------

    def signals(self) -> None:
        inputs: dict[tuple[str, int], list[tuple[int, float]]] = {}
        for device_id, per_ts in self.cpu.items():
            want = self.cpu_series[device_id]
            points = [
                (ts, 100.0 * busy / total)
                for ts, (busy, total, count) in sorted(per_ts.items())
                if count >= want and total > 0.0  # every core and mode moved: a whole sample
            ]
            if points:
                inputs[(SIGNAL_CPU, device_id)] = points
        for device_id, per_ts in self.memory.items():
            points = [
                (ts, v[MEM_TOTAL] - v[MEM_AVAILABLE])
                for ts, v in sorted(per_ts.items())
                if MEM_TOTAL in v and MEM_AVAILABLE in v
            ]
            if points:
                inputs[(SIGNAL_MEMORY, device_id)] = points
        rows = self._forget_silent(_load(self.org_id, metric__startswith=SIGNAL_PREFIX))
        if not inputs:
            return
        touched = []
        for (signal, device_id), points in inputs.items():
            key = signal_key(signal, device_id)
            row = rows.get(key) or _Row.new(
                key, SIGNAL_PREFIX + signal, device_id, {"signal": signal}
            )
            labels = self._labels(device_id, signal=signal)
            fed = False
            for ts, value in points:
                if ts <= row.cursor_ms:
                    continue
                verdict = row.feed(ts, value)
                fed = True
                self.out.append(Sample({**labels, METRIC_NAME: ANOMALY_SCORE}, ts, verdict.score))
                if verdict.confidence >= FLAG_CONFIDENCE:
                    self.out.append(Sample({**labels, METRIC_NAME: ANOMALY_OBSERVED}, ts, value))
                # a judgement of a block's mean (span > 1) has a band for such means, narrower
                # than the samples': the chart keeps the sample band of the points around it
                if row.detector.count >= LEARNING_SAMPLES and verdict.span == 1:
                    low, high = band_limits(signal, verdict.expected_low, verdict.expected_high)
                    self.out.append(Sample({**labels, METRIC_NAME: EXPECTED_LOW}, ts, low))
                    self.out.append(Sample({**labels, METRIC_NAME: EXPECTED_HIGH}, ts, high))
            if fed:
                row.settle()
                touched.append(row)
        self.deferred += touched

    def _forget_silent(self, rows: dict[str, _Row]) -> dict[str, _Row]:
        """Delete the states of series silent for ``FORGET_AFTER_MS`` (uninstalled software,
        a replaced disk, a retired device): kept, every run would load them for nothing.
        A series that comes back later starts learning afresh."""
        cutoff = self.now_ms - FORGET_AFTER_MS
        silent = [key for key, row in rows.items() if row.pk is not None and row.cursor_ms < cutoff]
        pks = [rows.pop(key).pk for key in silent]
        for i in range(0, len(pks), DELETE_BATCH):
            # guarded by the cutoff: a row another run advanced meanwhile stays
            batch = DetectorState.objects.filter(pk__in=pks[i : i + DELETE_BATCH])
            deleted, _ = batch.filter(cursor_ms__lt=cutoff).delete()
            self.result.forgotten += deleted
        return rows

    def _labels(self, device_id: int, **extra: str) -> dict[str, str]:
        labels = {
            DEVICE_LABEL: str(device_id),
            ORG_LABEL: self.org_slug,
            "job": OUTPUT_JOB,
            **extra,
        }
        if device_id in self.instance:
            labels["instance"] = self.instance[device_id]
        return labels

    def anomaly_rates(self) -> None:
        for (device_id, metric), (scored, flagged) in self.rates.items():
            if scored:
                labels = self._labels(device_id, metric=metric)
                labels[METRIC_NAME] = ANOMALY_RATE
                self.out.append(Sample(labels, self.now_ms, 100.0 * flagged / scored))

    def write(self) -> None:
        if not self.out:
            return
        self.store.set_metadata(self.org_id, OUTPUT_METADATA)
        self.store.append(self.org_id, self.out)
        self.result.written += len(self.out)
        self.out = []


def score_organization(
    store: Store, org_id: int, org_slug: str, now_ms: int, result: ScoreResult | None = None
) -> ScoreResult:
    """Score the new samples of every series of one organization (see the module doc)."""
    result = result if result is not None else ScoreResult()
    run = _Run(store, org_id, org_slug, now_ms, result)
    run.types = {m.metric: m.type for m in store.metadata([org_id])}
    names = [
        n
        for n in store.label_values([org_id], METRIC_NAME, [])
        if not n.startswith(OUTPUT_PREFIXES)
    ]
    # The families of the derived signals last, so their data is in hand together.
    names.sort(key=lambda n: (n in SIGNAL_FAMILIES, n))
    for name in names:
        run.family(name)
    run.signals()
    run.anomaly_rates()
    run.write()
    _save(org_id, run.deferred, result)
    result.organizations += 1
    return result


def score_all(
    store: Store,
    organizations: Sequence[tuple[int, str]],
    now_ms: int | None = None,
    budget_s: float = 120.0,
) -> ScoreResult:
    """Score every organization in turn until ``budget_s`` is spent (the rest: next run).

    The budget keeps a run well inside the job lease (5 min), so no second worker claims
    the job while this one is still scoring.
    """
    started = time.perf_counter()
    result = ScoreResult()
    for i, (org_id, slug) in enumerate(organizations):
        if time.perf_counter() - started > budget_s:
            result.unfinished = [o for o, _ in organizations[i:]]
            break
        try:
            score_organization(store, org_id, slug, now_ms or int(time.time() * 1000), result)
        except Exception:
            # One organization's trouble must not stop the scoring of the others; what it
            # had not saved is redone by the next run.
            log.exception("scoring the series of organization %s failed", org_id)
            result.failed.append(org_id)
    result.seconds = time.perf_counter() - started
    return result
