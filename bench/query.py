"""Query latency of the PromQL engine, against Prometheus where it is installed.

    .venv/bin/python bench/query.py [--hosts 1000] [--series-per-host 50] [--repeat 20]

Data: HOSTS hosts x SERIES_PER_HOST series at 10 s for 1 h (the fleet; CPU_SERIES of them
are ``node_cpu_seconds_total``), plus 24 h at 10 s for the target host's ``node_load1``
and ``node_network_receive_bytes_total``. Loaded into ``MemoryStore`` and, when it exists,
the real store (``steward.tsdb.open_store``). Queries:

  (a) 24 h range of one series at step 60 s (a raw gauge, and ``rate()`` of a counter);
  (b) ``avg by (instance) (rate(node_cpu_seconds_total[5m]))`` over all hosts, 1 h, step 60 s.

The real store is measured twice: as loaded (samples in its recent-rows table) and after
``maintain()`` has compacted them into hour chunks, as the worker does every minute for
data older than the watermark (the data here is 4-5 h old). Then "live": the same shape
of data ending NOW, after ``maintain(now)`` as the worker would have run it, so the last
5-10 minutes are still rows (the watermark trails now by ``compact_after_ms`` floored to
``compact_step_ms``); ``--live-hourly`` adds the same with the hourly watermark the store
had before issue #3 (the last 2-3 hours in rows). ``--live-ingest`` then runs the live
fleet query with ingest going on: before each query (untimed) the next 10 s of every
series is appended and ``maintain()`` run, the store's clock 10 s on, the query ending
at the new now, so each read meets buckets written seconds ago (not in the head cache
yet, ``steward/tsdb/head.py``); the cache's counters are printed.

The real store is loaded as agents send: one timestamp of every series a transaction
(until issue #3's head cache it was series by series, which wrote a page per 10 s of
each series and took ~8 min for the 18 M samples instead of ~1).

Prometheus and VictoriaMetrics (Debian's packages, where installed) are loaded with the
series these queries read only and queried over HTTP on 127.0.0.1, so their figures
include JSON encoding; ours are timed as engine + JSON encoding.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from steward.promql import Result, evaluate_range  # noqa: E402
from steward.promql.memstore import MemoryStore  # noqa: E402
from steward.tsdb.types import Sample, Store  # noqa: E402

HOUR = 3_600_000
STEP_DATA = 10_000
MODES = ("idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice")


def build(
    hosts: int, per_host: int, cpu_series: int, end: int
) -> list[tuple[dict, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    fleet_ts = np.arange(end - HOUR, end, STEP_DATA, dtype=np.int64)
    day_ts = np.arange(end - 24 * HOUR, end, STEP_DATA, dtype=np.int64)
    out = []
    for h in range(hosts):
        inst = f"host-{h:04d}"
        for c in range(cpu_series):
            labels = {
                "__name__": "node_cpu_seconds_total",
                "instance": inst,
                "job": "node",
                "cpu": str(c // len(MODES)),
                "mode": MODES[c % len(MODES)],
            }
            inc = rng.uniform(0.05, 9.0, fleet_ts.size).round(2)
            out.append((labels, fleet_ts, np.cumsum(inc) + rng.uniform(1e4, 1e6)))
        for k in range(per_host - cpu_series):
            labels = {"__name__": f"node_other_{k}", "instance": inst, "job": "node"}
            out.append((labels, fleet_ts, rng.uniform(0, 100, fleet_ts.size).round(2)))
    target = "host-0000"
    out.append(
        (
            {"__name__": "node_load1", "instance": target, "job": "node"},
            day_ts,
            rng.uniform(0, 4, day_ts.size).round(2),
        )
    )
    out.append(
        (
            {"__name__": "node_network_receive_bytes_total", "instance": target, "job": "node"},
            day_ts,
            np.cumsum(rng.integers(0, 10**6, day_ts.size)) * 1.0,
        )
    )
    return out


def queries(end: int) -> dict[str, tuple[str, int, int, int]]:
    return {
        "(a) 24h gauge, step 60s": (
            'node_load1{instance="host-0000"}',
            end - 24 * HOUR,
            end,
            60_000,
        ),
        "(a) 24h rate(), step 60s": (
            'rate(node_network_receive_bytes_total{instance="host-0000"}[5m])',
            end - 24 * HOUR,
            end,
            60_000,
        ),
        "(b) fleet avg by rate 1h": (
            "avg by (instance) (rate(node_cpu_seconds_total[5m]))",
            end - HOUR,
            end,
            60_000,
        ),
    }


def encode(result: Result) -> str:
    """Roughly what prom_api does to a matrix (it needs Django; this does not)."""
    return json.dumps(
        [
            {
                "metric": s.labels,
                "values": [
                    [t / 1000, repr(v)] for t, v in zip(s.timestamps, s.values, strict=True)
                ],
            }
            for s in result.series
        ]
    )


def measure(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]


def bench_store(name: str, store: Store, qs: dict, repeat: int) -> dict[str, float]:
    p50s = {}
    for label, (expr, start, end, step) in qs.items():
        result = evaluate_range(expr, start, end, step, store, [1])
        points = sum(len(s.values) for s in result.series)
        p50, p95 = measure(
            lambda e=expr, a=start, b=end, s=step: encode(evaluate_range(e, a, b, s, store, [1])),
            repeat,
        )
        p50s[label] = p50
        print(
            f"  {name:<16} {label:<26} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  "
            f"({len(result.series)} series, {points} points)"
        )
    return p50s


def load_tsdb(data, path: Path, **options) -> Store | None:
    """The data into a new store, as agents send it: a timestamp of every series a
    transaction (``append_resolved``, after one ``append`` that registers the series),
    so rows land at the end of the raw table's current bucket as in production."""
    try:
        from steward.tsdb import open_store  # type: ignore[attr-defined]
    except ImportError:
        print("steward.tsdb.open_store: not available yet (the store is being written); skipped")
        return None
    store = open_store(path, **options)
    t0 = time.perf_counter()
    store.append(1, [Sample(labels, int(ts[0]), float(vs[0])) for labels, ts, vs in data])
    ids = [store.series_id(1, labels) for labels, _, _ in data]
    # Series sharing a time axis go in together, one timestamp a transaction.
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (_, ts, _) in enumerate(data):
        groups.setdefault((int(ts[0]), ts.size), []).append(i)
    for members in groups.values():
        stamps = data[members[0]][1][1:].tolist()
        sids = [ids[i] for i in members]
        columns = np.stack([data[i][2][1:] for i in members], axis=1)
        for ts, column in zip(stamps, columns.tolist(), strict=True):
            store.append_resolved(1, list(zip(sids, [ts] * len(sids), column, strict=True)))
    print(f"steward.tsdb loaded in {time.perf_counter() - t0:.1f} s")
    return store


