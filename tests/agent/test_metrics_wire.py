"""The columns wire format: sent only to a server that says it reads it, the same samples
as points, and never a lost batch when a server refuses it."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import pytest

from steward.agent.client import AgentClient, RequestRejected
from steward.agent.metrics import wire
from tests.agent.fake_server import (
    CREDENTIAL,
    HEARTBEAT,
    METRICS,
    FakeServer,
    MetricsSink,
    Reply,
    free_port,
    points_of,
)
from tests.agent.test_metrics_delivery import FAST, Counting, make_pipeline, run_runner

T0 = 1_764_390_600_000


def points_batch() -> dict[str, Any]:
    return {
        "batch_id": "0f8c2c1e-0001",
        "families": [
            {
                "name": "node_cpu_seconds_total",
                "type": "counter",
                "unit": "seconds",
                "help": "CPU",
                "series": [
                    {"labels": {"cpu": "0"}, "points": [[T0, 1.5], [T0 + 10_000, 2]]},
                    {"labels": {"cpu": "1"}, "points": [[T0 + 10_000, 3.0], [T0 + 10_000, 9.0]]},
                ],
            },
            {"name": "node_load1", "type": "gauge", "unit": "", "help": "", "series": []},
        ],
    }


def decoded(data: bytes) -> dict[str, Any]:
    return json.loads(gzip.decompress(data))


def test_a_batch_in_columns_has_the_same_samples_as_in_points():
    payload = points_batch()
    as_points, columns = wire.encode_batch(payload, "2026-11-29T04:30:00Z", {}, False)
    as_columns, yes = wire.encode_batch(payload, "2026-11-29T04:30:00Z", {}, True)
    assert (columns, yes) == (False, True)
    body = decoded(as_columns)
    assert body["timestamps"] == [T0, T0 + 10_000]
    assert body["families"][0]["series"][1]["values"] == [None, 3.0]  # the first of two
    expected = [s for s in points_of(decoded(as_points)) if s[1] != (("cpu", "1"),)]
    expected.append(("node_cpu_seconds_total", (("cpu", "1"),), T0 + 10_000, 3.0))
    assert sorted(points_of(body)) == sorted(expected)
    assert body["families"][1] == {**payload["families"][1], "series": []}


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b["families"][0]["series"][0]["points"].append([T0 + 1, "1.5"]),
        lambda b: b["families"][0]["series"][0]["points"].append([T0 + 1, True]),
        lambda b: b["families"][0]["series"][0]["points"].append([float(T0), 1.0]),
        lambda b: b["families"].pop(0),  # no point at all
    ],
)
def test_what_columns_cannot_say_goes_as_points(change):
    payload = points_batch()
    change(payload)
    data, columns = wire.encode_batch(payload, "2026-11-29T04:30:00Z", {}, True)
    assert not columns
    assert "timestamps" not in decoded(data)


def test_the_servers_formats_header_is_read_leniently():
    assert wire.server_formats(None) == frozenset()
    assert wire.server_formats("points, Columns ,") == {"points", "columns"}


class Client:
    """The client edge: ``metrics_formats`` as a server announced them; ``outcomes`` are
    raised or returned in turn for the bodies received."""

    def __init__(self, formats: set[str], *outcomes: Exception) -> None:
        self.metrics_formats = frozenset(formats)
        self.outcomes = list(outcomes)
        self.received: list[dict[str, Any]] = []

    def send_metrics(self, body_gzipped: bytes) -> dict[str, Any]:
        self.received.append(decoded(body_gzipped))
        if self.outcomes:
            raise self.outcomes.pop(0)
        return {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}


@pytest.mark.parametrize(("formats", "columns"), [(set(), False), ({"points", "columns"}, True)])
def test_columns_go_only_to_a_server_that_reads_them(tmp_path: Path, formats, columns):
    pipeline = make_pipeline(tmp_path)
    pipeline.collect()
    client = Client(formats)
    pipeline.ship(client)
    [body] = client.received
    assert ("timestamps" in body) is columns
    assert [s[3] for s in points_of(body) if s[0] == "node_forks_total"] == [1]
    assert len(pipeline.spool) == 0


def test_a_refused_columns_batch_is_sent_again_as_points(tmp_path: Path):
    pipeline = make_pipeline(tmp_path)
    pipeline.collect()
    client = Client({"columns"}, RequestRejected(422, "invalid_request", "families: bad"))
    pipeline.ship(client)
    first, second = client.received
    assert "timestamps" in first and "timestamps" not in second
    assert sorted(points_of(first)) == sorted(points_of(second))
    assert len(pipeline.spool) == 0 and pipeline.dropped_samples == 0


def test_a_batch_refused_in_both_formats_is_dropped_and_counted(tmp_path: Path):
    pipeline = make_pipeline(tmp_path)
    pipeline.collect()
    refusal = RequestRejected(422, "invalid_request", "families: bad")
    client = Client({"columns"}, refusal, RequestRejected(422, "invalid_request", "bad"))
    pipeline.ship(client)
    assert len(client.received) == 2
    assert len(pipeline.spool) == 0 and pipeline.dropped_samples >= 1


def test_clock_skew_in_columns_keeps_the_batch_without_a_points_retry(tmp_path: Path):
    pipeline = make_pipeline(tmp_path)
    pipeline.collect()
    client = Client({"columns"}, RequestRejected(422, "clock_skew", "sent_at is 400 s off"))
    pipeline.ship(client)
    assert len(client.received) == 1  # the machine's clock is wrong, not the format
    assert len(pipeline.spool) == 1 and pipeline.dropped_samples == 0


def test_the_client_learns_the_formats_from_every_answer():
    with FakeServer() as server:
        server.routes[METRICS] = sink = MetricsSink(formats="points, columns")
        client = AgentClient(server.url, CREDENTIAL)
        assert client.metrics_formats == frozenset()
        body = gzip.compress(json.dumps({"batch_id": "b", "families": []}).encode())
        assert client.send_metrics(body)["accepted"] == 0
        assert client.metrics_formats == {"points", "columns"}
        sink.formats = None  # a downgrade
        client.send_metrics(body)
        assert client.metrics_formats == frozenset()


def test_through_an_outage_every_sample_arrives_once_in_columns(tmp_path: Path) -> None:
    collector = Counting()
    pipeline = make_pipeline(tmp_path, collector, replay_rate=200)
    port = free_port()
    _, finish = run_runner(
        f"http://127.0.0.1:{port}", pipeline, initial_backoff=0.05, max_backoff=0.2
    )
    time.sleep(0.4)  # rounds while nobody listens
    with FakeServer(port=port) as server:
        server.routes[HEARTBEAT] = Reply(200, FAST)
        server.routes[METRICS] = sink = MetricsSink(formats="points, columns")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (len(pipeline.spool) or len(sink.batches) < 15):
            time.sleep(0.05)
        finish()
    bodies = list(sink.batches.values())
    assert "timestamps" not in bodies[0]  # before the first answer: points
    assert any("timestamps" in body for body in bodies)
    received = [s[3] for s in sink.samples() if s[0] == "node_forks_total"]
    left = [
        s[3]
        for entry in pipeline.spool.entries()
        for s in points_of(pipeline.spool.read(entry))
        if s[0] == "node_forks_total"
    ]
    assert len(received) == len(set(received))
    assert sorted(received + left) == [float(v) for v in collector.produced]
