"""A live fleet: ``steward up`` with N simulated agents, as a user would run them.

    .venv/bin/python bench/fleet_live.py [--agents 1000] [--minutes 12] [--probe-every 3]

Issue #3 asks that "the simulator fills a 1,000-device fleet and the overview stays
responsive". This runs exactly that on this machine: ``steward up`` (server, worker and
local agent; SQLite in a temporary ``STEWARD_HOME``), ``steward login`` and ``steward
simulate --agents N --site 1`` (the simulator shares the machine: on a real network the
agents would not). Every 30 s it prints the devices enrolled and online and the CPU each
process used in the window. At the end:

* the time until every simulated device was enrolled, and until all were online;
* heartbeat latency: a probe posts a heartbeat every ``--probe-every`` seconds with the
  credential of one simulated device (p50 / p95 / max);
* offline transitions recorded after the fleet was first complete. Every agent keeps
  reporting, so each one is a false "device offline" (the server answered its
  heartbeats too late, ``offline_after`` = 30 s);
* the fleet overview (``/metrics/``) and the device list, signed in: the first (cold)
  load and the median of five warm ones; for the overview also how many answers said
  the rankings were still being gathered (the page reloads itself every 3 s, as this
  does) and when they were shown.

Use ``--minutes`` of at least 11 to cross the worker's 10-minute forecast and disk-health
jobs. Nothing here is a pass/fail test: it prints figures (bench/README rule).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
STEWARD = [sys.executable, "-m", "steward"]
ADMIN = ("admin@example.test", "bench-password-123")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steward_pids(home: str) -> dict[str, int]:
    """This bench's Steward processes (``STEWARD_HOME`` = ``home``), by role."""
    out: dict[str, int] = {}
    marker = f"STEWARD_HOME={home}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = [
                w.decode(errors="replace") for w in (entry / "cmdline").read_bytes().split(b"\0")
            ]
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
        except OSError:
            continue
        if "steward" in words[:-1]:
            role = words[words.index("steward") + 1]
            if role in ("serve", "worker", "simulate", "agent"):
                out[role] = int(entry.name)
    return out


class Probe(threading.Thread):
    """One heartbeat every ``every`` seconds as a simulated device; latencies kept."""

    def __init__(self, url: str, credential: str, every: float) -> None:
        super().__init__(daemon=True)
        self.url, self.credential, self.every = url, credential, every
        self.latencies: list[float] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=120) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    answer = client.post(
                        "/api/v1/agent/heartbeat",
                        json={"sent_at": datetime.now(UTC).isoformat()},
                        headers={"authorization": f"Bearer {self.credential}"},
                    )
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - started
                if ok:
                    self.latencies.append(took)
                else:
                    self.failures += 1
                self.stop.wait(max(0.0, self.every - took))


def console(url: str) -> httpx.Client:
    """A signed-in console session."""
    client = httpx.Client(base_url=url, timeout=300, follow_redirects=False)
    page = client.get("/login/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    answer = client.post(
        "/login/",
        data={"csrfmiddlewaretoken": token.group(1), "email": ADMIN[0], "password": ADMIN[1]},
        headers={"referer": f"{url}/login/"},
    )
    assert answer.status_code == 302, f"sign-in failed: {answer.status_code}"
    return client


last_page = [""]  # the text of the last page ``timed`` fetched


