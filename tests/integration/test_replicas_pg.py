"""Several server replicas and workers coordinating through one PostgreSQL database.

The storage promise (README): "PostgreSQL by one setting, with several server replicas and
workers coordinating through the database (no Redis needed)". Here that is two ``steward
serve`` and two ``steward worker`` processes, each with a data directory of its own (only
the database URL and the secret key are shared, as on separate machines), and:

* what is written through one replica is read through the other (an API create, a line
  protocol write);
* every periodic job runs once per due time across the workers (each worker logs its runs;
  no two runs of a job start less than its period apart), both workers take part, and when
  one is killed in the middle of a job (a scrape of a slow exporter) the other takes the job
  over within seconds, not after the five-minute lease of old;
* an alert fanned out to several webhook channels reaches each one exactly once, although
  both workers run the alert clock, the outbox and the delivery queue.

On SQLite there is one writer process by design, so the test is skipped there.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest

from steward.jobs.schedule import JOBS
from tests.integration.test_up import free_port, steward, wait_for
from tests.notify.conftest import receiver  # noqa: F401 - the loopback webhook receiver

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("STEWARD_DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="several replicas and workers need PostgreSQL (STEWARD_DATABASE_URL is not set "
        "to a postgresql:// URL; SQLite installs run one server and one worker)",
    ),
]

ADMIN = "root@replicas.test"
PASSWORD = "replica-test-password"
SECRET_KEY = "replica-test-secret-key-shared-by-every-process-0123456789"
CHANNELS = 3
SCRAPE_SECONDS = 2.0  # the exporter answers this late: a scrape job long enough to kill
EVERY = {job.name: job.every.total_seconds() for job in JOBS}


@dataclass
class Process:
    """One ``steward`` process with its own data directory and log file."""

    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def worker_id(self) -> str:
        return f"{socket.gethostname()}:{self.popen.pid}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


@dataclass
class Cluster:
    env: dict[str, str]
    root: Path
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, *args: str, **extra_env: str) -> Process:
        home = self.root / name
        env = dict(self.env, STEWARD_HOME=str(home), **extra_env)
        log = self.root / f"{name}.log"
        process = Process(
            name,
            subprocess.Popen(
                [sys.executable, "-m", "steward", *args],
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            ),
            log,
        )
        self.processes.append(process)
        return process

    def serve(self, name: str) -> tuple[Process, str]:
        port = free_port()
        return self.start(name, "serve", "--host", "127.0.0.1", "--port", str(port)), (
            f"http://127.0.0.1:{port}"
        )

    def worker(self, name: str) -> Process:
        # Debug level and JSON lines: each finished job run is a record with its start.
        return self.start(name, "worker", STEWARD_LOG_LEVEL="debug", STEWARD_LOG_FORMAT="json")


@pytest.fixture
def cluster(steward_env, tmp_path) -> Iterator[Cluster]:
    env = dict(steward_env, STEWARD_SECRET_KEY=SECRET_KEY, STEWARD_LOG_LEVEL="warning")
    env["STEWARD_HOME"] = str(tmp_path / "admin")
    migrated = steward("migrate", env=env, timeout=120)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    created = steward(
        "user", "create", "--email", ADMIN, "--password", PASSWORD, "--superuser", env=env
    )
    assert created.returncode == 0, created.stdout + created.stderr
    running = Cluster(env, tmp_path)
    yield running
    for process in running.processes:
        process.stop()


class SlowExporter:
    """A Prometheus exporter on loopback that answers each scrape ``SCRAPE_SECONDS`` late
    and records when every scrape started."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.in_flight = threading.Event()
        self.hurry = threading.Event()  # answer at once from now on
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                exporter.started.append(time.time())
                exporter.in_flight.set()
                exporter.hurry.wait(SCRAPE_SECONDS)
                exporter.in_flight.clear()
                body = b"# TYPE replica_exporter_up gauge\nreplica_exporter_up 1\n"
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the scraping worker was killed meanwhile
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def exporter() -> Iterator[SlowExporter]:
    running = SlowExporter()
    yield running
    running.close()


def ready(base: str, process: Process) -> None:
    wait_for(
        lambda: process.popen.poll() is not None or httpx.get(f"{base}/readyz").status_code == 200,
        60,
        f"{process.name} to be ready",
    )
    assert process.popen.poll() is None, process.output()


def job_runs(*workers: Process) -> list[tuple[str, str, float]]:
    """(job, worker, start in Unix seconds) of every finished run the workers logged."""
    runs = []
    for worker in workers:
        for line in worker.output().splitlines():
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            if entry.get("logger") == "steward.worker" and "job" in entry and "started" in entry:
                started = datetime.fromisoformat(entry["started"]).timestamp()
                runs.append((entry["job"], worker.name, started))
    return runs


def leases(database_url: str) -> dict[str, str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT name, leased_by FROM jobs_jobstate WHERE leased_by <> ''"
        ).fetchall()
    return dict(rows)


