"""Fault -> notification latency of Steward's alerting, end to end over real processes.

    .venv/bin/python bench/alert_latency.py [--faults 10] [--devices 1000]

What runs: a real ``steward serve`` (uvicorn, SQLite in a temporary STEWARD_HOME) with the
alerts app installed (a settings module written to the temp dir adds it, and mounts its
URLs, until the lead wires them in); the bench plays the agent: every second it runs a
``process`` check (a ``sleep`` process it owns) and a ``tcp`` check (a port it listens on)
with ``steward.checks.run`` and POSTs each result to /api/v1/agent/check-results at once,
as the agent protocol asks. Both checks ``notify`` a webhook channel pointing at a receiver
in the bench. Faults: kill the ``sleep``; close the port. Latency = webhook received -
fault injected (so it includes up to one 1 s check interval). Then the same with
``--devices`` simulated devices posting check results from a thread pool (one result per
device every 5 s) while the faults are injected.

Prometheus + Alertmanager and monit are measured on the same fault when installed (not
installed here: the bench says so and skips them).
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")

SETTINGS = """
from steward.server.settings import *  # noqa
if "steward.alerts" not in INSTALLED_APPS:
    INSTALLED_APPS = [*INSTALLED_APPS, "steward.alerts"]
ROOT_URLCONF = "bench_urls"
"""
URLS = """
from django.urls import include, path
from ninja import NinjaAPI
from steward.alerts.agent_api import router as agent_router
from steward.alerts.api import router as alerts_router
from steward.api import errors
from steward.api.auth import SessionAuth, TokenAuth
from steward.api.v1 import api as main_api
from steward.server.urls import urlpatterns as base

urlpatterns = list(base)
if not any(r is alerts_router for _, r in main_api._routers):
    extra = NinjaAPI(auth=[TokenAuth(), SessionAuth()], urls_namespace="bench")
    errors.install(extra)
    extra.add_router("/", alerts_router)
    extra.add_router("/agent", agent_router)
    urlpatterns.insert(0, path("api/v1/", extra.urls))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    def __init__(self) -> None:
        self.events: list[tuple[float, dict]] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.cond:
                    receiver.events.append((time.time(), json.loads(body)))
                    receiver.cond.notify_all()
                self.send_response(200)
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, predicate, after: float, timeout: float = 20.0) -> float | None:
        deadline = time.time() + timeout
        with self.cond:
            while time.time() < deadline:
                for at, event in self.events:
                    if at >= after and predicate(event):
                        return at
                self.cond.wait(0.05)
        return None


def setup(home: Path, receiver_port: int, ports: list[int], marker: str, devices: int) -> dict:
    """Organization, device with a credential, checks, webhook channel (in this process)."""
    import django

    django.setup()
    from steward.accounts import tokens
    from steward.alerts.models import CheckDefinition
    from steward.inventory.models import Device
    from steward.notify import services
    from steward.tenancy.models import Organization, Site

    org = Organization.objects.create(name="Bench")
    site = Site.objects.create(organization=org, name="Lab")

    def device(name: str) -> tuple[Device, str]:
        secret = tokens.new_secret(tokens.DEVICE_CREDENTIAL_PREFIX)
        d = Device.objects.create(organization=org, site=site, hostname=name,
                                  credential_hash=tokens.hash_secret(secret))  # fmt: skip
        return d, secret

    local, secret = device("bench-local")
    hook, _ = services.create_channel(
        org.pk, "bench", "webhook", {"url": f"http://127.0.0.1:{receiver_port}/hook"}, {}
    )
    # One process check and one tcp check per fault: the same check failing every few
    # seconds would (rightly) be held as flapping after two episodes.
    checks = []
    for i, tcp_port in enumerate(ports):
        proc = CheckDefinition.objects.create(
            organization=org,
            device=local,
            name=f"watched sleep {i}",
            type="process",
            target=f"^{marker}-{i} ",
            params={"match": "cmdline"},
            interval=1,
            timeout=1,
        )
        tcp = CheckDefinition.objects.create(
            organization=org,
            device=local,
            name=f"watched port {i}",
            type="tcp",
            target="127.0.0.1",
            params={"port": tcp_port},
            interval=1,
            timeout=1,
        )
        for c in (proc, tcp):
            c.notify.add(hook)
            checks.append((c.spec(), c.pk))
    sims = []
    for i in range(devices):
        d, s = device(f"sim-{i:04}")
        c = CheckDefinition.objects.create(
            organization=org,
            device=d,
            name=f"sim {i}",
            type="tcp",
            target="127.0.0.1",
            params={"port": ports[0]},
            interval=5,
        )
        sims.append((s, c.pk))
    return {"secret": secret, "checks": checks, "sims": sims}


