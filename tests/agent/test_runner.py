"""The runner's loop against a loopback server: schedule, outages, stop, revocation."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from steward.agent import AGENT_VERSION
from steward.agent.runner import (
    EXIT_INVALID_CREDENTIAL,
    EXIT_REVOKED,
    EXIT_STOPPED,
    AgentRunner,
    Backoff,
)
from steward.agent.state import AgentState
from tests.agent.fake_server import (
    CREDENTIAL,
    HEARTBEAT,
    INVENTORY,
    FakeServer,
    Reply,
    error,
    free_port,
)

# Heartbeats every second (the runner's floor) so that schedules show within a test.
FAST = {"server_time": "2026-11-29T04:30:00Z", "heartbeat_interval": 1, "inventory_interval": 3600}


def small_inventory() -> dict[str, Any]:
    return {"agent_version": AGENT_VERSION, "hostname": "web-01"}


class Running:
    """A runner in a thread; ``stop()`` returns how long it took to finish."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        state = AgentState(server_url=url, device_id=17, credential=CREDENTIAL)
        kwargs.setdefault("collect", small_inventory)
        self.runner = AgentRunner(state, **kwargs)
        self.stop_event = threading.Event()
        self.exit_code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.exit_code = self.runner.run(self.stop_event)

    def stop(self) -> float:
        started = time.monotonic()
        self.stop_event.set()
        self.thread.join(timeout=5)
        return time.monotonic() - started

    def wait(self, timeout: float = 5) -> int | None:
        self.thread.join(timeout)
        return self.exit_code


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as running:
        running.routes[HEARTBEAT] = Reply(200, FAST)
        yield running


def test_inventory_on_start_then_heartbeats_at_the_servers_interval(server: FakeServer) -> None:
    running = Running(server.url, heartbeat_interval=30)
    server.wait_for(INVENTORY)
    beats = server.wait_for(HEARTBEAT, count=2, timeout=4)  # 1 s, adopted from the server
    assert running.stop() < 2
    assert running.exit_code == EXIT_STOPPED
    assert running.runner.heartbeat_interval == 1
    assert server.requests[0].path == INVENTORY
    assert server.requests[0].body["hostname"] == "web-01"
    assert beats[0].body["uptime_seconds"] > 0
    assert len(server.requests_to(INVENTORY)) == 1  # next one is an hour away


def test_inventory_is_sent_again_every_inventory_interval(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = Reply(200, {**FAST, "inventory_interval": 1})
    running = Running(server.url)
    server.wait_for(INVENTORY, count=2, timeout=4)
    running.stop()


def test_stops_within_two_seconds_of_the_stop_event(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = Reply(200, {**FAST, "heartbeat_interval": 600})
    running = Running(server.url)
    server.wait_for(HEARTBEAT)
    assert running.stop() < 2
    assert not running.thread.is_alive()
    assert running.exit_code == EXIT_STOPPED


def test_stops_promptly_even_while_backing_off() -> None:
    running = Running(f"http://127.0.0.1:{free_port()}", initial_backoff=30, max_backoff=60)
    time.sleep(0.3)  # the first attempt failed; it now waits 15-30 s
    assert running.stop() < 2
    assert running.exit_code == EXIT_STOPPED


def test_revoked_device_exits_with_status_3(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.routes[INVENTORY] = error(403, "device_revoked", "this device was revoked")
    with caplog.at_level(logging.ERROR, logger="steward.agent"):
        running = Running(server.url)
        assert running.wait() == EXIT_REVOKED
    assert "revoked" in caplog.text and "enroll" in caplog.text


def test_revocation_seen_on_a_heartbeat_also_exits_with_status_3(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = error(403, "device_revoked", "this device was revoked")
    assert Running(server.url).wait() == EXIT_REVOKED


def test_unknown_credential_exits_with_status_4(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = error(401, "invalid_credential", "unknown credential")
    assert Running(server.url).wait() == EXIT_INVALID_CREDENTIAL


def test_keeps_running_through_an_outage_and_reports_after_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    collected: list[int] = []

    def collect() -> dict[str, Any]:
        collected.append(1)
        return small_inventory()

    with caplog.at_level(logging.INFO, logger="steward.agent"):
        running = Running(
            f"http://127.0.0.1:{port}", collect=collect, initial_backoff=0.05, max_backoff=0.2
        )
        time.sleep(0.6)  # several refused attempts
        assert running.thread.is_alive()
        with FakeServer(port=port) as server:
            server.routes[HEARTBEAT] = Reply(200, FAST)
            server.wait_for(INVENTORY)
            server.wait_for(HEARTBEAT, count=2, timeout=4)
            assert running.stop() < 2
    assert running.exit_code == EXIT_STOPPED
    assert len(collected) == 1  # the report waited through the outage, not re-collected
    assert "server unavailable" in caplog.text
    assert "server reachable again" in caplog.text


def test_a_rejected_inventory_is_logged_and_heartbeats_go_on(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.routes[INVENTORY] = error(413, "too_large", "body over 2097152 bytes")
    with caplog.at_level(logging.ERROR, logger="steward.agent"):
        running = Running(server.url)
        server.wait_for(HEARTBEAT, count=2, timeout=4)
        running.stop()
    assert running.exit_code == EXIT_STOPPED
    assert len(server.requests_to(INVENTORY)) == 1  # not resent in a loop
    assert "too_large" in caplog.text


def test_backoff_doubles_up_to_the_cap_with_jitter_below_the_ceiling() -> None:
    highest = Backoff(1, 60, rand=lambda: 1.0)
    assert [highest.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    lowest = Backoff(1, 60, rand=lambda: 0.0)
    assert [lowest.next_delay() for _ in range(3)] == [0.5, 1, 2]
    highest.reset()
    assert highest.next_delay() == 1


def test_intervals_from_a_misbehaving_server_are_floored(server: FakeServer) -> None:
    server.routes[HEARTBEAT] = Reply(200, {"heartbeat_interval": 0, "inventory_interval": 0})
    running = Running(server.url)
    server.wait_for(HEARTBEAT)
    time.sleep(0.3)
    running.stop()
    assert running.runner.heartbeat_interval == 1
    assert len(server.requests_to(HEARTBEAT)) <= 2