class LiveIngest:
    """``--live-ingest``: before each timed query, the next 10 s of every series appended
    (untimed) and the store's clock moved 10 s on, the query ending at the new now, and
    ``maintain()`` run whenever the worker would move the watermark; so each query has
    the hot buckets of a live store (written in the last seconds, not settled)."""

    def __init__(self, store, data, end: int, clock: list[int]) -> None:
        self.store = store
        self.clock = clock
        self.end = end
        self.sids = [store.series_id(1, labels) for labels, _, _ in data]
        # The next values: each series' last step again (a counter keeps rising).
        self.last = np.array([float(vs[-1]) for _, _, vs in data])
        self.delta = np.array([max(float(vs[-1] - vs[-2]), 0.0) for _, _, vs in data])
        self.compactions = 0

    def advance(self) -> int:
        self.end += STEP_DATA
        self.clock[0] = self.end + 1_000
        self.last += self.delta
        rows = list(zip(self.sids, [self.end] * len(self.sids), self.last.tolist(), strict=True))
        self.store.append_resolved(1, rows)
        done = self.store.maintain(self.clock[0])  # type: ignore[attr-defined]
        self.compactions += done.compacted_samples > 0
        return self.end


def bench_live(name: str, args: argparse.Namespace, path: Path, options: dict) -> dict[str, float]:
    """The queries over data that ends now, after the worker's ``maintain(now)``."""
    now = int(time.time() * 1000)
    end = now - now % STEP_DATA
    data = build(args.hosts, args.series_per_host, args.cpu_series, end)
    clock = [now]
    store = load_tsdb(data, path, clock=lambda: clock[0], **options)
    assert store is not None
    clock[0] = now = int(time.time() * 1000)
    t0 = time.perf_counter()
    done = store.maintain(now)  # type: ignore[attr-defined]
    print(
        f"{name}: maintain(now) in {time.perf_counter() - t0:.1f} s; watermark "
        f"{(now - done.watermark_ms) / 60_000:.1f} min before now, "
        f"{sum(ts.size for _, ts, _ in data) - done.compacted_samples:,} samples left in rows"
    )
    figures = bench_store(name, store, queries(end), args.repeat)
    head = getattr(store, "head", None)
    if head is not None:
        print(f"  head cache: {head.rows:,} rows; bucket reads {head.stats}")
    print_chunk_cache()
    if args.live_ingest:
        ingest = LiveIngest(store, data, end, clock)
        label = "(b) fleet avg by rate 1h"
        expr, _, _, step = queries(end)[label]
        times = []
        stats0 = head.stats.__dict__.copy() if head is not None else {}
        for _ in range(args.repeat + 1):
            e = ingest.advance()
            t0 = time.perf_counter()
            encode(evaluate_range(expr, e - HOUR, e, step, store, [1]))
            times.append((time.perf_counter() - t0) * 1000)
        times = sorted(times[1:])
        p50 = statistics.median(times)
        p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
        figures["(b) fleet, ingest going on"] = p50
        print(
            f"  {name:<16} {'(b) fleet, ingest going on':<26} p50 {p50:8.1f} ms  "
            f"p95 {p95:8.1f} ms  ({args.repeat} x 10 s of ingest, untimed)"
        )
        if head is not None:
            moved = {k: v - stats0[k] for k, v in head.stats.__dict__.items()}
            print(
                f"  head cache: {head.rows:,} rows; bucket reads meanwhile {moved}; "
                f"{ingest.compactions} compaction(s) in between"
            )
    store.close()  # type: ignore[attr-defined]
    return figures