def post(base: str, secret: str, results: list[dict]) -> None:
    body = json.dumps({"sent_at": datetime.now(UTC).isoformat(), "results": results}).encode()
    req = urllib.request.Request(  # noqa: S310 - plain http to the bench's own server
        f"{base}/api/v1/agent/check-results", body, method="POST",
                                 headers={"Authorization": f"Bearer {secret}",
                                          "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - http to our server
        r.read()


def agent_loop(base: str, ctx: dict, stop: threading.Event) -> None:
    from steward.checks import run

    def one(spec, check_id: int) -> None:
        while not stop.is_set():
            started = time.monotonic()
            result = run(spec).to_dict()
            result["check_id"] = check_id
            with contextlib.suppress(OSError):
                post(base, ctx["secret"], [result])
            stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    for spec, pk in ctx["checks"]:
        threading.Thread(target=one, args=(spec, pk), daemon=True).start()


def load_loop(base: str, sims: list, stop: threading.Event, counter: list[int]) -> None:
    pool = ThreadPoolExecutor(32)

    def report(secret: str, pk: int) -> None:
        now = datetime.now(UTC).isoformat()
        try:
            post(base, secret, [{"check_id": pk, "status": "ok", "message": "ok",
                                 "observed_at": now}])  # fmt: skip
            counter[0] += 1
        except OSError:
            counter[1] += 1

    while not stop.is_set():
        started = time.monotonic()
        for secret, pk in sims:
            pool.submit(report, secret, pk)
        stop.wait(max(0.0, 5.0 - (time.monotonic() - started)))
    pool.shutdown(wait=False, cancel_futures=True)


class Port:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None

    def open(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(128)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def sleeper(marker: str, i: int) -> subprocess.Popen:
    # A real `sleep` whose command line carries a marker the process check matches.
    return subprocess.Popen(["bash", "-c", f"exec -a {marker}-{i} sleep 3600"])


def faults(kind: str, indexes: range, receiver: Receiver, procs: dict, ports: dict) -> list:
    latencies = []
    for i in indexes:
        name = f"watched sleep {i}" if kind == "process" else f"watched port {i}"
        fault = time.time()
        if kind == "process":
            procs[i].kill()
            procs[i].wait()
        else:
            ports[i].close()
        got = receiver.wait(
            lambda e, n=name: e["event_kind"] == "alert.firing" and e["subject"].endswith(
                f"Check {n} is critical"), fault)  # fmt: skip
        latencies.append((got - fault) if got else float("nan"))
        time.sleep(0.5)
    return latencies


def summary(label: str, values: list[float]) -> str:
    ok = sorted(v for v in values if v == v)
    if not ok:
        return f"{label:34} no notification"
    p95 = ok[min(len(ok) - 1, round(0.95 * (len(ok) - 1)))]
    return (f"{label:34} n={len(values)} missed={len(values) - len(ok)} "
            f"p50={statistics.median(ok):.3f}s p95={p95:.3f}s max={ok[-1]:.3f}s")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faults", type=int, default=10)
    parser.add_argument("--devices", type=int, default=1000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="steward-bench-"))
    (home / "bench_settings.py").write_text(SETTINGS)
    (home / "bench_urls.py").write_text(URLS)
    env = {**os.environ, "STEWARD_HOME": str(home / "home"), "STEWARD_LOG_LEVEL": "warning",
           "DJANGO_SETTINGS_MODULE": "bench_settings",
           "PYTHONPATH": os.pathsep.join([str(home), str(ROOT / "src"), str(ROOT)])}  # fmt: skip
    os.environ.update(env)
    sys.path[:0] = [str(home), str(ROOT)]
    subprocess.run([PY, "-m", "steward", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    receiver = Receiver()
    count = args.faults * (2 if args.devices else 1)
    ports = {i: Port(free_port()) for i in range(count)}
    for p in ports.values():
        p.open()
    marker = f"steward-bench-{os.getpid()}"
    procs = {i: sleeper(marker, i) for i in range(count)}
    ctx = setup(home, receiver.port, [p.port for p in ports.values()], marker, args.devices)
    web_port = free_port()
    server = subprocess.Popen([PY, "-m", "steward", "serve", "--port", str(web_port)], env=env)
    base = f"http://127.0.0.1:{web_port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        stop = threading.Event()
        agent_loop(base, ctx, stop)
        print("fault -> notification (webhook on loopback), 1 s check interval:")
        time.sleep(4)  # every check has reported OK at least once
        idle = range(args.faults)
        print(summary("process killed (idle)", faults("process", idle, receiver, procs, ports)))
        print(summary("port closed (idle)", faults("tcp", idle, receiver, procs, ports)))
        if args.devices:
            counter = [0, 0]
            load_stop = threading.Event()
            threading.Thread(target=load_loop, args=(base, ctx["sims"], load_stop, counter),
                             daemon=True).start()  # fmt: skip
            time.sleep(6)
            loaded = range(args.faults, 2 * args.faults)
            label = f"process killed ({args.devices} devices)"
            print(summary(label, faults("process", loaded, receiver, procs, ports)))
            label = f"port closed ({args.devices} devices)"
            print(summary(label, faults("tcp", loaded, receiver, procs, ports)))
            load_stop.set()
            print(f"  simulated device reports: {counter[0]} ok, {counter[1]} failed")
        stop.set()
        missing = [t for t in ("prometheus", "prometheus-alertmanager", "monit")
                   if shutil.which(t) is None]  # fmt: skip
        print(f"comparison with Prometheus+Alertmanager and monit: not implemented yet"
              f" (missing here: {', '.join(missing) or 'none'})")  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
        for p in ports.values():
            p.close()
        for proc in procs.values():
            proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
