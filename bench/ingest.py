"""Sustained metric ingest into a running ``steward serve``: line protocol and agent batches.

Starts the server as a subprocess on loopback with a throw-away STEWARD_HOME, creates an
organization, a technician and an API token (``steward user create``/``steward token
create``), then pushes for ``--seconds``:

* line protocol: ``--hosts`` hosts x ``--series`` series (``--fields`` fields per line),
  ``--lines`` lines per request, ``--senders`` concurrent senders, fresh timestamps
  every round (no duplicates);
* agent batches: gzip JSON to ``/api/v1/agent/metrics`` for ``--devices`` enrolled devices;
* line protocol again at the agent batch's size (50 lines of 10 fields for 50 series x 10
  points; ``--no-small-lines`` skips it): the two paths compared request for request,
  and the same small requests into VictoriaMetrics, for each path's ratio at that size.

Runs on SQLite, then on PostgreSQL when ``STEWARD_BENCH_PG_URL`` is set or a local server
answers on the default socket (a scratch database is created and dropped). When Debian's
``victoria-metrics`` is installed (it *is* in bookworm main: 1.79.5), the identical
line-protocol payload is also pushed to a scratch VictoriaMetrics (``/write``) and the
ratio printed; ``--victoria URL`` uses a running one instead.

    .venv/bin/python bench/ingest.py [--seconds 20] [--store real|null] [--no-pg]
        [--workers N] [--runs 3] [--agent-series 50 --agent-points 10] [--no-lines]

``--workers`` is passed to ``steward serve`` (1 by default); ``--senders`` defaults to two
per server process. Temporary homes and VictoriaMetrics' data are removed at the end.

``--store null`` swaps in a store that only counts (measures ingest without storage);
``real`` (default when ``steward.tsdb.open_store`` exists) uses the configured store.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-123"  # noqa: S105 - a throw-away bench user
EMAIL = "bench@example.test"

# Mounts the metrics app when the lead's settings/urls lines are not in yet; harmless after.
OVERLAY_SETTINGS = """
from steward.server.settings import *  # noqa: F403

if "steward.metrics" not in INSTALLED_APPS:  # noqa: F405
    INSTALLED_APPS = [*INSTALLED_APPS, "steward.metrics"]  # noqa: F405
ROOT_URLCONF = "steward_bench_urls"
# Django's docs: "If you are using ASGI, persistent connections should be disabled".
# With CONN_MAX_AGE > 0 every ASGI request opens a connection of its own that is only
# closed when the cyclic GC frees it: on PostgreSQL the agent case hit "too many
# clients already" (500s) within seconds. Measure ingest, not that leak.
for _db in DATABASES.values():  # noqa: F405
    _db["CONN_MAX_AGE"] = 0
"""

OVERLAY_URLS = """
import os

from django.urls import path
from ninja import NinjaAPI

from steward.api import errors
from steward.api.auth import SessionAuth, TokenAuth
from steward.metrics.agent import router as agent_metrics_router
from steward.metrics.api import router as metrics_router
from steward.metrics.write import router as write_router
from steward.server.urls import urlpatterns as server_urlpatterns

api = NinjaAPI(auth=[TokenAuth(), SessionAuth()], urls_namespace="metrics-bench", docs_url=None)
errors.install(api)
api.add_router("/", metrics_router)
api.add_router("/", write_router)
api.add_router("/agent", agent_metrics_router)
urlpatterns = [path("api/v1/", api.urls), *server_urlpatterns]

if os.environ.get("STEWARD_BENCH_STORE") == "null":
    from steward.metrics.store import set_store_for_tests
    from steward.tsdb.types import AppendResult

    class NullStore:
        def append(self, org_id, samples):
            return AppendResult(accepted=sum(1 for _ in samples))

        def set_metadata(self, org_id, items):
            pass

        def maintain(self, now_ms):
            pass

    set_store_for_tests(NullStore())
