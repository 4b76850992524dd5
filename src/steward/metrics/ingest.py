"""From parsed input to stored samples: naming, the labels Steward adds, the store call.

Every series gets ``steward_org`` (the organization's slug); series of a known device also
get ``steward_device`` (its id) and ``instance`` (its host name). Labels of those names
sent by a client are renamed ``exported_<name>``, as Prometheus does for clashing target
labels (``honor_labels: false``), so a client can never place a series on another device.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import re
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from asgiref.sync import AsyncToSync, sync_to_async
from django.conf import settings
from django.db import connections

from steward.api.errors import ApiError
from steward.inventory.models import Device
from steward.metrics import linefast, lineproto, prompb
from steward.metrics.store import get_store
from steward.tenancy.models import Organization
from steward.tsdb.types import (
    DEVICE_LABEL,
    LABEL_NAME_RE,
    METRIC_NAME,
    METRIC_NAME_RE,
    ORG_LABEL,
    AppendResult,
    MetricType,
    Sample,
    SeriesMetadata,
)

MiB = 1024 * 1024

# Server-side knobs: the config options of the same names (steward.config) override them.
DEFAULTS: dict[str, Any] = {
    "metrics_interval": 10,
    "metrics_agent_max_decompressed": 8 * MiB,
    "metrics_write_max_body": 32 * MiB,
    "metrics_write_max_lines": 500_000,
    "metrics_scrape_concurrency": 8,
    "metrics_scrape_max_body": 16 * MiB,
    "metrics_device_cache_seconds": 30,
}


def option(key: str) -> Any:
    return settings.STEWARD.get(key, DEFAULTS[key])


AGENT_JOB = "steward"
LINE_PROTOCOL_JOB = "telegraf"
REMOTE_WRITE_JOB = "prometheus"
INSTANCE = "instance"
JOB = "job"
_ADDED = frozenset({INSTANCE, JOB, DEVICE_LABEL, ORG_LABEL})
_INVALID_METRIC_CHARS = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def sanitize_metric_name(name: str) -> str:
    """Invalid characters become ``_``; a leading digit gets a ``_`` prefix."""
    if METRIC_NAME_RE.match(name):
        return name
    name = _INVALID_METRIC_CHARS.sub("_", name)
    return "_" + name if name[:1].isdigit() else name


def sanitize_label_name(name: str) -> str:
    """Invalid characters become ``_``; ``__``-prefixed (reserved) names get ``tag``."""
    if not LABEL_NAME_RE.match(name):
        name = _INVALID_LABEL_CHARS.sub("_", name)
        if name[:1].isdigit():
            name = "_" + name
    if name.startswith("__"):
        name = "tag" + name
    return name


def device_labels(device: Device, org_slug: str, job: str = AGENT_JOB) -> dict[str, str]:
    return {
        INSTANCE: device.hostname,
        JOB: job,
        DEVICE_LABEL: str(device.pk),
        ORG_LABEL: org_slug,
    }


# --- where push ingest runs ----------------------------------------------------------------
#
# Under ASGI Django runs a sync view on a thread made for its request, and with
# CONN_MAX_AGE = 0 (Django's advice for ASGI) every request opens and closes its database
# connection: ~3 ms of CPU per request on SQLite, more than a 500-sample agent batch
# costs to store (server CPU for an empty agent batch: 7.0 ms before, 2.5 ms here, about
# what GET /healthz costs). Ingest views are
# ``async`` and run their work here instead: on a few long-lived threads that keep their
# connections (checked and closed like Django's own after an error), two at a time so one
# request's SQLite insert (no GIL) overlaps the next one's parse.
#
# Heartbeats have threads of their own (the "presence" lane). They never touch the metrics
# store, but on shared threads a heartbeat queued behind metrics batches that wait for the
# store's writer lock (the worker's compaction holds it for a few tenths of a second per
# step): with 1,000 simulated devices such waits added up to seconds and devices that had
# sent their heartbeats on time were recorded offline.

INGEST_THREADS = 2
PRESENCE_THREADS = 2
STORE_LANE = "store"
PRESENCE_LANE = "presence"
_LANE_THREADS = {STORE_LANE: INGEST_THREADS, PRESENCE_LANE: PRESENCE_THREADS}
_pools: dict[str, ThreadPoolExecutor] = {}
_pool_lock = threading.Lock()
_T = TypeVar("_T")


def _executor(lane: str) -> ThreadPoolExecutor:
    pool = _pools.get(lane)
    if pool is None:
        with _pool_lock:
            pool = _pools.get(lane)
            if pool is None:
                pool = ThreadPoolExecutor(
                    _LANE_THREADS[lane], thread_name_prefix=f"steward-ingest-{lane}"
                )
                _pools[lane] = pool
    return pool


async def in_ingest_thread(fn: Callable[..., _T], *args: Any, lane: str = STORE_LANE) -> _T:
    """``fn(*args)`` on an ingest thread of ``lane``, in a copy of the caller's context
    variables.

    Under a sync caller (WSGI, Django's test client) the event loop belongs to that
    caller's ``async_to_sync``: run in the caller's thread as a sync view would, so its
    database connection (and a test's transaction) is the one used.
    """
    loop = asyncio.get_running_loop()
    if loop in getattr(AsyncToSync, "loop_thread_executors", {}):  # asgiref internal
        return await sync_to_async(fn, thread_sensitive=True)(*args)
    call = functools.partial(contextvars.copy_context().run, _run_keeping_connections, fn, *args)
    return await loop.run_in_executor(_executor(lane), call)


def _run_keeping_connections(fn: Callable[..., _T], *args: Any) -> _T:
    try:
        return fn(*args)
    finally:
        # Django's close_if_unusable_or_obsolete() without the age limit: a connection
        # that saw an error and fails its check, or was left outside autocommit, closes.
        for conn in connections.all(initialized_only=True):
            if conn.connection is None:
                continue
            if conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"] or (
                conn.errors_occurred and not conn.is_usable()
            ):
                conn.close()
                continue
            conn.errors_occurred = False
            conn.health_check_done = False  # CONN_HEALTH_CHECKS: check again on next use


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = True


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is turned into samples.

    A 10,000-sample request allocates ~20,000 dicts and objects; each burst of allocations
    triggers collections that walk the whole Django process's heap. Samples hold no
    reference cycles (reference counting frees them), so pausing the collector for the
    batch doubled line-protocol throughput in bench/ingest.py. Counted, so overlapping
    requests in several threads re-enable it only when the last one ends.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        _gc_pausers += 1
        if _gc_pausers == 1:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


# --- host name -> device, per organization ----------------------------------------------


@dataclass(frozen=True)
class DeviceRef:
    pk: int
    hostname: str


class DeviceDirectory:
    """Active devices of an organization by host name, FQDN and short name (lower case).

    Cached per process for ``metrics_device_cache_seconds``: a push of 1,000 lines must
    not cost a query per line, and a device enrolled a moment ago is matched on the next
    refresh.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._maps: dict[int, tuple[float, dict[str, DeviceRef]]] = {}

    def clear(self) -> None:
        with self._lock:
            self._maps.clear()

    def for_org(self, org_id: int) -> dict[str, DeviceRef]:
        now = time.monotonic()
        cached = self._maps.get(org_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        mapping: dict[str, DeviceRef] = {}
        rows = (
            Device.objects.active()
            .filter(organization_id=org_id)
            .order_by("-last_seen", "pk")  # several devices, one name: the freshest wins
            .values_list("pk", "hostname", "fqdn")
        )
        for pk, hostname, fqdn in rows:
            ref = DeviceRef(pk, hostname)
            for key in (hostname.lower(), fqdn.lower(), hostname.lower().split(".", 1)[0]):
                if key:
                    mapping.setdefault(key, ref)
        with self._lock:
            self._maps[org_id] = (now + option("metrics_device_cache_seconds"), mapping)
        return mapping

    def lookup(self, org_id: int, host: str) -> DeviceRef | None:
        mapping = self.for_org(org_id)
        host = host.lower()
        return mapping.get(host) or mapping.get(host.split(".", 1)[0])


devices = DeviceDirectory()


# --- metadata ---------------------------------------------------------------------------

_metadata_seen: dict[tuple[int, str], SeriesMetadata] = {}
_metadata_lock = threading.Lock()


def record_metadata(org_id: int, items: Iterable[SeriesMetadata]) -> None:
    """Hand new or changed metadata to the store (agents resend it with every batch)."""
    with _metadata_lock:
        changed = {
            item.metric: item for item in items if _metadata_seen.get((org_id, item.metric)) != item
        }
    if not changed:
        return
    get_store().set_metadata(org_id, list(changed.values()))  # type: ignore[attr-defined]
    with _metadata_lock:  # only once stored: a failed call is retried with the next batch
        for metric, item in changed.items():
            _metadata_seen[(org_id, metric)] = item


def forget_metadata_cache() -> None:
    with _metadata_lock:
        _metadata_seen.clear()


def metric_type(name: str) -> MetricType:
    try:
        return MetricType(name)
    except ValueError:
        return MetricType.UNKNOWN


# --- appending --------------------------------------------------------------------------


def append(org_id: int, samples: Sequence[Sample]) -> AppendResult:
    """Store samples, then let the alert rules see them (evaluation on arrival)."""
    if not samples:
        return AppendResult()
    result = get_store().append(org_id, samples)
    from steward.alerts.hooks import on_samples

    on_samples(org_id, samples)  # never raises
    return result


def append_parts(org_id: int, parts: Sequence[Sequence[Sample]]) -> list[AppendResult]:
    """``append`` for several sample lists, each counted apart: one store transaction
    when the store offers ``append_parts``, and one pass of the alert rules."""
    store = get_store()
    many = getattr(store, "append_parts", None)
    if many is not None:
        results = many(org_id, parts)
    else:
        results = [store.append(org_id, part) if part else AppendResult() for part in parts]
    everything = [sample for part in parts for sample in part]
    if everything:
        from steward.alerts.hooks import on_samples

        on_samples(org_id, everything)  # never raises
    return results


def limit_error(result: AppendResult, where: str) -> ApiError:
    """A clear 422 for samples a store limit refused (cardinality, age, label size)."""
    first = result.errors[0] if result.errors else "refused by a store limit"
    return ApiError(
        422,
        "limit_exceeded",
        f"{where}: {result.rejected} sample(s) refused: {first}",
    )


# --- InfluxDB line protocol -------------------------------------------------------------


@dataclass
class LineOutcome:
    lines_accepted: int = 0
    lines_rejected: int = 0
    strings_skipped: int = 0
    first_error: str | None = None
    result: AppendResult = field(default_factory=AppendResult)

    def counts(self) -> dict[str, int]:
        return {
            "accepted": self.lines_accepted,
            "rejected": self.lines_rejected,
            "samples_accepted": self.result.accepted,
            "samples_duplicate": self.result.duplicates,
            "samples_rejected": self.result.rejected,
            "strings_skipped": self.strings_skipped,
        }


class _LineLabels:
    """Label sets for line protocol points, memoized per (measurement, tags) in a request."""

    def __init__(self, org: Organization) -> None:
        self.org = org
        self.names: dict[tuple[str, str], str] = {}
        self.label_names: dict[str, str] = {}

    def label_name(self, tag: str) -> str:
        name = self.label_names.get(tag)
        if name is None:
            name = sanitize_label_name(tag)
            self.label_names[tag] = name
        return name

    def metric(self, measurement: str, field_key: str) -> str:
        key = (measurement, field_key)
        name = self.names.get(key)
        if name is None:
            # Telegraf's Prometheus naming (serializers/prometheus MetricName).
            raw = field_key if measurement == "prometheus" else f"{measurement}_{field_key}"
            name = sanitize_metric_name(raw)
            self.names[key] = name
        return name

    def base(self, tags: dict[str, str]) -> dict[str, str]:
        labels: dict[str, str] = {}
        for tag, value in tags.items():
            name = self.label_name(tag)
            if name in (DEVICE_LABEL, ORG_LABEL):
                name = "exported_" + name
            labels[name] = value
        host = tags.get("host")
        device = devices.lookup(self.org.pk, host) if host else None
        if device is not None:
            if INSTANCE in labels:
                labels["exported_instance"] = labels.pop(INSTANCE)
            labels[INSTANCE] = device.hostname
            labels[DEVICE_LABEL] = str(device.pk)
        elif host and INSTANCE not in labels:
            labels[INSTANCE] = host
        labels.setdefault(JOB, LINE_PROTOCOL_JOB)
        labels[ORG_LABEL] = self.org.slug
        return labels


line_series = linefast.LineSeriesCache()


def ingest_lines(org: Organization, text: str, precision: str) -> LineOutcome:
    """Parse, label and store a line-protocol body: good lines are kept, bad ones counted."""
    with paused_gc():
        return _ingest_lines(org, text, precision)


def _ingest_lines(org: Organization, text: str, precision: str) -> LineOutcome:
    store = get_store()
    append_resolved = getattr(store, "append_resolved", None)
    series_id = getattr(store, "series_id", None)
    if append_resolved is None or series_id is None:  # a store without the fast path
        return _ingest_parsed(org, lineproto.parse(text, precision), None)
    from steward.alerts.hooks import reads_pushed_metrics

    if reads_pushed_metrics(org.pk):
        # Rules read pushed metrics: every sample must reach them with its labels, which
        # the fast path (series ids only) does not keep.
        return _ingest_parsed(org, lineproto.parse(text, precision), None)
    # Lines of series this process knows go straight to (series id, ts, value) rows; the
    # others (new series, integers, escapes, bad lines) take the general path below.
    known, templates = line_series.tables(org.pk, org.slug, devices.for_org(org.pk))
    mul, div = lineproto.PRECISIONS[precision]
    rows, rest, fast = linefast.split_known(text, known, mul, div, templates)
    parsed = lineproto.parse_lines(rest, precision)
    outcome = _ingest_parsed(org, parsed, (rows, append_resolved, series_id, known, rest))
    outcome.lines_accepted += fast
    return outcome


def _ingest_parsed(org: Organization, parsed: lineproto.ParseResult, fast: Any) -> LineOutcome:
    outcome = LineOutcome(
        lines_rejected=parsed.rejected_lines,
        strings_skipped=parsed.strings_skipped,
        first_error=parsed.first_error,
    )
    received = now_ms()
    naming = _LineLabels(org)
    bases: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, str]] = {}
    names: dict[str, dict[str, str]] = {}  # measurement -> field -> metric name
    samples: list[Sample] = []
    add = samples.append
    # (prefix, field key, labels) of timestamped lines without escapes: fast next time.
    learn: list[tuple[str, str, dict[str, str]]] = []
    lines = dict(fast[4]) if fast is not None and parsed.points else {}
    # The general path: per sample one dict copy and one Sample.
    for point in parsed.points:
        measurement = point.measurement
        key = (measurement, tuple(point.tags.items()))
        base = bases.get(key)
        if base is None:
            base = bases[key] = naming.base(point.tags)
        field_names = names.get(measurement)
        if field_names is None:
            field_names = names[measurement] = {}
        ts = received if point.timestamp_ms is None else point.timestamp_ms
        prefix = linefast.prefix_of(lines[point.line]) if lines else None
        for field_key, value in point.fields:
            name = field_names.get(field_key)
            if name is None:
                name = field_names[field_key] = naming.metric(measurement, field_key)
            labels = base.copy()
            labels[METRIC_NAME] = name
            add(Sample(labels, ts, value))
            if prefix is not None:
                learn.append((prefix, field_key, labels))
    outcome.lines_accepted = len(parsed.points)
    if fast is None:
        outcome.result = append(org.pk, samples)
        return outcome
    rows, append_resolved, series_id, known, _ = fast
    if rows or samples:
        outcome.result = append_resolved(org.pk, rows, samples)
    for prefix, field_key, labels in learn:
        sid = series_id(org.pk, labels)
        if sid is not None:  # None: refused (limits); such lines stay on the general path
            known.setdefault(prefix, {})[field_key] = sid
    return outcome


# --- Prometheus remote write ------------------------------------------------------------


@dataclass
class RemoteWriteOutcome:
    series_rejected: int = 0
    first_error: str | None = None
    stale_markers: int = 0  # staleness markers received (not stored, see below)
    result: AppendResult = field(default_factory=AppendResult)


# Prometheus' staleness marker: a NaN with this exact bit pattern (value.StaleNaN), written
# when a series disappears from a target. The store keeps NaN but not its payload, so a
# stored marker would read back as an ordinary NaN *value* and turn ``sum(x)`` (and every
# rate over the window) into NaN for the lookback period; it is not stored. The series
# then ends when its lookback window no longer holds a sample (promql/SUPPORTED.md).
STALE_NAN_BITS = 0x7FF0000000000002
_STALE_NAN_BYTES = struct.pack("<Q", STALE_NAN_BITS)
_pack_double = struct.Struct("<d").pack


def is_stale_marker(value: float) -> bool:
    return value != value and _pack_double(value) == _STALE_NAN_BYTES


def _series_labels(org: Organization, pairs: list[tuple[str, str]]) -> dict[str, str]:
    labels: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            # Which value would win is arbitrary: refused, as Prometheus' receiver does.
            raise ValueError(f"duplicate label name {name!r}")
        seen.add(name)
        if not value:
            continue  # an empty value is the same as no label (Prometheus semantics)
        if name == METRIC_NAME:
            if not METRIC_NAME_RE.match(value):
                raise ValueError(f"invalid metric name {value!r}")
        elif not LABEL_NAME_RE.match(name):
            raise ValueError(f"invalid label name {name!r}")
        elif name in (DEVICE_LABEL, ORG_LABEL):
            name = "exported_" + name
        labels[name] = value
    if METRIC_NAME not in labels:
        raise ValueError("no __name__ label")
    instance = labels.get(INSTANCE)
    if instance:
        host = _host_of(instance)
        device = devices.lookup(org.pk, host) if host else None
        if device is not None:
            labels[DEVICE_LABEL] = str(device.pk)
    labels.setdefault(JOB, REMOTE_WRITE_JOB)
    labels[ORG_LABEL] = org.slug
    return labels


def _host_of(instance: str) -> str:
    """``web-01:9100`` -> ``web-01``; ``[::1]:9100`` -> ``::1``; ``web-01`` -> ``web-01``."""
    if instance.startswith("["):
        return instance[1:].split("]", 1)[0]
    if instance.count(":") == 1:
        return instance.split(":", 1)[0]
    return instance


def ingest_remote_write(org: Organization, request: prompb.WriteRequest) -> RemoteWriteOutcome:
    with paused_gc():
        return _ingest_remote_write(org, request)


def _ingest_remote_write(org: Organization, request: prompb.WriteRequest) -> RemoteWriteOutcome:
    outcome = RemoteWriteOutcome()
    samples: list[Sample] = []
    add = samples.append
    for index, series in enumerate(request.timeseries):
        try:
            labels = _series_labels(org, series.labels)
        except ValueError as exc:
            outcome.series_rejected += 1
            if outcome.first_error is None:
                outcome.first_error = f"timeseries {index}: {exc}"
            continue
        for ts, value in series.samples:
            if value != value and is_stale_marker(value):
                outcome.stale_markers += 1
                continue
            add(Sample(labels, ts, value))
    outcome.result = append(org.pk, samples)
    if request.metadata:
        record_metadata(
            org.pk,
            [
                SeriesMetadata(m.metric, metric_type(m.type), m.unit, m.help)
                for m in request.metadata
                if m.metric
            ],
        )
    return outcome


def close_ingest_threads(timeout: float = 10.0) -> None:
    """Stop the ingest threads and close the database connections they keep open.

    The threads keep their connections between requests on purpose (above), so they hold
    database sessions for as long as they live: at server shutdown, or before a test run
    drops its database (PostgreSQL refuses while sessions remain), call this. A later
    ``in_ingest_thread`` starts a fresh pool. ``timeout`` bounds the wait, in seconds.
    """
    with _pool_lock:
        pools = [(_LANE_THREADS[lane], pool) for lane, pool in _pools.items()]
        _pools.clear()
    for threads, pool in pools:
        _close_pool(pool, threads, timeout)


def _close_pool(pool: ThreadPoolExecutor, threads: int, timeout: float) -> None:
    # One task per thread: each closes its own thread's connections (Django's are per
    # thread), then waits until every task has started, so that no thread runs two of
    # them while another runs none.
    lock, everyone = threading.Lock(), threading.Event()
    started = [0]

    def close_mine() -> None:
        connections.close_all()
        with lock:
            started[0] += 1
            if started[0] == threads:
                everyone.set()
        everyone.wait(timeout)

    for _ in range(threads):
        pool.submit(close_mine)
    pool.shutdown(wait=True)