def print_chunk_cache() -> None:
    """The process's decoded-chunk cache (steward/tsdb/chunkcache.py), where it exists."""
    try:
        from steward.tsdb import chunkcache
    except ImportError:
        return
    cache = chunkcache.shared()
    print(
        f"  chunk cache: {len(cache):,} chunks, {cache.nbytes / 2**20:.1f} MB "
        f"(bound {cache.max_bytes / 2**20:.0f} MB); {cache.stats}"
    )


def bench_prometheus(data, qs: dict, repeat: int, workdir: Path) -> dict[str, float] | None:
    from tests.promql.prometheus_harness import binaries_missing, running_prometheus

    reason = binaries_missing()
    if reason:
        print(f"Prometheus: {reason}; skipped")
        return None
    wanted = {"node_cpu_seconds_total", "node_load1", "node_network_receive_bytes_total"}
    series = [
        (labels, list(zip(ts.tolist(), vs.tolist(), strict=True)))
        for labels, ts, vs in data
        if labels["__name__"] in wanted
    ]
    t0 = time.perf_counter()
    with running_prometheus(series, workdir, startup_timeout=300) as prom:
        print(
            f"Prometheus backfilled and ready in {time.perf_counter() - t0:.1f} s "
            f"({sum(len(p) for _, p in series)} samples)"
        )
        p50s = {}
        for label, (expr, start, end, step) in qs.items():
            p50, p95 = measure(
                lambda e=expr, a=start, b=end, s=step: prom.query_range(e, a, b, s), repeat
            )
            p50s[label] = p50
            print(f"  {'prometheus':<16} {label:<26} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms")
        return p50s


