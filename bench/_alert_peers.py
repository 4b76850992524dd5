"""The peers of bench/alert_latency.py: Prometheus + Alertmanager and monit on the same faults.

Everything listens on 127.0.0.1 and lives in the bench's temporary directory; every process
is started in a session of its own and stopped by process group (``Peers.stop``).

* ``Exporter``: a tiny Prometheus exporter in the bench process. On each scrape it reports
  ``watched_up{kind, fault}`` = 1/0 for the same ``sleep`` processes (``/proc/<pid>``, as
  process-exporter does) and the same TCP ports (a connect, as blackbox_exporter's ``tcp``
  probe does) that Steward's checks watch.
* Prometheus, one per profile: ``tuned`` (1 s scrape and evaluation) and ``default``
  (15 s scrape as in the shipped prometheus.yml, 1 m evaluation: Prometheus' default), each
  with the rule ``watched_up == 0`` for 0 s and an external label ``profile``.
* One Alertmanager routing each profile to its webhook path on the bench's receiver:
  ``tuned`` with group_wait 0 s, ``default`` with the shipped defaults (group_wait 30 s,
  group_interval 5 m). ``group_by`` includes the fault, so every fault is a new group: with
  the default ``[alertname]`` a second fault would wait for group_interval (5 minutes).
* monit with ``set daemon 1`` (its shortest cycle): per fault a ``check process`` by
  pidfile and a ``check host ... if failed port``, each with an ``exec`` action that POSTs
  to the receiver with curl. monit's usual action (restart) is replaced by exec so that
  kill -> action is measured without a start program's own run time.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

ALERTMANAGER = ("prometheus-alertmanager", "alertmanager")
PROFILES = {
    # profile: (scrape interval, evaluation interval, scrape timeout)
    "tuned": ("1s", "1s", "1s"),
    "default": ("15s", "1m", "10s"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Exporter:
    """``watched_up`` for every watched process and port, computed at scrape time."""

    def __init__(self, pids: dict[int, int], ports: dict[int, int]) -> None:
        exporter = self
        self.pids, self.ports = pids, ports

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def render(self) -> str:
        lines = ["# HELP watched_up 1 while the watched thing is up.", "# TYPE watched_up gauge"]
        for i, pid in sorted(self.pids.items()):
            lines.append(f'watched_up{{kind="process",fault="{i}"}} {int(_alive(pid))}')
        for i, port in sorted(self.ports.items()):
            lines.append(f'watched_up{{kind="tcp",fault="{i}"}} {int(_port_open(port))}')
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def missing() -> list[str]:
    """The peer programs not installed here (Debian: prometheus, prometheus-alertmanager, monit)."""
    out = []
    if shutil.which("prometheus") is None:
        out.append("prometheus")
    if not any(shutil.which(name) for name in ALERTMANAGER):
        out.append("prometheus-alertmanager")
    if shutil.which("monit") is None:
        out.append("monit")
    return out


class Peers:
    def __init__(self, home: Path, receiver_port: int, exporter_port: int,
                 pidfiles: dict[int, Path], ports: dict[int, int],
                 profiles: tuple[str, ...]) -> None:  # fmt: skip
        self.home = home / "peers"
        self.home.mkdir(parents=True, exist_ok=True)
        self.receiver = f"http://127.0.0.1:{receiver_port}"
        self.exporter_port = exporter_port
        self.pidfiles, self.ports = pidfiles, ports
        self.profiles = profiles
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    # -- processes -------------------------------------------------------------------------
    def _start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = self.home / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def start(self) -> None:
        if self.profiles:
            am_port = free_port()
            self._alertmanager(am_port)
            for profile in self.profiles:
                self._prometheus(profile, am_port)
        self._monit()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until every Prometheus has scraped the exporter once (bounded)."""
        deadline = time.monotonic() + timeout
        for port in self.prom_ports.values():
            url = f"http://127.0.0.1:{port}/api/v1/query?query=up"
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError):
                    body = urllib.request.urlopen(url, timeout=1).read()
                    if b'"value"' in body:
                        break
                time.sleep(0.2)
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"a peer exited early: {proc.args!r} (logs in {self.home})")

    # -- Prometheus + Alertmanager ---------------------------------------------------------
    def _alertmanager(self, port: int) -> None:
        config = self.home / "alertmanager.yml"
        config.write_text(f"""
route:
  receiver: tuned
  group_by: [alertname, profile, kind, fault]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
  routes:
    - matchers: ['profile="default"']
      receiver: default
      group_wait: 30s
      group_interval: 5m
receivers:
  - name: tuned
    webhook_configs: [{{url: "{self.receiver}/am/tuned", send_resolved: false}}]
  - name: default
    webhook_configs: [{{url: "{self.receiver}/am/default", send_resolved: false}}]
""")
        binary = next(shutil.which(n) for n in ALERTMANAGER if shutil.which(n))
        self._start("alertmanager", [
            binary, f"--config.file={config}", f"--storage.path={self.home / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip: a single instance, loopback only
        ])  # fmt: skip

    def _prometheus(self, profile: str, am_port: int) -> None:
        scrape, evaluation, scrape_timeout = PROFILES[profile]
        rules = self.home / "rules.yml"
        rules.write_text("""
groups:
  - name: watched
    rules:
      - alert: WatchedDown
        expr: watched_up == 0
        for: 0s
""")
        config = self.home / f"prometheus-{profile}.yml"
        config.write_text(f"""
global:
  scrape_interval: {scrape}
  scrape_timeout: {scrape_timeout}
  evaluation_interval: {evaluation}
  external_labels: {{profile: {profile}}}
rule_files: ["{rules}"]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["127.0.0.1:{am_port}"]}}]
scrape_configs:
  - job_name: watched
    static_configs: [{{targets: ["127.0.0.1:{self.exporter_port}"]}}]
""")
        port = free_port()
        self.prom_ports = {**getattr(self, "prom_ports", {}), profile: port}
        self._start(f"prometheus-{profile}", [
            "prometheus", f"--config.file={config}",
            f"--storage.tsdb.path={self.home / ('tsdb-' + profile)}",
            f"--web.listen-address=127.0.0.1:{port}",
        ])  # fmt: skip

    # -- monit -----------------------------------------------------------------------------
    def _monit(self) -> None:
        rc = self.home / "monitrc"
        curl = shutil.which("curl") or "curl"

        def action(kind: str, i: int) -> str:
            return (f'exec "{curl} -s -m 5 -X POST -d x '
                    f'{self.receiver}/monit/{kind}/{i}"')  # fmt: skip

        parts = [
            "set daemon 1",  # monit's shortest cycle (seconds)
            f"set logfile {self.home / 'monit.log'}",
            f"set pidfile {self.home / 'monit.pid'}",
            f"set idfile {self.home / 'monit.id'}",
            f"set statefile {self.home / 'monit.state'}",
        ]
        for i, pidfile in sorted(self.pidfiles.items()):
            parts += [f"check process watched_p{i} with pidfile {pidfile}",
                      f"  if does not exist then {action('process', i)}"]  # fmt: skip
        for i, port in sorted(self.ports.items()):
            parts += [
                f"check host watched_t{i} with address 127.0.0.1",
                f"  if failed port {port} with timeout 1 seconds then {action('tcp', i)}",
            ]
        rc.write_text("\n".join(parts) + "\n")
        rc.chmod(0o600)  # monit refuses a control file others can read
        check = subprocess.run(["monit", "-t", "-c", str(rc)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"monit rejected its control file: {check.stdout}{check.stderr}")
        self._start("monit", ["monit", "-I", "-c", str(rc)])
