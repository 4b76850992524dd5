"""Metrics delivery: spool first, send gzip'd, drop what the server can never accept, keep
the rest through outages, and deliver every sample exactly once after recovery."""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from steward.agent.client import RequestRejected, ServerUnavailable
from steward.agent.metrics.collectors import Sample
from steward.agent.metrics.engine import MetricsEngine
from steward.agent.metrics.pipeline import MetricsPipeline
from steward.agent.protocol import AGENT_STATS_KEYS
from steward.agent.runner import EXIT_REVOKED, EXIT_STOPPED, AgentRunner
from steward.agent.spool import Spool
from steward.agent.state import AgentState
from tests.agent.fake_server import (
    CREDENTIAL,
    HEARTBEAT,
    METRICS,
    FakeServer,
    MetricsSink,
    Reply,
    error,
    free_port,
)

FAST = {"server_time": "2026-11-29T04:30:00Z", "heartbeat_interval": 1, "inventory_interval": 3600}


class Counting:
    """A collector whose counter goes 1, 2, 3...: a missing or repeated value shows."""

    name = "cpu"
    period = 0.0

    def __init__(self) -> None:
        self.produced: list[int] = []
        self._lock = threading.Lock()

    def collect(self) -> list[Sample]:
        with self._lock:
            self.produced.append(len(self.produced) + 1)
            return [("node_forks_total", (), self.produced[-1])]


def make_pipeline(
    tmp_path: Path, collector: Any = None, *, interval: float = 0.05, **kwargs: Any
) -> MetricsPipeline:
    engine = MetricsEngine([collector or Counting()])
    kwargs.setdefault("batch_seconds", interval)
    pipeline = MetricsPipeline(engine, Spool(tmp_path / "spool", fsync=False), **kwargs)
    pipeline.interval = interval  # below the protocol's 1 s floor, to keep the tests short
    return pipeline


def forks(body: dict[str, Any]) -> list[float]:
    return [
        point[1]
        for family in body["families"]
        if family["name"] == "node_forks_total"
        for series in family["series"]
        for point in series["points"]
    ]


class FakeClient:
    """The client edge for the pipeline's own rules; ``outcomes`` are raised or returned
    in turn, then every batch is accepted."""

    def __init__(self, *outcomes: Exception | dict[str, Any]) -> None:
        self.outcomes = list(outcomes)
        self.received: list[dict[str, Any]] = []

    def send_metrics(self, body_gzipped: bytes) -> dict[str, Any]:
        body = json.loads(gzip.decompress(body_gzipped))
        if self.outcomes:
            outcome = self.outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            self.received.append(body)
            return outcome
        self.received.append(body)
        return {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}


def run_runner(url: str, pipeline: MetricsPipeline, **kwargs: Any) -> tuple[AgentRunner, Any]:
    state = AgentState(server_url=url, device_id=17, credential=CREDENTIAL)
    runner = AgentRunner(
        state, collect=lambda: {"agent_version": "0.1.0"}, metrics=pipeline, **kwargs
    )
    stop = threading.Event()
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.update(code=runner.run(stop)), daemon=True)
    thread.start()

    def finish() -> tuple[float, int | None]:
        started = time.monotonic()
        stop.set()
        thread.join(5)
        return time.monotonic() - started, result.get("code")

    return runner, finish


def test_batches_go_out_gzipped_with_sent_at_and_agent_stats(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, interval=10)
    with FakeServer() as server:
        server.routes[HEARTBEAT] = Reply(200, FAST)
        server.routes[METRICS] = sink = MetricsSink()
        _, finish = run_runner(server.url, pipeline)
        request = server.wait_for(METRICS)[0]
        elapsed, code = finish()
    assert elapsed < 1 and code == EXIT_STOPPED
    assert request.headers["Content-Encoding"] == "gzip"
    body = request.body
    assert list(body["agent_stats"]) == list(AGENT_STATS_KEYS)
    assert body["sent_at"].endswith("Z") and body["batch_id"] in sink.batches
    assert forks(body) == [1]
    assert len(pipeline.spool) == 0  # acknowledged batches leave the spool


def test_after_an_outage_every_sample_arrives_exactly_once(tmp_path: Path) -> None:
    collector = Counting()
    pipeline = make_pipeline(tmp_path, collector, replay_rate=200)
    port = free_port()
    _, finish = run_runner(
        f"http://127.0.0.1:{port}", pipeline, initial_backoff=0.05, max_backoff=0.2
    )
    deadline = time.monotonic() + 5  # rounds while nobody listens (~12 a 0.6 s if idle)
    while len(pipeline.spool) < 5:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with FakeServer(port=port) as server:
        server.routes[HEARTBEAT] = Reply(200, FAST)
        server.routes[METRICS] = sink = MetricsSink()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (len(pipeline.spool) or len(sink.batches) < 15):
            time.sleep(0.05)
        elapsed, code = finish()
        heartbeats = len(server.requests_to(HEARTBEAT))
    assert elapsed < 1 and code == EXIT_STOPPED
    assert heartbeats >= 1
    received = [value for body in sink.batches.values() for value in forks(body)]
    left = [value for entry in pipeline.spool.entries() for value in
            forks(pipeline.spool.read(entry))]  # fmt: skip
    assert len(received) == len(set(received))  # nothing twice
    assert sorted(received + left) == [float(v) for v in collector.produced]  # nothing lost
    assert len(left) <= 2  # only what the stop sealed after the last send
    assert pipeline.dropped_samples == 0