def timed(fetch) -> float:
    started = time.perf_counter()
    answer = fetch()
    took = time.perf_counter() - started
    assert answer.status_code == 200, answer.status_code
    last_page[0] = answer.text
    return took


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--probe-every", type=float, default=3.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    opts = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="steward-fleet-live-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        STEWARD_HOME=str(home / "data"),
        STEWARD_PORT=str(port),
        STEWARD_ADMIN_EMAIL=ADMIN[0],
        STEWARD_ADMIN_PASSWORD=ADMIN[1],
        STEWARD_LOG_LEVEL="warning",
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_DATA_HOME=str(home / "share"),
    )
    logs = home / "logs"
    logs.mkdir()
    children: list[subprocess.Popen] = []

    def spawn(name: str, *args: str) -> subprocess.Popen:
        out = (logs / f"{name}.log").open("w")
        child = subprocess.Popen(
            [*STEWARD, *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
        children.append(child)
        return child

    import sqlite3

    def devices() -> tuple[int, int, int]:
        """(simulated devices, online, offline transitions of simulated devices)."""
        db = sqlite3.connect(f"file:{home / 'data' / 'steward.sqlite3'}?mode=ro", uri=True)
        try:
            total, online = db.execute(
                "SELECT count(*), coalesce(sum(recorded_status = 'online'), 0) "
                "FROM inventory_device WHERE hostname LIKE 'sim-%'"
            ).fetchone()
            offline = db.execute(
                "SELECT count(*) FROM inventory_statuschange c JOIN inventory_device d "
                "ON d.id = c.device_id WHERE c.status = 'offline' AND d.hostname LIKE 'sim-%'"
            ).fetchone()[0]
            return total, online, offline
        except sqlite3.Error:
            return 0, 0, 0
        finally:
            db.close()

    probe: Probe | None = None
    try:
        spawn("up", "up")
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"steward up did not become ready; see {logs}")
            time.sleep(0.5)
        subprocess.run(
            [*STEWARD, "login", "--url", url, "--email", ADMIN[0], "--password", ADMIN[1]],
            env=env,
            check=True,
            capture_output=True,
        )
        started = time.monotonic()
        spawn("simulate", "simulate", "--agents", str(opts.agents), "--site", "1")
        print(f"steward up at {url}; {opts.agents} simulated agents; home {home}", flush=True)
        state = home / "state" / "steward" / "simulate" / "simulate.json"
        filled_at = online_at = None
        offline_at_fill = 0
        pids = steward_pids(env["STEWARD_HOME"])
        last = {role: cpu_seconds(pid) for role, pid in pids.items()}
        window_start = time.monotonic()
        end = started + opts.minutes * 60
        while time.monotonic() < end:
            time.sleep(30 - (time.monotonic() - window_start) % 30)
            now = time.monotonic()
            pids = steward_pids(env["STEWARD_HOME"])
            used = {role: cpu_seconds(pid) for role, pid in pids.items()}
            span = now - window_start
            cpu = "  ".join(
                f"{role} {100 * (used[role] - last.get(role, used[role])) / span:3.0f}%"
                for role in ("serve", "worker", "simulate", "agent")
                if role in used
            )
            last, window_start = used, now
            total, online, offline = devices()
            if filled_at is None and total >= opts.agents:
                filled_at = now - started
            if online_at is None and online >= opts.agents:
                online_at = now - started
                offline_at_fill = offline
            if probe is None and state.exists():
                hosts = next(iter(json.loads(state.read_text()).values()), {})
                if hosts:
                    probe = Probe(url, next(iter(hosts.values()))["credential"], opts.probe_every)
                    probe.start()
            print(
                f"{(now - started) / 60:5.1f} min  devices {total:5d}  online {online:5d}  "
                f"offline transitions {offline:5d}  CPU: {cpu}",
                flush=True,
            )

        client = console(url)
        try:
            # As a browser would: the page answers while the rankings are being gathered
            # and reloads itself every few seconds until they are shown.
            asked = time.perf_counter()
            fleet, gathering = [], 0
            while True:
                fleet.append(timed(lambda: client.get("/metrics/")))
                if 'id="fleet-gathering"' not in last_page[0]:
                    break
                gathering += 1
                time.sleep(3)
            ranked_after = time.perf_counter() - asked
            fleet += [timed(lambda: client.get("/metrics/")) for _ in range(5)]
            listing = [timed(lambda: client.get("/devices/")) for _ in range(6)]
        finally:
            client.close()
        total, online, offline = devices()
        print()
        print(f"simulated devices enrolled: {total} of {opts.agents}", end="")
        print(f" (all by {filled_at:.0f} s)" if filled_at is not None else " (not all)")
        print(
            f"all online: by {online_at:.0f} s (30 s windows)"
            if online_at is not None
            else f"all online: never ({online} at the end)"
        )
        if online_at is not None:
            print(f"offline transitions after the fleet was complete: {offline - offline_at_fill}")
        if probe is not None:
            probe.stop.set()
            probe.join(5)
            lat = [1000 * v for v in probe.latencies]
            print(
                f"heartbeat latency (probe, {len(lat)} beats, {probe.failures} failed): "
                f"p50 {pct(lat, 0.5):.0f} ms  p95 {pct(lat, 0.95):.0f} ms  "
                f"max {max(lat, default=float('nan')):.0f} ms"
            )
        print(
            f"fleet overview /metrics/: first answer {fleet[0]:.2f} s "
            f"({gathering} answers 'gathering', rankings shown after {ranked_after:.1f} s), "
            f"then median {statistics.median(fleet[-5:]):.3f} s"
        )
        print(
            f"device list /devices/: first {listing[0]:.2f} s, then median "
            f"{statistics.median(listing[1:]):.3f} s"
        )
    finally:
        if probe is not None:
            probe.stop.set()
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
        if opts.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
