"""Fault -> notification latency of Steward's alerting, end to end over real processes.

    .venv/bin/python bench/alert_latency.py [--faults 10] [--devices 1000]

What runs: a real ``steward serve`` (uvicorn, SQLite in a temporary STEWARD_HOME); the bench
plays the agent: every second it runs a ``process`` check (a ``sleep`` process it owns) and
a ``tcp`` check (a port it listens on) with ``steward.checks.run`` and POSTs each result to
/api/v1/agent/check-results at once, as the agent protocol asks. Both checks ``notify`` a
webhook channel pointing at a receiver in the bench. Faults: kill the ``sleep``; close the
port. Latency = webhook received - fault injected (so it includes up to one 1 s check
interval). Then the same with ``--devices`` simulated devices posting check results from a
thread pool (one result per device every 5 s) while the faults are injected.

Prometheus + Alertmanager and monit are measured on the same fault when installed (not
installed here: the bench says so and skips them).
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _alert_peers as _peers  # noqa: E402 - the bench's own helper, next to this file

STEWARD_SUBJECT = re.compile(r"Check watched (sleep|port) (\d+) is critical$")


class Receiver:
    """Webhook receiver for every tool; keeps the first arrival per (source, kind, fault).

    Paths: ``/hook`` (Steward's webhook channel), ``/am/<profile>`` (Alertmanager),
    ``/monit/<kind>/<fault>`` (monit's exec action).
    """

    def __init__(self) -> None:
        self.first: dict[tuple[str, str, int], float] = {}
        self.cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.end_headers()
                receiver.arrived(at, self.path, body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def arrived(self, at: float, path: str, body: bytes) -> None:
        keys = []
        parts = path.strip("/").split("/")
        if parts[0] == "hook":
            event = json.loads(body)
            m = STEWARD_SUBJECT.search(event.get("subject", ""))
            if event.get("event_kind") == "alert.firing" and m:
                keys.append(("steward", "process" if m[1] == "sleep" else "tcp", int(m[2])))
        elif parts[0] == "am" and len(parts) == 2:
            for alert in json.loads(body).get("alerts", []):
                labels = alert.get("labels", {})
                if alert.get("status") == "firing" and labels.get("fault", "").isdigit():
                    keys.append((f"am-{parts[1]}", labels.get("kind", ""), int(labels["fault"])))
        elif parts[0] == "monit" and len(parts) == 3 and parts[2].isdigit():
            keys.append(("monit", parts[1], int(parts[2])))
        with self.cond:
            for key in keys:
                self.first.setdefault(key, at)
            self.cond.notify_all()

    def wait(self, keys: list[tuple[str, str, int]], timeout: float) -> None:
        """Until every key has arrived, or ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(k in self.first for k in keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(min(left, 0.5))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
        for kind, c in (("process", proc), ("tcp", tcp)):
            c.notify.add(hook)
            checks.append(((kind, i), c.spec(), c.pk))
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


class Agent:
    """The bench playing the local agent: every check every second, each result POSTed.

    Records, per fault, when the first non-OK result was in hand (``seen``) and when its
    POST was answered (``posted``): the split between detection and Steward's own work.
    """

    def __init__(self, base: str, ctx: dict) -> None:
        self.base, self.ctx = base, ctx
        self.stop = threading.Event()
        self.seen: dict[tuple[str, int], float] = {}
        self.posted: dict[tuple[str, int], float] = {}

    def start(self) -> None:
        for key, spec, pk in self.ctx["checks"]:
            threading.Thread(target=self._one, args=(key, spec, pk), daemon=True).start()

    def _one(self, key: tuple[str, int], spec, check_id: int) -> None:
        from steward.checks import run

        while not self.stop.is_set():
            started = time.monotonic()
            result = run(spec).to_dict()
            result["check_id"] = check_id
            failing = result["status"] != "ok" and key not in self.seen
            if failing:
                self.seen[key] = time.time()
            with contextlib.suppress(OSError):
                post(self.base, self.ctx["secret"], [result])
                if failing:
                    self.posted[key] = time.time()
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))


class Port:
    """A listening port that accepts (and drops) connections until ``close``.

    Accepting matters: with nobody accepting, the checks' and probes' connections fill the
    listen backlog within a minute and later connects time out, a false "port closed".
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None

    def open(self) -> None:
        self.sock = sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)

        def accept() -> None:
            while True:
                try:
                    conn, _ = sock.accept()
                except OSError:  # shut down: the fault
                    return
                conn.close()

        threading.Thread(target=accept, daemon=True).start()

    def close(self) -> None:
        if self.sock is not None:
            # shutdown() stops listening at once on Linux (new connects are refused) and
            # wakes the thread blocked in accept(); close() alone would do neither.
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.sock = None


def sleeper(marker: str, i: int, pidfile: Path) -> subprocess.Popen:
    # A real `sleep` whose command line carries a marker the process check matches; its
    # pid (bash execs into sleep) goes to a pidfile for monit.
    proc = subprocess.Popen(["bash", "-c", f"exec -a {marker}-{i} sleep 3600"],
                            start_new_session=True)  # fmt: skip
    pidfile.write_text(f"{proc.pid}\n")
    return proc


def killpg(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


FAST = ("steward", "am-tuned", "monit")  # waited for after each fault
SLOW = ("am-default",)  # waited for once, after the last fault
# Measured on this machine by hand (the issue), printed when a profile is not run.
MEASURED_HERE = {"am-default": "median 56 s (issue, measured by hand)"}
LABELS = {
    "steward": "Steward (webhook)",
    "am-tuned": "Prometheus+AM tuned (1s/1s, gw 0)",
    "am-default": "Prometheus+AM defaults (15s/1m, gw 30s)",
    "monit": "monit (daemon 1, exec)",
}


def inject(kind: str, indexes: range, receiver: Receiver, procs: dict, ports: dict,
           sources: tuple[str, ...], fault_at: dict) -> None:  # fmt: skip
    for i in indexes:
        fault = time.time()
        if kind == "process":
            procs[i].kill()
            procs[i].wait()
        else:
            ports[i].close()
        fault_at[(kind, i)] = fault
        receiver.wait([(s, kind, i) for s in sources], timeout=20.0)
        # A random pause: a fixed one would lock the faults to the phase of the last tool's
        # 1 s cycle (the same latency every time); a random phase samples the whole cycle.
        time.sleep(0.5 + random.random())


def stats(values: list[float]) -> tuple[float, float, float] | None:
    ok = sorted(values)
    if not ok:
        return None
    p95 = ok[min(len(ok) - 1, round(0.95 * (len(ok) - 1)))]
    return statistics.median(ok), p95, ok[-1]


def latencies(receiver: Receiver, fault_at: dict, source: str, keys) -> tuple[list, int]:
    got = [receiver.first[(source, k, i)] - fault_at[(k, i)]
           for k, i in keys if (source, k, i) in receiver.first]  # fmt: skip
    return got, len(keys) - len(got)


def table(receiver: Receiver, fault_at: dict, phases: dict, sources: list[str]) -> list[str]:
    head = (f"{'tool':41} {'phase':13} {'n':>3} {'miss':>4} {'p50':>7} {'p95':>7} {'max':>7}"
            f"   {'x p50':>6} {'x p95':>6} {'x max':>6}")  # fmt: skip
    out = [head, "-" * len(head)]
    for phase, keys in phases.items():
        base = stats(latencies(receiver, fault_at, "steward", keys)[0])
        for source in sources:
            values, missed = latencies(receiver, fault_at, source, keys)
            s = stats(values)
            if s is None:
                out.append(f"{LABELS[source]:41} {phase:13} {len(keys):>3} {missed:>4}"
                           "  no notification")  # fmt: skip
                continue
            ratio = ("".join(f" {v / b:>6.1f}" for v, b in zip(s, base, strict=True))
                     if base else "")  # fmt: skip
            out.append(f"{LABELS[source]:41} {phase:13} {len(keys):>3} {missed:>4}"
                       f" {s[0]:>6.2f}s {s[1]:>6.2f}s {s[2]:>6.2f}s  {ratio}")  # fmt: skip
    return out


def breakdown(agent: Agent, receiver: Receiver, fault_at: dict, keys) -> str:
    """Median detection (fault -> failing result in hand) and Steward (result -> webhook)."""
    detect, server = [], []
    for k, i in keys:
        seen = agent.seen.get((k, i))
        hook = receiver.first.get(("steward", k, i))
        if seen is not None and hook is not None:
            detect.append(seen - fault_at[(k, i)])
            server.append(hook - seen)
    if not detect:
        return "  (no breakdown)"
    return (f"  Steward breakdown: detection (1 s check interval) p50 "
            f"{statistics.median(detect):.2f}s max {max(detect):.2f}s; result -> webhook p50 "
            f"{statistics.median(server):.2f}s max {max(server):.2f}s")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faults", type=int, default=10, help="faults per kind and phase")
    parser.add_argument("--devices", type=int, default=1000, help="0: no loaded phase")
    parser.add_argument("--server-workers", type=int, default=1, help="steward serve --workers")
    parser.add_argument("--no-peers", action="store_true", help="Steward only")
    parser.add_argument(
        "--no-defaults",
        action="store_true",
        help="skip Prometheus at its default intervals (saves about 2 minutes)",
    )
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="steward-bench-"))
    env = {**os.environ, "STEWARD_HOME": str(home / "home"), "STEWARD_LOG_LEVEL": "warning",
           "DJANGO_SETTINGS_MODULE": "steward.server.settings",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}  # fmt: skip
    os.environ.update(env)
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    subprocess.run([PY, "-m", "steward", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    missing = [] if args.no_peers else _peers.missing()
    run_peers = not args.no_peers and not missing
    receiver = Receiver()
    count = args.faults * (2 if args.devices else 1)
    ports = {i: Port(_peers.free_port()) for i in range(count)}
    for p in ports.values():
        p.open()
    marker = f"steward-bench-{os.getpid()}"
    (home / "pids").mkdir()
    pidfiles = {i: home / "pids" / f"{i}.pid" for i in range(count)}
    procs = {i: sleeper(marker, i, pidfiles[i]) for i in range(count)}
    ctx = setup(home, receiver.port, [p.port for p in ports.values()], marker, args.devices)
    web_port = _peers.free_port()
    server = subprocess.Popen([PY, "-m", "steward", "serve", "--port", str(web_port),
                               "--workers", str(args.server_workers)],
                              env=env, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{web_port}"
    exporter = peers = load = agent = None
    profiles = ("tuned",) if args.no_defaults else ("tuned", "default")
    sources = ["steward"]
    if run_peers:
        sources += ["am-tuned", "monit"] + ([] if args.no_defaults else ["am-default"])
    fault_at: dict[tuple[str, int], float] = {}
    phases: dict[str, list[tuple[str, int]]] = {}
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        if run_peers:
            exporter = _peers.Exporter({i: p.pid for i, p in procs.items()},
                                       {i: p.port for i, p in ports.items()})  # fmt: skip
            peers = _peers.Peers(home, receiver.port, exporter.port, pidfiles,
                                 {i: p.port for i, p in ports.items()}, profiles)  # fmt: skip
            peers.start()
            peers.wait_ready()
        agent = Agent(base, ctx)
        agent.start()
        fast = tuple(s for s in sources if s in FAST)
        time.sleep(4)  # every check has reported OK at least once; monit has run a cycle
        idle = range(args.faults)
        for kind in ("process", "tcp"):
            inject(kind, idle, receiver, procs, ports, fast, fault_at)
        phases["idle"] = [(k, i) for k in ("process", "tcp") for i in idle]
        if args.devices:
            spec = home / "load.json"
            spec.write_text(json.dumps({"base": base, "sims": ctx["sims"], "period": 5.0,
                                        "concurrency": 32}))  # fmt: skip
            load = subprocess.Popen([PY, str(ROOT / "bench" / "_alert_load.py"), str(spec)],
                                    env=env, stdout=subprocess.PIPE, text=True,
                                    start_new_session=True)  # fmt: skip
            time.sleep(8)  # every device has reported at least once
            loaded = range(args.faults, 2 * args.faults)
            for kind in ("process", "tcp"):
                inject(kind, loaded, receiver, procs, ports, fast, fault_at)
            phases[f"{args.devices} devices"] = [(k, i) for k in ("process", "tcp")
                                                 for i in loaded]  # fmt: skip
            load.send_signal(signal.SIGTERM)
            out, _ = load.communicate(timeout=30)
            load_summary = out.strip()
        slow = [s for s in sources if s in SLOW]
        if slow:
            print(f"waiting up to 120 s for {', '.join(LABELS[s] for s in slow)} ...", flush=True)
            receiver.wait([(s, k, i) for s in slow for (k, i) in fault_at], timeout=120.0)
        agent.stop.set()
        print(f"\nfault -> notification (webhook on loopback), 1 s check interval, "
              f"steward serve --workers {args.server_workers}; ratios = tool / Steward, "
              f"same phase:")  # fmt: skip
        print("\n".join(table(receiver, fault_at, phases, sources)))
        for phase, keys in phases.items():
            print(f"{phase}:" + breakdown(agent, receiver, fault_at, keys))
        if args.devices:
            print(f"  simulated device reports (every 5 s each): {load_summary}")
        if not run_peers and not args.no_peers:
            print(f"peers not measured (missing here: {', '.join(missing)})")
        if run_peers and args.no_defaults:
            print(f"{LABELS['am-default']}: not run; {MEASURED_HERE['am-default']}")
    finally:
        if agent is not None:
            agent.stop.set()
        if load is not None and load.poll() is None:
            killpg(load)
        if peers is not None:
            peers.stop()
        if exporter is not None:
            exporter.close()
        killpg(server)
        for p in ports.values():
            p.close()
        for proc in procs.values():
            killpg(proc, timeout=2)
        receiver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