def bench_victoria(data, qs: dict, repeat: int, workdir: Path) -> dict[str, float] | None:
    import shutil
    import subprocess

    import httpx

    binary = shutil.which("victoria-metrics")
    if binary is None:
        print("VictoriaMetrics: not installed (apt-get install victoria-metrics); skipped")
        return None
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [binary, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={workdir}",
         "-retentionPeriod=100y", "-search.disableCache"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        wanted = {"node_cpu_seconds_total", "node_load1", "node_network_receive_bytes_total"}
        t0 = time.perf_counter()
        lines = [
            json.dumps({"metric": labels, "values": vs.tolist(), "timestamps": ts.tolist()})
            for labels, ts, vs in data
            if labels["__name__"] in wanted
        ]
        for i in range(0, len(lines), 500):
            body = "\n".join(lines[i : i + 500]).encode()
            httpx.post(f"{url}/api/v1/import", content=body, timeout=120).raise_for_status()
        httpx.get(f"{url}/internal/force_flush", timeout=120)
        print(f"VictoriaMetrics loaded in {time.perf_counter() - t0:.1f} s")
        p50s = {}
        with httpx.Client(timeout=120) as client:
            for label, (expr, start, end, step) in qs.items():

                def run(e=expr, a=start, b=end, st=step) -> object:
                    params = {"query": e, "start": a / 1000, "end": b / 1000, "step": st / 1000}
                    response = client.get(f"{url}/api/v1/query_range", params=params)
                    response.raise_for_status()
                    return response.json()

                found = run()["data"]["result"]
                p50, p95 = measure(run, repeat)
                p50s[label] = p50
                print(
                    f"  {'victoria':<16} {label:<26} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  "
                    f"({len(found)} series)"
                )
        return p50s
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--series-per-host", type=int, default=50)
    parser.add_argument("--cpu-series", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-prometheus", action="store_true")
    parser.add_argument("--no-victoria", action="store_true")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated cases not to time: memory, recent (tsdb chunks and live always)",
    )
    parser.add_argument(
        "--live-hourly", action="store_true", help="also the live case with an hourly watermark"
    )
    parser.add_argument(
        "--live-ingest",
        action="store_true",
        help="also the live fleet query with 10 s of ingest (and maintain) before each",
    )
    args = parser.parse_args()
    random.seed(1)
    end = (int(time.time() * 1000) - 4 * HOUR) // HOUR * HOUR  # clear of Prometheus' head
    t0 = time.perf_counter()
    data = build(args.hosts, args.series_per_host, args.cpu_series, end)
    memory = MemoryStore()
    for labels, ts, vs in data:
        memory.append_series(1, labels, ts, vs)
    total = sum(ts.size for _, ts, _ in data)
    print(
        f"{len(data)} series, {total} samples; MemoryStore loaded in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    qs = queries(end)
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    figures = {}
    if "memory" not in skip:
        figures["memory"] = bench_store("memory", memory, qs, args.repeat)
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as tmp:
        tsdb = load_tsdb(data, Path(tmp) / "tsdb")
        if tsdb is not None:
            if "recent" not in skip:
                figures["tsdb recent"] = bench_store("tsdb recent", tsdb, qs, args.repeat)
            t0 = time.perf_counter()
            tsdb.maintain()
            print(f"steward.tsdb compacted in {time.perf_counter() - t0:.1f} s")
            figures["tsdb chunks"] = bench_store("tsdb chunks", tsdb, qs, args.repeat)
            print_chunk_cache()
            tsdb.close()
            live = [("tsdb live", {})]
            if args.live_hourly:
                live.append(
                    ("tsdb live hourly", {"compact_after_ms": 2 * HOUR, "compact_step_ms": HOUR})
                )
            for name, options in live:
                figures[name] = bench_live(name, args, Path(tmp) / name.replace(" ", "-"), options)
        if not args.no_prometheus:
            workdir = Path(tmp) / "prometheus"
            workdir.mkdir()
            peer = bench_prometheus(data, qs, args.repeat, workdir)
            if peer:
                figures["prometheus"] = peer
        if not args.no_victoria:
            peer = bench_victoria(data, qs, args.repeat, Path(tmp) / "victoria")
            if peer:
                figures["victoria"] = peer
    for peer in ("prometheus", "victoria"):
        if peer not in figures:
            continue
        print(f"ratio (ours p50 / {peer} p50):")
        for label in qs:
            row = "  ".join(
                f"{name} {figures[name][label] / figures[peer][label]:5.2f}x"
                for name in (
                    "memory",
                    "tsdb recent",
                    "tsdb chunks",
                    "tsdb live",
                    "tsdb live hourly",
                )
                if name in figures
            )
            print(f"  {label:<26} {row}")


if __name__ == "__main__":
    main()