def test_live_data_goes_first_then_the_backlog_oldest_first_within_the_rate(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    pipeline = make_pipeline(tmp_path, replay_rate=2, clock=lambda: now[0])
    for _ in range(5):
        pipeline.collect()
        with pytest.raises(ServerUnavailable):  # an outage: five batches wait in the spool
            pipeline.ship(FakeClient(ServerUnavailable("connection refused")))
    pipeline.collect()  # the server is back: this one is current
    client = FakeClient()
    assert pipeline.ship(client)
    assert [forks(body) for body in client.received] == [[6], [1], [2]]  # live, then 2 oldest
    now[0] += 0.5  # one more token
    assert pipeline.next_ship <= now[0]
    pipeline.ship(client)
    assert [forks(body) for body in client.received][3:] == [[3]]


@pytest.mark.parametrize(
    ("status", "code"), [(422, "invalid_request"), (413, "too_large"), (400, "bad_request")]
)
def test_a_batch_the_server_cannot_accept_is_dropped_and_counted(
    tmp_path: Path, status: int, code: str
) -> None:
    pipeline = make_pipeline(tmp_path)
    pipeline.collect()
    client = FakeClient(RequestRejected(status, code, "families.0.series.0.points.0: bad"))
    pipeline.ship(client)
    assert len(pipeline.spool) == 0 and pipeline.dropped_samples >= 1
    pipeline.collect()
    pipeline.ship(client)
    assert forks(client.received[-1]) == [2]  # later batches go on
    assert client.received[-1]["agent_stats"]["spool_dropped_samples"] == pipeline.dropped_samples


def test_clock_skew_keeps_the_batches_and_pauses_sending(tmp_path: Path) -> None:
    now = [1000.0]
    pipeline = make_pipeline(tmp_path, clock=lambda: now[0])
    pipeline.collect()
    client = FakeClient(RequestRejected(422, "clock_skew", "sent_at is 400 s off"))
    pipeline.ship(client)
    assert len(pipeline.spool) == 1 and pipeline.dropped_samples == 0
    assert pipeline.next_ship >= now[0] + 29
    now[0] += 31
    pipeline.ship(client)
    assert len(pipeline.spool) == 0 and forks(client.received[0]) == [1]


def test_server_errors_keep_the_batch_for_a_retry(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path)
    pipeline.collect()
    with pytest.raises(ServerUnavailable):
        pipeline.ship(FakeClient(ServerUnavailable("HTTP 503: maintenance")))
    assert len(pipeline.spool) == 1
    client = FakeClient()
    pipeline.ship(client)
    assert forks(client.received[0]) == [1] and len(pipeline.spool) == 0


def test_the_servers_interval_is_adopted_within_the_protocols_bounds(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, interval=10)
    for answer, expected in ((30, 30.0), (0, 1.0), (99999, 3600.0), ("x", 3600.0)):
        pipeline.collect()
        pipeline.seal()  # at 1 s, ten rounds would make a batch
        pipeline.ship(FakeClient({"accepted": 1, "interval": answer}))
        assert pipeline.interval == expected


def test_a_revocation_seen_on_metrics_exits_with_status_3(tmp_path: Path) -> None:
    with FakeServer() as server:
        server.routes[HEARTBEAT] = Reply(200, FAST)
        server.routes[METRICS] = error(403, "device_revoked", "this device was revoked")
        _, finish = run_runner(server.url, make_pipeline(tmp_path, interval=10))
        server.wait_for(METRICS)
        time.sleep(0.2)
        _, code = finish()
    assert code == EXIT_REVOKED


def test_stopping_spools_the_open_batch_for_the_next_start(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, batch_seconds=60)  # never full during the test
    with FakeServer() as server:
        server.routes[HEARTBEAT] = Reply(200, FAST)
        server.routes[METRICS] = MetricsSink()
        _, finish = run_runner(server.url, pipeline)
        time.sleep(0.3)
        elapsed, _ = finish()
    assert elapsed < 1
    assert not server.requests_to(METRICS)
    restarted = Spool(tmp_path / "spool")
    assert len(restarted) == 1 and restarted.entries()[0].samples >= 5
