"""Time-series store speed and size on node_exporter-like data.

Prints: bulk append samples/s (first round, which registers the series, apart), bytes per
sample after compaction, the p50/p95 of a 24 h select of one series at 10 s, and an
``avg by (instance)``-style select of one metric over the whole fleet for 1 h (from the
recent-samples table, then from chunks after compaction).

    .venv/bin/python bench/tsdb_bench.py                       # SQLite in a temp dir
    .venv/bin/python bench/tsdb_bench.py --target postgresql://postgres@127.0.0.1/postgres
    .venv/bin/python bench/tsdb_bench.py --maintain-cost [--cost-hosts 1000] [--target ...]

``--maintain-cost`` measures only the worker's compaction: CPU seconds of the
``maintain()`` runs that put one hour of 50-series hosts at 10 s into chunks, with the
watermark moving hourly (before issue #3), every 5 minutes (the default) and every minute.

Data: per host 50 series sampled every 10 s with a few ms of jitter: 16 CPU-seconds
counters (2 decimals), network/disk/kernel counters (integers), memory and filesystem
gauges (integers, noisy), load averages (2 decimals), process counts and node_time_seconds
(a float with full precision, the worst case).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from steward.tsdb import TimeSeriesStore, open_store
from steward.tsdb.backends import PostgresBackend, SqliteBackend
from steward.tsdb.types import (
    HOUR_MS,
    Limits,
    Matcher,
    MatchOp,
    Sample,
    Tier,
)

STEP_MS = 10_000
MODES = ("idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice")


def series_templates() -> list[tuple[dict[str, str], str]]:
    """(extra labels incl. __name__, kind) for the 50 series of one host."""
    out: list[tuple[dict[str, str], str]] = []
    for cpu in ("0", "1"):
        for mode in MODES:
            out.append(({"__name__": "node_cpu_seconds_total", "cpu": cpu, "mode": mode}, "cpu"))
    for name in ("MemTotal", "MemFree", "MemAvailable", "Cached", "Buffers", "SwapFree"):
        out.append(({"__name__": f"node_memory_{name}_bytes"}, "mem"))
    for name in ("node_load1", "node_load5", "node_load15"):
        out.append(({"__name__": name}, "load"))
    for dev in ("eth0", "lo"):
        for what in ("receive_bytes", "transmit_bytes", "receive_packets", "transmit_packets"):
            out.append(({"__name__": f"node_network_{what}_total", "device": dev}, "net"))
    for what in ("read_bytes", "written_bytes", "reads_completed", "writes_completed"):
        out.append(({"__name__": f"node_disk_{what}_total", "device": "sda"}, "net"))
    out.append(({"__name__": "node_disk_io_time_seconds_total", "device": "sda"}, "iotime"))
    for mp in ("/", "/boot"):
        for what in ("avail", "free", "size"):
            out.append(({"__name__": f"node_filesystem_{what}_bytes", "mountpoint": mp}, "fs"))
    for name in ("node_context_switches_total", "node_intr_total", "node_forks_total"):
        out.append(({"__name__": name}, "net"))
    out.append(({"__name__": "node_procs_running"}, "procs"))
    out.append(({"__name__": "node_procs_blocked"}, "procs"))
    out.append(({"__name__": "node_time_seconds"}, "time"))
    assert len(out) == 50
    return out


class Fleet:
    """Per (host, series) state, advanced one 10 s round at a time with numpy."""

    def __init__(self, hosts: int, start_ms: int, seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        self.templates = series_templates()
        self.kinds = np.array([k for _, k in self.templates])
        self.hosts = hosts
        self.labels = [
            [
                {
                    **extra,
                    "instance": f"host-{h:04d}",
                    "job": "steward",
                    "steward_device": str(h + 1),
                    "steward_org": "acme",
                }
                for extra, _ in self.templates
            ]
            for h in range(hosts)
        ]
        shape = (hosts, len(self.templates))
        self.value = self.rng.random(shape) * 1e6
        self.value[:, self.kinds == "mem"] = np.round(self.rng.random((hosts, 6)) * 2**33)
        self.value[:, self.kinds == "fs"] = np.round(self.rng.random((hosts, 6)) * 2**36)
        self.value = np.round(self.value)
        self.time_ms = start_ms

    def round(self) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps (per host) and values (host x series) of the next round."""
        r, k, v = self.rng, self.kinds, self.value
        n = self.hosts
        v[:, k == "cpu"] += np.round(r.random((n, 16)) * 10, 2)
        v[:, k == "net"] += r.integers(0, 50_000, (n, int((k == "net").sum())))
        v[:, k == "iotime"] += np.round(r.random((n, 1)) * 0.5, 3)
        v[:, k == "mem"] += r.integers(-100, 100, (n, 6)) * 4096
        v[:, k == "fs"] += r.integers(-2, 3, (n, 6)) * 4096
        v[:, k == "load"] = np.round(r.random((n, 3)) * 4, 2)
        v[:, k == "procs"] = r.integers(0, 8, (n, 2))
        jitter = r.integers(0, 20, n)
        ts = self.time_ms + jitter
        v[:, k == "time"] = (ts / 1000.0 + r.random(n) * 1e-3)[:, None]
        v[:, k == "cpu"] = np.round(v[:, k == "cpu"], 2)
        self.time_ms += STEP_MS
        return ts, v.copy()

    def samples(self, hosts: range, ts: np.ndarray, values: np.ndarray) -> list[Sample]:
        out = []
        for h in hosts:
            t = int(ts[h])
            row = values[h].tolist()
            # New dicts per batch, as ingest would parse them from each request.
            for labels, value in zip(self.labels[h], row, strict=True):
                out.append(Sample(dict(labels), t, value))
        return out


