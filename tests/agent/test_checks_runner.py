"""The agent's check runner against a loopback server: fetch, schedule, deliver at once,
re-fetch on a new revision, report what it cannot run, keep slow checks apart, stop."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.agent.runner import EXIT_INVALID_CREDENTIAL, EXIT_REVOKED, EXIT_STOPPED
from steward.checks import REGISTRY, Check, CheckResult, Side, Status
from steward.checks.registry import Context
from tests.agent.checks_support import FAST_HEARTBEAT, Agent, Listener, Silent, tcp_check
from tests.agent.fake_server import (
    CHECK_RESULTS,
    CHECKS,
    CREDENTIAL,
    HEARTBEAT,
    Assignment,
    FakeServer,
    Reply,
    ResultsSink,
    error,
)

WIRE_KEYS = {
    "check_id",
    "status",
    "message",
    "latency_ms",
    "perfdata",
    "observed_at",
    "state",
    "details",
}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as running:
        running.routes[HEARTBEAT] = Reply(200, FAST_HEARTBEAT)
        yield running


@pytest.fixture
def listener() -> Iterator[Listener]:
    port = Listener()
    yield port
    port.close()


def test_a_port_going_down_and_up_is_reported_within_two_seconds(
    server: FakeServer, listener: Listener, tmp_path: Path
) -> None:
    server.routes[CHECKS] = Assignment(tcp_check(1, listener.port))
    server.routes[CHECK_RESULTS] = sink = ResultsSink()
    agent = Agent(server.url, tmp_path, rand=lambda: 0.0)
    first_ok = sink.wait_for(lambda a: a.result["status"] == "ok", timeout=3)

    listener.close()
    fault = time.monotonic()
    down = sink.wait_for(lambda a: a.at > fault and a.result["status"] == "critical", timeout=3)
    listener.open()
    repair = time.monotonic()
    up = sink.wait_for(lambda a: a.at > repair and a.result["status"] == "ok", timeout=3)
    assert agent.stop() < 2

    assert down.at - fault < 2, f"fault reported after {down.at - fault:.2f} s"
    assert up.at - repair < 2, f"recovery reported after {up.at - repair:.2f} s"
    assert "connection refused" in down.result["message"]
    assert set(first_ok.result) == WIRE_KEYS
    assert first_ok.result["check_id"] == 1
    assert first_ok.result["state"] is None
    assert first_ok.result["perfdata"][0]["name"] == "connect_time"
    fetch = server.requests_to(CHECKS)[0]
    assert fetch.method == "GET"
    assert fetch.headers["Authorization"] == f"Bearer {CREDENTIAL}"
    post = server.requests_to(CHECK_RESULTS)[0]
    assert post.method == "POST" and isinstance(post.body["sent_at"], str)


def test_results_ready_together_share_one_post(
    server: FakeServer, listener: Listener, tmp_path: Path
) -> None:
    server.routes[CHECKS] = Assignment(tcp_check(1, listener.port), tcp_check(2, listener.port))
    server.routes[CHECK_RESULTS] = sink = ResultsSink()
    # No jitter: both due at once. They run on two threads, the second one created on
    # the spot: on a loaded machine it finished >100 ms (the default) after the first.
    agent = Agent(server.url, tmp_path, rand=lambda: 0.0, coalesce=0.5)
    sink.wait_count(2, timeout=3)
    agent.stop()
    first = [a for a in sink.arrivals if a.post == 0]
    assert sorted(a.result["check_id"] for a in first) == [1, 2]


def test_a_new_revision_in_a_heartbeat_answer_triggers_a_refetch(
    server: FakeServer, listener: Listener, tmp_path: Path
) -> None:
    server.routes[CHECKS] = assignment = Assignment(tcp_check(1, listener.port), revision="r1")
    server.routes[CHECK_RESULTS] = sink = ResultsSink()
    agent = Agent(server.url, tmp_path, rand=lambda: 0.0)
    server.wait_for(CHECKS)
    server.wait_for(HEARTBEAT, count=2, timeout=3)
    assert len(server.requests_to(CHECKS)) == 1  # the same revision: no refetch

    assignment.checks.append(tcp_check(2, listener.port))
    assignment.revision = "r2"
    server.routes[HEARTBEAT] = Reply(200, {**FAST_HEARTBEAT, "checks_revision": "r2"})
    changed = time.monotonic()
    server.wait_for(CHECKS, count=2, timeout=3)
    new = sink.wait_for(lambda a: a.result["check_id"] == 2, timeout=3)
    agent.stop()
    assert new.at - changed < 2  # the next heartbeat (1 s), the fetch, the first run
    assert len(server.requests_to(CHECKS)) == 2
    assert agent.service.revision == "r2"


class ServerOnly(Check):
    name = "synthetic"
    summary = "a server-side-only type, for this test"
    side = Side.SERVER
    target_help = "anything"

    def execute(self, ctx: Context) -> CheckResult:  # pragma: no cover - never run here
        return CheckResult(Status.OK, "ran")


def test_checks_it_cannot_run_are_reported_once_as_unknown(
    server: FakeServer, listener: Listener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(REGISTRY, "synthetic", ServerOnly)
    server.routes[CHECKS] = Assignment(
        {"id": 7, "type": "snmp", "target": "switch-1", "interval": 1, "timeout": 2},
        {"id": 8, "type": "synthetic", "target": "x", "interval": 1, "timeout": 2},
        tcp_check(9, listener.port, params={"port": 0}),
        tcp_check(10, listener.port),
    )
    server.routes[CHECK_RESULTS] = sink = ResultsSink()
    agent = Agent(server.url, tmp_path, fetch_interval=0.2)  # several refetches
    server.wait_for(CHECKS, count=3, timeout=4)
    sink.wait_for(lambda a: a.result["check_id"] == 10, timeout=3)
    agent.stop()
    unknown = {r["check_id"]: r for r in sink.results() if r["check_id"] != 10}
    assert sorted(r["check_id"] for r in sink.results() if r["check_id"] != 10) == [7, 8, 9]
    assert all(r["status"] == "unknown" for r in unknown.values())
    assert "unknown check type 'snmp'" in unknown[7]["message"]
    assert "synthetic checks run on the server only" in unknown[8]["message"]
    assert "params.port: must be at least 1" in unknown[9]["message"]
    assert unknown[7]["message"].startswith("not run by steward-agent ")


def test_a_slow_check_does_not_delay_a_fast_one(
    server: FakeServer, listener: Listener, tmp_path: Path
) -> None:
    silent = Silent()
    params = {"port": silent.port, "expect": "hello"}
    slow = [tcp_check(check_id, silent.port, params=params, timeout=2.5) for check_id in (21, 22)]
    server.routes[CHECKS] = Assignment(*slow, tcp_check(1, listener.port))
    server.routes[CHECK_RESULTS] = sink = ResultsSink()
    # Three workers for two stuck checks: a stuck check holds one worker, never more.
    agent = Agent(server.url, tmp_path, workers=3, rand=lambda: 0.0)
    sink.wait_for(lambda a: a.result["check_id"] == 21, timeout=5)
    agent.stop()
    silent.close()
    fast = [a.at for a in sink.arrivals if a.result["check_id"] == 1]
    assert len(fast) >= 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(fast)]
    assert max(gaps) < 1.5, gaps
    slow_result = sink.results(21)[0]
    assert slow_result["status"] == "critical" and "without 'hello'" in slow_result["message"]


def test_stops_within_two_seconds_with_a_check_in_flight(
    server: FakeServer, tmp_path: Path
) -> None:
    silent = Silent()
    check = tcp_check(1, silent.port, params={"port": silent.port, "expect": "x"}, timeout=30)
    server.routes[CHECKS] = Assignment(check)
    agent = Agent(server.url, tmp_path, rand=lambda: 0.0)
    server.wait_for(CHECKS)
    time.sleep(0.3)  # the check now waits for an answer that never comes
    assert agent.stop() < 2
    silent.close()
    assert agent.exit_code == EXIT_STOPPED


def test_revocation_seen_when_sending_results_exits_with_status_3(
    server: FakeServer, listener: Listener, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.routes[CHECKS] = Assignment(tcp_check(1, listener.port))
    server.routes[CHECK_RESULTS] = error(403, "device_revoked", "this device was revoked")
    with caplog.at_level(logging.ERROR, logger="steward.agent"):
        agent = Agent(server.url, tmp_path, rand=lambda: 0.0)
        assert agent.wait() == EXIT_REVOKED
    assert "revoked" in caplog.text


def test_revocation_seen_when_fetching_checks_exits_with_status_3(
    server: FakeServer, tmp_path: Path
) -> None:
    server.routes[CHECKS] = error(403, "device_revoked", "this device was revoked")
    assert Agent(server.url, tmp_path).wait() == EXIT_REVOKED


def test_unknown_credential_on_results_exits_with_status_4(
    server: FakeServer, listener: Listener, tmp_path: Path
) -> None:
    server.routes[CHECKS] = Assignment(tcp_check(1, listener.port))
    server.routes[CHECK_RESULTS] = error(401, "invalid_credential", "unknown credential")
    assert Agent(server.url, tmp_path, rand=lambda: 0.0).wait() == EXIT_INVALID_CREDENTIAL


def test_a_failing_checks_endpoint_does_not_stop_the_heartbeats(
    server: FakeServer, tmp_path: Path
) -> None:
    server.routes[CHECKS] = error(500, "server_error", "boom")
    agent = Agent(server.url, tmp_path)
    server.wait_for(HEARTBEAT, count=2, timeout=4)
    agent.stop()
    assert len(server.requests_to(CHECKS)) == 1  # retried with its own backoff (5 s+)
