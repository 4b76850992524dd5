"""The agent's steady footprint (RSS, CPU) next to node_exporter, collectd and glances.

Usage (from the repository root, as root to install the peers when missing)::

    .venv/bin/python bench/agent_footprint.py [--duration 120] [--intervals 10,1]
                                              [--no-install] [--serial]

For each interval, every program runs for a warm-up (inventory, imports, first scans)
and then ``--duration`` seconds of measurement; CPU is the change of utime + stime in
/proc/<pid>/stat over the window (% of one core), RSS the median of VmRSS samples from
/proc/<pid>/status during it (MB = 10^6 bytes). All programs of one interval run side by
side (``--serial`` runs them one at a time): CPU time is accounted per process, so the
figures do not add up across them.

* steward: ``steward agent run --interval N`` enrolled against a loopback fake server
  (tests/agent/fake_server.py) that accepts heartbeats, inventory and metrics;
* node_exporter: Debian's ``prometheus-node-exporter`` (installed with apt-get if missing),
  scraped from this process every N seconds so that it does its work;
* collectd: Debian's ``collectd-core``, cpu/memory/load/df/disk/interface/processes
  plugins writing CSV every N seconds;
* glances: ``pip install glances`` into a temporary virtualenv, ``--quiet --export csv``.

Targets for the agent: RSS <= 35 MB, CPU <= 0.2 % at 10 s and <= 1.0 % at 1 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.agent.fake_server import (  # noqa: E402
    CREDENTIAL,
    HEARTBEAT,
    METRICS,
    FakeServer,
    MetricsSink,
    Reply,
)

from steward.agent.state import AgentState, save_state  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TARGETS = {10.0: (35.0, 0.2), 1.0: (35.0, 1.0)}


@dataclass
class Program:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    scrape_url: str | None = None
    process: subprocess.Popen[bytes] | None = None
    rss: list[float] = field(default_factory=list)
    cpu_percent: float | None = None
    note: str = ""


def cpu_ticks(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    return 0.0


def run_quiet(argv: list[str], timeout: float = 600) -> bool:
    try:
        return (
            subprocess.run(argv, capture_output=True, timeout=timeout, check=False).returncode == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def ensure_apt(binary: str, package: str, allow_install: bool) -> str | None:
    found = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if found or not allow_install or os.geteuid() != 0:
        return found
    print(f"installing {package} ...", flush=True)
    run_quiet(["apt-get", "update"])
    run_quiet(["apt-get", "install", "-y", "--no-install-recommends", package])
    return shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )


def ensure_glances(workdir: Path, allow_install: bool) -> str | None:
    found = shutil.which("glances")
    if found or not allow_install:
        return found
    venv = workdir / "glances-venv"
    print("installing glances into a temporary virtualenv ...", flush=True)
    if not run_quiet([sys.executable, "-m", "venv", str(venv)]):
        return None
    if not run_quiet([str(venv / "bin/pip"), "install", "-q", "glances"]):
        return None
    return str(venv / "bin/glances")


def collectd_config(workdir: Path, interval: float) -> Path:
    csv_dir = workdir / f"collectd-csv-{interval:g}"
    csv_dir.mkdir(exist_ok=True)
    config = workdir / f"collectd-{interval:g}.conf"
    plugins = ["cpu", "memory", "load", "df", "disk", "interface", "processes", "csv"]
    config.write_text(
        f'Interval {interval:g}\nBaseDir "{workdir}"\nPIDFile "{workdir}/collectd.pid"\n'
        + "".join(f"LoadPlugin {plugin}\n" for plugin in plugins)
        + f'<Plugin csv>\n  DataDir "{csv_dir}"\n  StoreRates false\n</Plugin>\n'
    )
    return config


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def programs_for(interval: float, workdir: Path, server_url: str, args: argparse.Namespace,
                 peers: dict[str, str | None]) -> list[Program]:  # fmt: skip
    state_dir = workdir / f"agent-{interval:g}"
    save_state(AgentState(server_url, 17, CREDENTIAL), state_dir)
    steward = str(ROOT / ".venv/bin/steward")
    agent_argv = (
        [sys.executable, "-m", "steward.agent"] if args.python_m or not Path(steward).exists()
        else [steward, "agent"]
    )  # fmt: skip
    programs = [
        Program("steward", [*agent_argv, "run", "--state-dir", str(state_dir),
                            "--interval", f"{interval:g}"],
                env={**os.environ, "PYTHONPATH": str(ROOT / "src")}),
    ]  # fmt: skip
    if peers.get("node_exporter"):
        port = free_port()
        programs.append(
            Program("node_exporter", [peers["node_exporter"] or "",
                                      f"--web.listen-address=127.0.0.1:{port}"],
                    scrape_url=f"http://127.0.0.1:{port}/metrics")
        )  # fmt: skip
    if peers.get("collectd"):
        config = collectd_config(workdir, interval)
        programs.append(Program("collectd", [peers["collectd"] or "", "-f", "-C", str(config)]))
    if peers.get("glances"):
        csv = workdir / f"glances-{interval:g}.csv"
        programs.append(
            Program("glances", [peers["glances"] or "", "--quiet", "--export", "csv",
                                "--export-csv-file", str(csv), "--time", f"{interval:g}"])
        )  # fmt: skip
    return programs


def scrape_loop(url: str, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
                response.read()
        except OSError:
            pass


def measure(programs: list[Program], interval: float, warmup: float, duration: float) -> None:
    stop = threading.Event()
    for program in programs:
        program.process = subprocess.Popen(
            program.argv, env=program.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if program.scrape_url:
            threading.Thread(
                target=scrape_loop, args=(program.scrape_url, interval, stop), daemon=True
            ).start()
    try:
        time.sleep(warmup)
        start = {p.name: cpu_ticks(p.process.pid) for p in programs if alive(p)}
        started = time.monotonic()
        while time.monotonic() - started < duration:
            for program in programs:
                if alive(program):
                    program.rss.append(rss_mb(program.process.pid))  # type: ignore[union-attr]
            time.sleep(min(5.0, duration / 10))
        elapsed = time.monotonic() - started
        for program in programs:
            if not alive(program) or program.name not in start:
                program.note = "exited early"
                continue
            ticks = cpu_ticks(program.process.pid) - start[program.name]  # type: ignore[union-attr]
            program.cpu_percent = 100 * ticks / CLOCK_TICKS / elapsed
    finally:
        stop.set()
        for program in programs:
            if program.process is not None:
                program.process.terminate()
        for program in programs:
            if program.process is not None:
                try:
                    program.process.wait(10)
                except subprocess.TimeoutExpired:
                    program.process.kill()


def alive(program: Program) -> bool:
    return program.process is not None and program.process.poll() is None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120, help="seconds measured per interval")
    parser.add_argument("--warmup", type=float, default=20, help="seconds before measuring")
    parser.add_argument("--intervals", default="10,1", help="comma-separated seconds")
    parser.add_argument("--no-install", action="store_true", help="never install peers")
    parser.add_argument("--serial", action="store_true", help="one program at a time")
    parser.add_argument("--only-agent", action="store_true", help="measure the agent alone")
    parser.add_argument(
        "--python-m", action="store_true", help="run `python -m steward.agent` instead"
    )
    args = parser.parse_args()
    intervals = [float(v) for v in args.intervals.split(",")]
    results: list[tuple[float, Program]] = []
    with tempfile.TemporaryDirectory(prefix="steward-footprint-") as tmp, FakeServer() as server:
        workdir = Path(tmp)
        server.routes[HEARTBEAT] = Reply(
            200, {"heartbeat_interval": 10, "inventory_interval": 3600}
        )
        server.routes[METRICS] = sink = MetricsSink()
        peers: dict[str, str | None] = {}
        if not args.only_agent:
            install = not args.no_install
            peers["node_exporter"] = ensure_apt("prometheus-node-exporter",
                                                "prometheus-node-exporter", install)  # fmt: skip
            peers["collectd"] = ensure_apt("collectd", "collectd-core", install)
            peers["glances"] = ensure_glances(workdir, install)
            missing = [name for name, path in peers.items() if not path]
            if missing:
                print(f"not measured (could not install): {', '.join(missing)}")
        for interval in intervals:
            programs = programs_for(interval, workdir, server.url, args, peers)
            print(f"interval {interval:g} s: measuring {', '.join(p.name for p in programs)} "
                  f"({args.warmup:g} s warm-up + {args.duration:g} s)", flush=True)  # fmt: skip
            groups = [[p] for p in programs] if args.serial else [programs]
            for group in groups:
                measure(group, interval, args.warmup, args.duration)
            results += [(interval, p) for p in programs]
        batches = len(sink.batches)
    print()
    print(f"{'interval':>8}  {'program':<14} {'RSS MB':>7} {'CPU %':>7} {'RSS x':>6} {'CPU x':>6}"
          "  target")  # fmt: skip
    for interval in intervals:
        rows = [p for i, p in results if i == interval]
        agent = next(p for p in rows if p.name == "steward")
        for program in rows:
            rss = statistics.median(program.rss) if program.rss else float("nan")
            cpu = program.cpu_percent if program.cpu_percent is not None else float("nan")
            agent_rss = statistics.median(agent.rss) if agent.rss else float("nan")
            agent_cpu = agent.cpu_percent if agent.cpu_percent is not None else float("nan")
            ratio_rss = agent_rss / rss if rss else float("nan")
            ratio_cpu = agent_cpu / cpu if cpu else float("nan")
            target = ""
            if program.name == "steward" and interval in TARGETS:
                max_rss, max_cpu = TARGETS[interval]
                ok = rss <= max_rss and cpu <= max_cpu
                target = f"{'ok' if ok else 'MISSED'} (<= {max_rss:g} MB, <= {max_cpu:g} %)"
            print(f"{interval:>7g}s  {program.name:<14} {rss:>7.1f} {cpu:>7.2f} "
                  f"{ratio_rss:>6.2f} {ratio_cpu:>6.2f}  {target}{program.note}")  # fmt: skip
    print("\nRSS x / CPU x: the agent's figure divided by the program's (agent = 1.00).")
    print(f"metrics batches received by the fake server: {batches}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