def batches(fleet: Fleet, rounds: int, batch_hosts: int) -> list[list[Sample]]:
    out = []
    for _ in range(rounds):
        ts, values = fleet.round()
        for h0 in range(0, fleet.hosts, batch_hosts):
            out.append(fleet.samples(range(h0, min(h0 + batch_hosts, fleet.hosts)), ts, values))
    return out


def timed_append(store: TimeSeriesStore, work: list[list[Sample]]) -> tuple[float, int]:
    total = 0
    t0 = time.perf_counter()
    for batch in work:
        result = store.append(1, batch)
        assert result.rejected == 0, result.errors
        total += result.accepted
    return time.perf_counter() - t0, total


def finish(store: TimeSeriesStore) -> None:
    """Close; a PostgreSQL bench schema is dropped (SQLite files go with the temp dir)."""
    if isinstance(store.backend, PostgresBackend):
        store.backend.drop_schema()
    store.close()


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def open_target(args: argparse.Namespace, name: str, clock: list[int]) -> TimeSeriesStore:
    limits = Limits(max_past_ms=7 * 24 * HOUR_MS)
    if args.target.startswith("postgres"):
        schema = f"tsdb_bench_{name}_{uuid.uuid4().hex[:8]}"
        return open_store(args.target, schema=schema, limits=limits, clock=lambda: clock[0])
    path = Path(args.dir) / f"{name}.sqlite3"
    return open_store(path, limits=limits, clock=lambda: clock[0])