"""


_scratch: list[str] = []  # temporary directories of this run, removed at the end


def scratch_dir(prefix: str) -> str:
    path = tempfile.mkdtemp(prefix=prefix)
    _scratch.append(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    token: str
    credentials: list[str]
    process: subprocess.Popen
    home: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(env: dict[str, str], devices: int, workers: int = 1) -> Server:
    home = Path(env["STEWARD_HOME"])
    steward = [sys.executable, "-m", "steward"]
    run = dict(env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    subprocess.run([*steward, "migrate"], **run)
    setup = textwrap.dedent(
        f"""
        import django
        django.setup()
        from steward.accounts import tokens
        from steward.inventory.models import Device
        from steward.tenancy.models import Organization, Site
        org = Organization.objects.create(name="Bench")
        site = Site.objects.create(organization=org, name="HQ")
        creds = [f"{{tokens.DEVICE_CREDENTIAL_PREFIX}}bench{{i:06d}}" for i in range({devices})]
        Device.objects.bulk_create([
            Device(organization=org, site=site, hostname=f"dev-{{i:05d}}",
                   credential_hash=tokens.hash_secret(c))
            for i, c in enumerate(creds)
        ])
        # Hosts of the line-protocol load that are enrolled devices too (mapping cost).
        Device.objects.bulk_create([
            Device(organization=org, site=site, hostname=f"host-{{i:05d}}",
                   credential_hash=tokens.hash_secret(f"lp-{{i}}"))
            for i in range(0, 1000, 2)
        ])
        print("\\n".join(creds))
        """
    )
    out = subprocess.run([sys.executable, "-c", setup], **run).stdout.split()
    subprocess.run(
        [
            *steward,
            "user",
            "create",
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
            "--org",
            "Bench",
            "--role",
            "technician",
        ],
        **run,
    )
    token = subprocess.run(
        [*steward, "token", "create", "--user", EMAIL, "--expires-days", "1"], **run
    ).stdout.split()[-1]
    port = free_port()
    process = subprocess.Popen(
        [*steward, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(home / "server.log", "w"),  # noqa: SIM115 - lives as long as the process
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        raise SystemExit(f"server did not start: see {home / 'server.log'}")
    return Server(url, token, out, process, home)


# --- line protocol load -----------------------------------------------------------------


def line_prefixes(hosts: int, series: int, fields: int) -> list[str]:
    measurements = max(1, series // fields)
    rng = random.Random(42)
    prefixes = []
    for h in range(hosts):
        for m in range(measurements):
            values = ",".join(f"f{f}={rng.random() * 100:.3f}" for f in range(fields))
            prefixes.append(f"m{m},host=host-{h:05d},region=eu-west,dc=dc{h % 4} {values}")
    return prefixes


def line_bodies(prefixes: list[str], lines: int, ts_ms: int) -> list[bytes]:
    stamped = [f"{p} {ts_ms}" for p in prefixes]
    return ["\n".join(stamped[i : i + lines]).encode() for i in range(0, len(stamped), lines)]


@dataclass
class Tally:
    samples: int = 0
    requests: int = 0
    errors: int = 0
    cpu: float = 0.0  # CPU seconds the server used meanwhile (0: not measured)
    first_error: str = ""


# CPU seconds used so far by the server under test (set by run()): on a shared machine
# samples per CPU-second stay comparable when samples per second do not.
server_cpu: Callable[[], float] = lambda: 0.0  # noqa: E731


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (Linux /proc; 0.0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for p in [pid, *map(int, children)]:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError, IndexError):
        return 0.0
    return total


def push_lines(
    url: str,
    headers: dict[str, str],
    prefixes: list[str],
    args,
    seconds: float,
    start_ms: int,
    first_label: str = "first round (new series)",
) -> tuple[Tally, float]:
    """Sustained rate: one untimed first round registers every series (reported apart,
    as "first round"), then fresh timestamps every round for ``seconds``."""
    # Built before the clock starts (enough rounds for ~600,000 samples/s): the generator
    # must not compete with the server for the CPU. Round n is ``--interval`` seconds
    # after round n-1.
    rounds = 1 + max(1, int(seconds * 600_000 / max(1, len(prefixes) * args.fields)))
    step = args.interval * 1000
    start_ms -= rounds * step  # the last round stays in the past
    first = line_bodies(prefixes, args.lines, start_ms)
    bodies = [
        b for n in range(1, rounds) for b in line_bodies(prefixes, args.lines, start_ms + n * step)
    ]
    tally, elapsed = send_lines(url, headers, first, args, 3600)
    report(f"  {first_label}", tally, elapsed)
    return send_lines(url, headers, bodies, args, seconds)


def send_lines(
    url: str, headers: dict[str, str], bodies: list[bytes], args, seconds: float
) -> tuple[Tally, float]:
    tally = Tally()
    lock = threading.Lock()
    per_body = args.lines * args.fields
    counter = iter(range(len(bodies)))

    def sender() -> None:
        with httpx.Client(headers=headers, timeout=60) as client:
            while time.monotonic() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                response = client.post(url, content=bodies[n])
                with lock:
                    tally.requests += 1
                    if response.status_code == 204:
                        tally.samples += per_body
                    else:
                        tally.errors += 1
                        tally.first_error = tally.first_error or response.text[:300]

    started = time.monotonic()
    cpu = server_cpu()
    deadline = started + seconds
    threads = [threading.Thread(target=sender) for _ in range(args.senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally.cpu = server_cpu() - cpu
    return tally, time.monotonic() - started


# --- agent load ---------------------------------------------------------------------------


def push_agent(server: Server, args, seconds: float, start_ms: int) -> tuple[Tally, float]:
    tally = Tally()
    lock = threading.Lock()
    counter = iter(range(10**9))
    points = args.agent_points

    def batch(n: int) -> bytes:
        # As the agent sends it (steward.agent.metrics.wire): "columns" (one timestamp
        # list per batch, values per series) to a server that reads it, else "points".
        base = start_ms + n * points * 1000
        stamps = [base + p * 1000 for p in range(points)]
        columns = args.agent_format == "columns"
        families = [
            {
                "name": f"node_bench_{f}",
                "type": "gauge",
                "help": "bench",
                "series": [
                    {"labels": {"i": str(s)}, "values": [float(p) for p in range(points)]}
                    if columns
                    else {
                        "labels": {"i": str(s)},
                        "points": [[ts, float(p)] for p, ts in enumerate(stamps)],
                    }
                    for s in range(10)
                ],
            }
            for f in range(max(1, args.agent_series // 10))
        ]
        body = {
            "batch_id": f"b{n}",
            "sent_at": datetime.now(UTC).isoformat(),
            **({"timestamps": stamps} if columns else {}),
            "families": families,
            "agent_stats": {"spool_bytes": 0},
        }
        return gzip.compress(json.dumps(body, separators=(",", ":")).encode(), 6)

    # Built before the clock starts: the generator must not compete with the server.
    # Round 0 registers every device's series: sent untimed and reported apart, as the
    # line-protocol "first round" (series registration is not the sustained rate).
    count = int(seconds * args.agent_rate_guess)
    devices = len(server.credentials)
    rounds = [batch(r) for r in range(count // devices + 2)]
    bodies = [rounds[1 + n // devices] for n in range(count)]

    def post(client: httpx.Client, credential: str, body: bytes) -> httpx.Response:
        return client.post(
            f"{server.url}/api/v1/agent/metrics",
            content=body,
            headers={
                "Authorization": f"Bearer {credential}",
                "Content-Encoding": "gzip",
                "Content-Type": "application/json",
            },
        )

    first = Tally()
    began, cpu = time.monotonic(), server_cpu()
    with httpx.Client(timeout=60) as client:
        for credential in server.credentials:
            response = post(client, credential, rounds[0])
            first.requests += 1
            if response.status_code == 200:
                first.samples += response.json()["accepted"]
            else:
                first.errors += 1
                first.first_error = first.first_error or response.text[:300]
    first.cpu = server_cpu() - cpu
    report("  first round (new series)", first, time.monotonic() - began)

    def sender() -> None:
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < deadline:
                with lock:
                    n = next(counter)
                if n >= count:
                    return
                credential = server.credentials[n % devices]
                response = post(client, credential, bodies[n])
                with lock:
                    tally.requests += 1
                    if response.status_code == 200:
                        tally.samples += response.json()["accepted"]
                        tally.errors += response.json()["duplicates"] > 0
                    else:
                        tally.errors += 1
                        tally.first_error = tally.first_error or response.text[:300]

    started = time.monotonic()
    cpu = server_cpu()
    deadline = started + seconds
    threads = [threading.Thread(target=sender) for _ in range(args.senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally.cpu = server_cpu() - cpu
    return tally, time.monotonic() - started


def report(name: str, tally: Tally, elapsed: float) -> float:
    rate = tally.samples / elapsed if elapsed else 0.0
    per_cpu = f"  {tally.samples / tally.cpu:>9,.0f} /server CPU-s" if tally.cpu else ""
    print(
        f"  {name:28} {rate:>12,.0f} samples/s  {tally.requests / elapsed:>7.1f} req/s"
        f"{per_cpu}  errors {tally.errors}"
        + (f"  first: {tally.first_error}" if tally.first_error else "")
    )
    return rate


def per_cpu(tally: Tally) -> float:
    return tally.samples / tally.cpu if tally.cpu else 0.0


def start_victoria() -> tuple[str, subprocess.Popen] | None:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        return None
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={scratch_dir('vm-bench-')}",
            "-retentionPeriod=1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return url, process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    return None


def victoria(
    url: str,
    prefixes: list[str],
    args,
    seconds: float,
    start_ms: int,
    name: str = "victoria-metrics /write",
    first: str = "first round (new series)",
) -> float:
    headers = {"Content-Type": "text/plain"}
    tally, elapsed = push_lines(
        f"{url.rstrip('/')}/write?precision=ms", headers, prefixes, args, seconds, start_ms, first
    )
    return report(name, tally, elapsed)


def agent_sized_lines(args) -> int:
    """Lines per request that carry as many samples as one agent batch (0: none, when the
    agent case is off or the sizes do not divide)."""
    if args.no_agent or args.no_small_lines:
        return 0
    samples = args.agent_series * args.agent_points
    return samples // args.fields if samples % args.fields == 0 else 0


def run(label: str, env: dict[str, str], args) -> dict[str, float]:
    print(f"{label}: store={env.get('STEWARD_BENCH_STORE') or 'configured'}")
    rates: dict[str, float] = {}
    global server_cpu
    server = start_server(env, args.devices, args.workers)
    server_cpu = functools.partial(process_cpu_seconds, server.process.pid)
    try:
        headers = {"Authorization": f"Token {server.token}", "Content-Type": "text/plain"}
        prefixes = line_prefixes(args.hosts, args.series, args.fields)
        start_ms = int(time.time() * 1000) - 20 * 60 * 1000
        url = f"{server.url}/api/v1/write?precision=ms"
        lp_rate = 0.0
        if not args.no_lines:
            tally, elapsed = push_lines(url, headers, prefixes, args, args.seconds, start_ms)
            rates["line protocol"] = lp_rate = report("line protocol", tally, elapsed)
            if tally.cpu:
                rates["line protocol /CPU-s"] = per_cpu(tally)
        if not args.no_agent:
            tally, elapsed = push_agent(server, args, args.seconds, start_ms)
            rates["agent batches"] = report(f"agent batches ({args.agent_format})", tally, elapsed)
            if tally.cpu:
                rates["agent batches /CPU-s"] = per_cpu(tally)
        small = agent_sized_lines(args)
        if small and not args.no_lines:
            # The agent's request size in line protocol (a host's own Telegraf sends one
            # host's lines per write): the same fleet through both paths, request for
            # request. Half a second off the first case's timestamps, so no duplicates.
            sized = argparse.Namespace(**{**vars(args), "lines": small})
            tally, elapsed = push_lines(
                url, headers, prefixes, sized, args.seconds, start_ms + 500, "first round (warm-up)"
            )
            name = f"line protocol, {small} lines/request"
            rates[name] = report(name, tally, elapsed)
            if tally.cpu:
                rates[f"{name} /CPU-s"] = per_cpu(tally)
        server_cpu = lambda: 0.0  # noqa: E731 - VictoriaMetrics' CPU is not measured
        skip_vm = args.no_victoria or args.no_lines
        started = None if args.victoria or skip_vm else start_victoria()
        vm_url = None if args.no_lines else args.victoria or (started[0] if started else None)
        if vm_url:
            try:
                vm_rate = victoria(vm_url, prefixes, args, args.seconds, start_ms)
                if small:
                    # The agent's request size again, into VictoriaMetrics: the ratio of
                    # each Steward path at the size an agent sends, against the same
                    # peer taking the same requests.
                    sized = argparse.Namespace(**{**vars(args), "lines": small})
                    small_name = f"victoria-metrics, {small} lines/request"
                    vm_small = victoria(
                        vm_url,
                        prefixes,
                        sized,
                        args.seconds,
                        start_ms + 500,
                        small_name,
                        "first round (warm-up)",
                    )
                    rates[small_name] = vm_small
            finally:
                if started:
                    started[1].terminate()
                    started[1].wait(10)
            rates["victoria-metrics"] = vm_rate
            if vm_rate:
                rates["ratio"] = lp_rate / vm_rate
                print(f"  Steward / VictoriaMetrics    {lp_rate / vm_rate:.2f}")
            vm_small = rates.get(f"victoria-metrics, {small} lines/request", 0.0)
            if vm_small:
                for path, key in (
                    ("agent batches", "agent batches"),
                    (f"line protocol, {small} lines", f"line protocol, {small} lines/request"),
                ):
                    if rates.get(key):
                        name = f"ratio at {small} lines: {path}"
                        rates[name] = rates[key] / vm_small
                        print(f"  {name:28} {rates[name]:.2f}")
    finally:
        server.stop()
        server_cpu = lambda: 0.0  # noqa: E731
    return rates


def medians(label: str, runs: list[dict[str, float]]) -> None:
    if len(runs) < 2:
        return
    print(f"{label}: medians of {len(runs)} runs")
    for key in runs[0]:
        values = sorted(r[key] for r in runs if key in r)
        mid = statistics.median(values)
        shown = ", ".join(f"{v:,.2f}" if key.startswith("ratio") else f"{v:,.0f}" for v in values)
        print(
            f"  {key:28} {mid:>12,.2f}  ({shown})"
            if key.startswith("ratio")
            else f"  {key:28} {mid:>12,.0f}  ({shown})"
        )


def pg_url() -> str | None:
    if os.environ.get("STEWARD_BENCH_PG_URL"):
        return os.environ["STEWARD_BENCH_PG_URL"]
    if shutil.which("psql") is None:
        return None
    probe = subprocess.run(
        ["psql", "-X", "-q", "-c", "select 1", "postgres"], capture_output=True, check=False
    )
    return "postgresql:///postgres" if probe.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--series", type=int, default=50, help="series per host")
    parser.add_argument("--fields", type=int, default=10, help="fields per line")
    parser.add_argument("--lines", type=int, default=1000, help="lines per request")
    parser.add_argument(
        "--senders", type=int, default=None, help="concurrent senders (default: 2 per process)"
    )
    parser.add_argument("--devices", type=int, default=200, help="enrolled agent devices")
    # One batch is 10 s of one host: 50 series x 10 points at 1 s (docs/agent-protocol.md);
    # the old default, 2 points, measured per-request overhead more than ingest.
    parser.add_argument("--agent-series", type=int, default=50, help="series per agent batch")
    parser.add_argument("--agent-points", type=int, default=10, help="points per series")
    parser.add_argument(
        "--agent-format", choices=["columns", "points"], default="columns", help="agent wire format"
    )
    parser.add_argument(
        "--agent-rate-guess", type=int, default=1000, help="agent batches/s to pre-build"
    )
    # Seconds between rounds of line-protocol timestamps. 10 is Telegraf's default
    # interval, one sample per series in each 10-second bucket of the store's raw table
    # (a round's rows append at the B-tree's end); 1 packs 10 samples per series into
    # each bucket, so every batch slots rows into the pages of the series' runs.
    parser.add_argument("--interval", type=int, default=10, help="seconds between rounds")
    parser.add_argument("--workers", type=int, default=1, help="steward serve --workers")
    parser.add_argument("--runs", type=int, default=1, help="repeat; medians at the end")
    parser.add_argument("--no-agent", action="store_true")
    parser.add_argument("--no-lines", action="store_true", help="agent batches only")
    parser.add_argument(
        "--no-small-lines",
        action="store_true",
        help="skip line protocol at the agent's request size",
    )
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--store", choices=["real", "null"], default=None)
    parser.add_argument("--victoria", help="VictoriaMetrics URL for the same payload")
    parser.add_argument("--no-victoria", action="store_true")
    args = parser.parse_args()
    if args.senders is None:
        args.senders = 2 * args.workers
    if args.store is None:
        sys.path.insert(0, str(ROOT / "src"))
        import steward.tsdb

        args.store = "real" if hasattr(steward.tsdb, "open_store") else "null"
        if args.store == "null":
            print("steward.tsdb.open_store does not exist yet: measuring with a null store")

    try:
        bench(args)
    finally:
        for path in _scratch:
            shutil.rmtree(path, ignore_errors=True)


def bench(args: argparse.Namespace) -> None:
    overlay = Path(scratch_dir("steward-bench-overlay-"))
    (overlay / "steward_bench_settings.py").write_text(OVERLAY_SETTINGS)
    (overlay / "steward_bench_urls.py").write_text(OVERLAY_URLS)
    base = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(overlay), str(ROOT / "src"), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "steward_bench_settings",
        "STEWARD_LOG_LEVEL": "warning",
        "STEWARD_BENCH_STORE": "null" if args.store == "null" else "",
    }
    print(
        f"{args.hosts} hosts x {args.series} series, {args.fields} fields/line, "
        f"{args.lines} lines/request, {args.senders} senders, {args.seconds:g} s per case, "
        f"{args.interval} s between rounds, {args.workers} server process(es)"
    )
    sqlite_runs = [
        run("SQLite", {**base, "STEWARD_HOME": scratch_dir("steward-bench-")}, args)
        for _ in range(0 if args.no_sqlite else args.runs)
    ]
    medians("SQLite", sqlite_runs)
    url = None if args.no_pg else pg_url()
    if url is None:
        print("PostgreSQL: skipped (set STEWARD_BENCH_PG_URL or run a local server)")
        return
    import psycopg

    pg_runs = []
    for n in range(args.runs):
        name = f"steward_bench_{os.getpid()}_{n}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            db_url = url.rsplit("/", 1)[0] + "/" + name
            env = {
                **base,
                "STEWARD_HOME": scratch_dir("steward-bench-"),
                "STEWARD_DATABASE_URL": db_url,
            }
            pg_runs.append(run("PostgreSQL", env, args))
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    medians("PostgreSQL", pg_runs)


if __name__ == "__main__":
    main()