def test_replicas_and_workers_share_one_postgresql_database(cluster, receiver, exporter):  # noqa: F811
    server_a, url_a = cluster.serve("server-a")
    server_b, url_b = cluster.serve("server-b")
    workers = [cluster.worker("worker-1"), cluster.worker("worker-2")]
    ready(url_a, server_a)
    ready(url_b, server_b)

    signed_in = httpx.post(
        f"{url_a}/api/v1/auth/token", json={"email": ADMIN, "password": PASSWORD}
    )
    assert signed_in.status_code == 201, signed_in.text
    auth = {"Authorization": f"Bearer {signed_in.json()['token']}"}
    a = httpx.Client(base_url=url_a, headers=auth, timeout=10)
    b = httpx.Client(base_url=url_b, headers=auth, timeout=10)

    # (a) An API create through A is read through B.
    created = a.post("/api/v1/orgs", json={"name": "Replica Test"})
    assert created.status_code == 201, created.text
    org = created.json()
    seen = b.get(f"/api/v1/orgs/{org['id']}")
    assert seen.status_code == 200 and seen.json()["name"] == "Replica Test", seen.text

    # Monitoring set up through B: webhook channels, a rule on the metric A will receive,
    # and a scrape target the workers will scrape slowly.
    for i in range(CHANNELS):
        made = b.post(
            "/api/v1/channels",
            json={
                "organization_id": org["id"],
                "name": f"hook-{i}",
                "kind": "webhook",
                "config": {"url": receiver.url(f"/hook-{i}"), "timeout": 5},
            },
        )
        assert made.status_code == 201, made.text
    rule = {
        "name": "Replica probe high",
        "kind": "threshold",
        "metric": "replica_probe_value",
        "op": ">",
        "threshold": 10,
        "for": "2s",  # pending on arrival (server A); firing on a worker's alerts_tick
        "severity": "critical",
        "notify": "all",
    }
    made = b.post("/api/v1/alert-rules", json={"organization_id": org["id"], "spec": rule})
    assert made.status_code == 201, made.text
    made = b.post(
        "/api/v1/scrape-targets",
        json={
            "organization_id": org["id"],
            "url": exporter.url,
            "interval_seconds": 5,
            "timeout_seconds": 5,
        },
    )
    assert made.status_code == 201, made.text

    # (a) A line protocol write through A is queried through B.
    written = a.post(
        "/api/v1/write",
        params={"org": org["slug"], "precision": "ms"},
        content=f"replica_probe,host=nowhere value=42 {int(time.time() * 1000)}\n",
    )
    assert written.status_code == 204, written.text
    answer = b.get("/prometheus/api/v1/query", params={"query": "replica_probe_value"})
    assert answer.status_code == 200, answer.text
    result = answer.json()["data"]["result"]
    assert [r["value"][1] for r in result] == ["42"], result

    # (c) The alert fires on a worker and reaches every channel.
    wait_for(
        lambda: all(receiver.to(f"/hook-{i}") for i in range(CHANNELS)),
        20,
        "the alert on every webhook channel",
    )

    # (b) Kill the worker that is in the middle of a scrape (it holds the job's lease).
    by_id = {w.worker_id: w for w in workers}

    def scraping_worker() -> Process | None:
        holder = leases(cluster.env["STEWARD_DATABASE_URL"]).get("scrape_due_targets")
        return by_id.get(holder or "") if exporter.in_flight.is_set() else None

    victim = wait_for(scraping_worker, 20, "a worker in the middle of a scrape")
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait()
    killed_at = time.time()
    survivor = next(w for w in workers if w is not victim)

    # The survivor takes the scrape job over: the exporter sees the next scrape soon.
    wait_for(
        lambda: any(t > killed_at + 0.5 for t in exporter.started),
        15,
        "the surviving worker to scrape again",
    )
    takeover = min(t for t in exporter.started if t > killed_at + 0.5) - killed_at
    exporter.hurry.set()  # the survivor's scrape ends now: a quick, clean stop
    survivor.stop()
    assert survivor.popen.returncode == 0, survivor.output()[-3000:]

    runs = job_runs(*workers)
    by_job: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for job, worker, started in runs:
        by_job[job].append((started, worker))
    # Exactly once per due time: the next run of a job is due one period after the start
    # of the previous one, so two runs of one due time would start less than that apart.
    for job, starts in by_job.items():
        starts.sort()
        for (first, w1), (second, w2) in itertools.pairwise(starts):
            assert second - first >= EVERY[job] - 0.001, (job, w1, first, w2, second)
    # And at least once: while both workers ran, the one-second jobs kept their pace.
    for job in ("alerts_tick", "alerts_run_checks"):
        before = sorted(t for j, _, t in runs if j == job and t < killed_at)
        assert max(y - x for x, y in itertools.pairwise(before)) < EVERY[job] + 2, job
    ran_before_kill = {w for _, w, t in runs if t < killed_at}
    assert ran_before_kill == {"worker-1", "worker-2"}, "both workers took part"
    after_kill = [(job, t) for job, w, t in runs if t > killed_at]
    assert {"alerts_tick", "alerts_run_checks"} <= {job for job, _ in after_kill}
    assert takeover < 10, f"the scrape job was taken over after {takeover:.1f} s"

    # (c) Exactly once per channel, for the whole run (both workers' queues and outboxes).
    for i in range(CHANNELS):
        bodies = [json.loads(r.body) for r in receiver.to(f"/hook-{i}")]
        ours = [x for x in bodies if "Replica probe" in json.dumps(x)]
        assert len(ours) == 1, (i, bodies)
    deliveries = b.get("/api/v1/deliveries", params={"limit": 100}).json()["items"]
    ours = [d for d in deliveries if "Replica probe" in d["subject"]]
    assert len(ours) == CHANNELS, deliveries
    assert all(d["status"] == "sent" and d["attempts"] == 1 for d in ours), ours