def bench_append(args: argparse.Namespace) -> None:
    start = 1_764_000_000_000
    clock = [start + 3 * HOUR_MS]
    store = open_target(args, "fleet", clock)
    fleet = Fleet(args.hosts, start)
    batch_hosts = max(1, args.batch // 50)
    first = batches(fleet, 1, batch_hosts)
    secs, n = timed_append(store, first)
    print(f"append, first round (registers {n:,} series): {n / secs:,.0f} samples/s")
    # Warm up past one raw bucket (2 min), so the timed rounds write where a long-running
    # store would: the pages of the current bucket, with older buckets full.
    for _ in range(args.warmup):
        timed_append(store, batches(fleet, 1, batch_hosts))
    work = batches(fleet, args.rounds, batch_hosts)
    secs, n = timed_append(store, work)
    print(
        f"append, steady: {n:,} samples in {len(work)} batches of ~{args.batch:,}: "
        f"{n / secs:,.0f} samples/s"
    )
    # Fill one metric for the whole fleet up to an hour, for the fleet-wide select.
    load1 = fleet.templates.index(({"__name__": "node_load1"}, "load"))
    rows = []
    for _ in range(360 - args.rounds - args.warmup - 1):
        ts, values = fleet.round()
        for h in range(fleet.hosts):
            rows.append(Sample(dict(fleet.labels[h][load1]), int(ts[h]), float(values[h, load1])))
    for i in range(0, len(rows), 10_000):
        store.append(1, rows[i : i + 10_000])
    end = fleet.time_ms
    matchers = [Matcher("__name__", MatchOp.EQ, "node_load1")]

    def fleet_select() -> list[float]:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            got = store.select([1], matchers, end - HOUR_MS, end, tier=Tier.RAW)
            sums: dict[str, float] = {}
            for s in got:  # avg by (instance) over the hour: what the engine would do
                sums[s.labels["instance"]] = sum(s.values) / max(1, len(s.values))
            times.append(time.perf_counter() - t0)
        assert len(got) == args.hosts, len(got)
        return times

    times = fleet_select()
    npts = sum(len(s.timestamps) for s in store.select([1], matchers, end - HOUR_MS, end))
    print(
        f"select node_load1 x {args.hosts} hosts, 1 h ({npts:,} points), recent table: "
        f"p50 {statistics.median(times) * 1000:.0f} ms"
    )
    t0 = time.perf_counter()
    result = store.maintain(end + 3 * HOUR_MS)
    print(
        f"maintain: compacted {result.compacted_samples:,} samples of "
        f"{result.compacted_series:,} series in {time.perf_counter() - t0:.1f} s"
    )
    times = fleet_select()
    print(f"same select from chunks: p50 {statistics.median(times) * 1000:.0f} ms")
    t0 = time.perf_counter()
    got = store.select([1], matchers, end - 2 * 24 * HOUR_MS - HOUR_MS, end, tier=Tier.MINUTE)
    print(f"same metric, 1 m tier, {len(got)} series: {(time.perf_counter() - t0) * 1000:.0f} ms")
    finish(store)


def bench_history(args: argparse.Namespace) -> None:
    start = 1_764_000_000_000
    hours = args.history_hours
    clock = [start + hours * HOUR_MS]
    store = open_target(args, "history", clock)
    fleet = Fleet(args.history_hosts, start, seed=2)
    rounds_per_hour = HOUR_MS // STEP_MS
    total = 0
    spent = 0.0
    maintained = 0.0
    for hour in range(hours):
        work = batches(fleet, rounds_per_hour, max(1, args.batch // 50))
        secs, n = timed_append(store, work)
        spent += secs
        total += n
        t0 = time.perf_counter()
        store.maintain(fleet.time_ms)
        maintained += time.perf_counter() - t0
        if hour == 0:
            base = store.size_bytes()
    store.maintain(fleet.time_ms + 3 * HOUR_MS)  # compact the last hours too
    size = store.size_bytes()
    print(
        f"history: {args.history_hosts} hosts x 50 series x {hours} h = {total:,} samples, "
        f"append {total / spent:,.0f} samples/s, maintain {maintained:.1f} s in all"
    )
    print(
        f"bytes/sample after compaction: {size / total:.2f} "
        f"(database {size / 1e6:.1f} MB: samples, rollups, registry, indexes; "
        f"{base / 1e6:.1f} MB after hour 1)"
    )
    conn = store.backend.conn()
    parts = []
    for table in ("chunk_raw", "chunk_1m", "chunk_1h"):
        sql = f"SELECT sum(length(data)) FROM {table}"  # noqa: S608 (fixed names)
        row = store.backend.execute(conn, sql).fetchone()
        parts.append(f"{table} {int(row[0] or 0) / total:.2f}")
    if isinstance(store.backend, SqliteBackend):
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        free *= conn.execute("PRAGMA page_size").fetchone()[0]
        parts.append(f"free pages (reused by new raw rows) {free / total:.2f}")
    print("  of which compressed payload per sample: " + ", ".join(parts))
    end = fleet.time_ms
    matchers = [
        Matcher("__name__", MatchOp.EQ, "node_cpu_seconds_total"),
        Matcher("instance", MatchOp.EQ, "host-0000"),
        Matcher("cpu", MatchOp.EQ, "0"),
        Matcher("mode", MatchOp.EQ, "user"),
    ]
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        got = store.select([1], matchers, end - 24 * HOUR_MS, end, tier=Tier.RAW)
        times.append(time.perf_counter() - t0)
    print(
        f"select 1 series x 24 h at 10 s ({len(got[0].timestamps):,} points): "
        f"p50 {statistics.median(times) * 1000:.1f} ms, p95 {percentile(times, 0.95) * 1000:.1f} ms"
    )
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        got = store.select([1], matchers, end - 24 * HOUR_MS, end, tier=Tier.MINUTE)
        times.append(time.perf_counter() - t0)
    print(
        f"same, 1 m tier ({len(got[0].timestamps):,} points): "
        f"p50 {statistics.median(times) * 1000:.1f} ms"
    )
    finish(store)


def _fill(
    store: TimeSeriesStore, fleet: Fleet, ids: np.ndarray, clock: list[int], rounds: int
) -> None:
    """``rounds`` 10 s rounds of the whole fleet, by series id (ingest's fast path)."""
    for _ in range(rounds):
        ts, values = fleet.round()
        clock[0] = fleet.time_ms
        stamps = np.repeat(ts, values.shape[1]).tolist()
        rows = list(zip(ids.ravel().tolist(), stamps, values.ravel().tolist(), strict=True))
        for i in range(0, len(rows), 50_000):
            result = store.append_resolved(1, rows[i : i + 50_000])
            assert result.rejected == 0, result.errors


def maintain_cost(args: argparse.Namespace, after_ms: int, step_ms: int) -> tuple[float, float]:
    """CPU and wall seconds of the maintain() runs that compact one hour of data of
    ``--cost-hosts`` x 50 series at 10 s, with the watermark moving in steps of
    ``step_ms`` (the worker calls maintain() every minute; only runs that move the
    watermark do work)."""
    start = 1_764_000_000_000 - 1_764_000_000_000 % HOUR_MS
    clock = [start]
    target: str | Path = Path(args.dir) / f"cost-{step_ms}.sqlite3"
    if args.target.startswith("postgres"):
        target = args.target
    store = open_store(
        target,
        schema=f"tsdb_bench_cost_{uuid.uuid4().hex[:8]}",
        clock=lambda: clock[0],
        compact_after_ms=after_ms,
        compact_step_ms=step_ms,
    )
    fleet = Fleet(args.cost_hosts, start, seed=3)
    ts, values = fleet.round()
    store.append(1, fleet.samples(range(args.cost_hosts), ts, values))
    ids = np.array(
        [[store.series_id(1, lbls) for lbls in host] for host in fleet.labels], dtype=np.int64
    )
    cpu = wall = 0.0
    watermark = start
    while watermark < start + HOUR_MS:  # until the hour [start, start + 1 h) is in chunks
        _fill(store, fleet, ids, clock, 6)  # a minute of data, then the worker's call
        c0, w0 = time.process_time(), time.perf_counter()
        result = store.maintain(clock[0])
        if result.compacted_samples:
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
        watermark = result.watermark_ms
    finish(store)
    return cpu, wall


def bench_maintain_cost(args: argparse.Namespace) -> None:
    series = args.cost_hosts * 50
    scale = 50_000 / series
    print(f"maintain() cost, {series:,} series at 10 s, one hour of data (per 50k series):")
    for name, after, step in (
        ("hourly (before #3)", 2 * HOUR_MS, HOUR_MS),
        ("5 min steps", 5 * 60_000, 5 * 60_000),
        ("1 min steps", 60_000, 60_000),
    ):
        if args.cost_steps and name.split()[0] not in args.cost_steps.split(","):
            continue
        cpu, wall = maintain_cost(args, after, step)
        print(
            f"  {name:<20} CPU {cpu * scale:6.1f} s, wall {wall * scale:6.1f} s "
            f"per hour of data per 50k series"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", default="", help="postgresql:// URL (default: SQLite)")
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20, help="10 s rounds timed")
    parser.add_argument("--warmup", type=int, default=15, help="10 s rounds before timing")
    parser.add_argument("--batch", type=int, default=10_000, help="samples per append")
    parser.add_argument("--history-hosts", type=int, default=10)
    parser.add_argument("--history-hours", type=int, default=26)
    parser.add_argument(
        "--maintain-cost",
        action="store_true",
        help="only measure maintain() per hour of data: hourly vs 5 min vs 1 min steps",
    )
    parser.add_argument("--cost-hosts", type=int, default=1000, help="x 50 series")
    parser.add_argument("--cost-steps", default="", help="e.g. 'hourly,5' (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="steward-tsdb-bench-") as tmp:
        args.dir = tmp
        print(f"target: {args.target or 'SQLite in ' + tmp}")
        if args.maintain_cost:
            bench_maintain_cost(args)
            return
        bench_append(args)
        bench_history(args)


if __name__ == "__main__":
    main()
