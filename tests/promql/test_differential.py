"""The engine answers like Prometheus: same label sets, same values (1e-6 relative).

Both are loaded with the same samples (``dataset.fleet``): Prometheus by backfilling TSDB
blocks, the engine through ``MemoryStore`` and through the real store (recent rows, hour
chunks, and both at once). Every query runs as instant queries at several
times (on a sample, between samples, in the lookback tail, after it) and as range queries
with aligned and unaligned steps. Needs Debian's ``prometheus`` package; skipped without it
except in CI, where its absence fails the run.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.promql import QueryError, Result, ResultType, evaluate_instant, evaluate_range
from steward.promql.memstore import MemoryStore
from steward.tsdb import open_store
from steward.tsdb.types import Sample, Store
from tests.promql.dataset import HOUR, MINUTE, fleet
from tests.promql.prometheus_harness import (
    Prometheus,
    PrometheusError,
    binaries_missing,
    normalize_prometheus,
    running_prometheus,
)

pytestmark = pytest.mark.slow

# Data ends 4 h before now: backfilled blocks must stay clear of the server's head block.
END = (int(time.time() * 1000) - 4 * HOUR) // HOUR * HOUR
START = END - 3 * HOUR

INSTANTS = {
    "on-sample": START + 20 * MINUTE,
    "between": START + 67 * MINUTE + 13_500,
    "in-gap": START + 95 * MINUTE,
    "late-start": START + HOUR + 2 * MINUTE,
    "last": END - 1_000,
    "lookback-tail": END + 4 * MINUTE,
    "after-lookback": END + 6 * MINUTE,
}
RANGES = {
    "aligned-60s": (START + 10 * MINUTE, END + 10 * MINUTE, 60_000),
    "unaligned-137s": (START + 1_234, END - 5_678, 137_000),
}

QUERIES = [
    # selectors and matchers
    "http_requests_total",
    'http_requests_total{method="GET"}',
    'http_requests_total{method!="GET"}',
    'http_requests_total{instance=~"h[12]"}',
    'http_requests_total{instance!~"h1|h3"}',
    '{__name__=~"http_.*", method="POST"}',
    "http_requests_total offset 10m",
    # POSIX classes (RE2), which Python's re does not know
    'up{instance=~"[[:alpha:]][[:digit:]]"}',
    'http_requests_total{method=~"[^[:lower:]]+", instance!~"h[[:digit:]]"}',
    '{__name__=~"[[:lower:]_]+", instance="h1"}',
    'up{instance=~"[]h]1"}',
    # counters
    "rate(http_requests_total[5m])",
    "rate(http_requests_total[1m])",
    "rate(http_requests_total[20s])",
    "increase(http_requests_total[2m])",
    "irate(http_requests_total[1m])",
    "increase(http_requests_total[10m])",
    "increase(http_requests_total[1h])",
    "rate(http_requests_total[5m] offset 30m)",
    "resets(http_requests_total[1h])",
    "delta(temperature_celsius[10m])",
    # *_over_time and friends
    "avg_over_time(temperature_celsius[10m])",
    "min_over_time(temperature_celsius[10m])",
    "max_over_time(temperature_celsius[10m])",
    "sum_over_time(temperature_celsius[10m])",
    "count_over_time(temperature_celsius[10m])",
    "last_over_time(temperature_celsius[10m])",
    "quantile_over_time(0.9, temperature_celsius[15m])",
    "stddev_over_time(node_memory_MemFree_bytes[10m])",
    "changes(up[30m])",
    "deriv(node_memory_MemFree_bytes[10m])",
    "predict_linear(disk_free_bytes[30m], 3600)",
    # aggregations
    "sum(rate(http_requests_total[5m]))",
    "sum by (instance) (rate(http_requests_total[5m]))",
    "sum without (method) (rate(http_requests_total[5m]))",
    "avg by (mode) (rate(node_cpu_seconds_total[5m]))",
    "min(node_memory_MemFree_bytes)",
    "sum(temperature_celsius)",
    "min by (instance) (temperature_celsius)",
    "avg(temperature_celsius)",
    "max without (sensor) (temperature_celsius)",
    "count by (instance) (node_cpu_seconds_total)",
    "topk(3, rate(http_requests_total[5m]))",
    "bottomk(2, node_memory_MemFree_bytes)",
    "topk by (instance) (1, rate(node_cpu_seconds_total[5m]))",
    "stddev by (instance) (temperature_celsius)",
    "quantile(0.75, node_memory_MemFree_bytes)",
    "count(count by (instance) (up))",
    "group by (role) (machine_info)",
    # arithmetic and comparisons with scalars
    "node_memory_MemFree_bytes / 1024 / 1024",
    "2 * node_memory_MemFree_bytes - 5",
    "node_memory_MemFree_bytes % 7",
    "temperature_celsius ^ 0.5",
    "-node_memory_MemFree_bytes",
    "(1 + 2) * 3 - 4 / 2 ^ 2",
    "node_memory_MemFree_bytes > 4e9",
    "node_memory_MemFree_bytes > bool 4e9",
    "4e9 < node_memory_MemFree_bytes",
    "temperature_celsius >= 30 <= 40",
    "temperature_celsius != bool 30",
    "time() - 1000",
    "2 > bool 1",
    # vector matching
    'rate(http_requests_total{method="POST"}[5m]) / on(instance)'
    ' rate(http_requests_total{method="GET"}[5m])',
    'rate(http_requests_total{method="POST"}[5m]) / ignoring(method)'
    ' rate(http_requests_total{method="GET"}[5m])',
    "sum by (instance, mode) (rate(node_cpu_seconds_total[5m]))"
    " / on(instance) group_left sum by (instance) (rate(node_cpu_seconds_total[5m]))",
    "node_memory_MemFree_bytes * on(instance) group_left(role) machine_info",
    "machine_info * on(instance) group_right(role) node_cpu_seconds_total",
    "node_memory_MemFree_bytes > on(instance) (node_memory_MemFree_bytes offset 5m)",
    "up == bool on(instance) machine_info",
    # set operators
    'http_requests_total and http_requests_total{method="GET"}',
    'up == 1 and on(instance) machine_info{role="web"}',
    "http_requests_total unless on(instance) up == 0",
    "up or on(instance) machine_info",
    'rate(http_requests_total{method="POST"}[5m]) or vector(0)',
    # functions
    "clamp_min(temperature_celsius, 30)",
    "clamp_max(temperature_celsius, 30)",
    "clamp(temperature_celsius, 20, 40)",
    "abs(delta(temperature_celsius[10m]))",
    "round(temperature_celsius, 0.5)",
    "scalar(sum(up))",
    "node_memory_MemFree_bytes / scalar(count(up))",
    "vector(time())",
    'absent(nonexistent_metric{job="x"})',
    "absent(up)",
    'label_replace(up, "host", "$1", "instance", "h(.*)")',
    "sort_desc(node_memory_MemFree_bytes)",
    'label_join(up, "both", "/", "job", "instance")',
    'absent_over_time(nonexistent_metric{job="x"}[5m])',
    "hour() + minute() / 60",
    "day_of_week(vector(time())) + days_in_month() + month() + year() + day_of_month()",
    "sqrt(node_memory_MemFree_bytes) + ln(node_memory_MemFree_bytes)",
    # atan2 is the one arithmetic operator that keeps the metric name
    "temperature_celsius atan2 temperature_celsius",
    "up atan2 0.5",
    "0.5 atan2 up",
    # multi-line, single quotes, comments
    "sum by (instance) (\n  rate(http_requests_total{method='GET'}[5m])\n)\n  * 60  # per minute",
]
# Valid queries that both must refuse when evaluated (many-to-many matching).
FAILING = [
    "http_requests_total + on(instance) http_requests_total",
    "node_cpu_seconds_total / on(instance) machine_info",
    # k that does not convert to int64 (also where the vector is empty)
    "topk(NaN, up)",
    "bottomk(Inf, nonexistent_metric)",
]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory) -> Prometheus:
    reason = binaries_missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"differential test cannot run in CI: {reason}")
        pytest.skip(reason)
    workdir: Path = tmp_path_factory.mktemp("prometheus")
    with running_prometheus(fleet(START, END), workdir) as prom:
        yield prom


# Where the engine reads: the reference store, and the real one with the samples in its
# recent-rows table, in hour chunks, and split between both (the first hour compacted).
STORES = ("memory", "tsdb-recent", "tsdb-mixed", "tsdb-compacted")


@pytest.fixture(scope="module", params=STORES)
def store(request, tmp_path_factory) -> Iterator[Store]:
    data = fleet(START, END)
    if request.param == "memory":
        memory = MemoryStore()
        for labels, points in data:
            memory.append_series(1, labels, [t for t, _ in points], [v for _, v in points])
        yield memory
        return
    tsdb = open_store(tmp_path_factory.mktemp("tsdb") / "metrics.sqlite3")
    tsdb.append(1, [Sample(labels, t, v) for labels, points in data for t, v in points])
    if request.param == "tsdb-mixed":
        # The watermark lands mid-hour, 90 min before END: the hour it is in has a
        # partial chunk, the rest of the hour is still in rows.
        assert tsdb.maintain(now_ms=END - 85 * 60_000).watermark_ms == END - 90 * 60_000
    elif request.param == "tsdb-compacted":
        assert tsdb.maintain().watermark_ms >= END
    yield tsdb
    tsdb.close()


def normalize_ours(result: Result) -> tuple[str, dict]:
    if result.type is ResultType.SCALAR:
        return "scalar", {(): [(result.time_ms, result.scalar)]}
    out = {
        tuple(sorted(s.labels.items())): list(zip(s.timestamps, s.values, strict=True))
        for s in result.series
    }
    return result.type.value, out


def close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b)) or abs(a - b) < 1e-9


def differences(theirs: tuple[str, dict], ours: tuple[str, dict]) -> list[str]:
    if theirs[0] != ours[0]:
        return [f"result type {ours[0]}, Prometheus says {theirs[0]}"]
    problems = []
    for key in sorted(set(theirs[1]) | set(ours[1])):
        t, o = theirs[1].get(key), ours[1].get(key)
        if t is None or o is None:
            problems.append(f"{dict(key)} only in {'ours' if t is None else 'Prometheus'}")
            continue
        if [p[0] for p in t] != [p[0] for p in o]:
            problems.append(f"{dict(key)}: timestamps differ ({len(t)} vs {len(o)} points)")
            continue
        for (ts, tv), (_, ov) in zip(t, o, strict=True):
            if not close(tv, ov):
                problems.append(f"{dict(key)} at {ts}: Prometheus {tv!r}, ours {ov!r}")
                break
    return problems


def test_the_oracle_serves_the_samples_we_loaded(oracle, store):
    total = sum(len(points) for _, points in fleet(START, END))
    query = "sum(count_over_time({__name__=~'.+'}[4h]))"
    data = oracle.query(query, END + MINUTE)
    assert float(data["result"][0]["value"][1]) == total
    assert evaluate_instant(query, END + MINUTE, store, [1]).series[0].values == [total]


@pytest.mark.parametrize("query", QUERIES)
def test_same_answers_as_prometheus(query, oracle, store):
    problems = []
    for name, at in INSTANTS.items():
        theirs = normalize_prometheus(oracle.query(query, at))
        ours = normalize_ours(evaluate_instant(query, at, store, [1]))
        problems += [f"instant {name}: {p}" for p in differences(theirs, ours)]
    for name, (start, end, step) in RANGES.items():
        theirs = normalize_prometheus(oracle.query_range(query, start, end, step))
        ours = normalize_ours(evaluate_range(query, start, end, step, store, [1]))
        problems += [f"range {name}: {p}" for p in differences(theirs, ours)]
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("query", FAILING)
def test_same_errors_as_prometheus(query, oracle, store):
    at = INSTANTS["on-sample"]
    with pytest.raises(PrometheusError) as theirs:
        oracle.query(query, at)
    with pytest.raises(QueryError) as ours:
        evaluate_instant(query, at, store, [1])
    assert theirs.value.error_type == "execution"
    assert ours.value.execution
    assert ours.value.message.split(":")[0] == theirs.value.message.split(":")[0]
