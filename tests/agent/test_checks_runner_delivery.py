"""Check results through an outage (spooled, replayed in order, none lost, none acknowledged
sent again) and a log check's offset through an agent restart."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from steward.agent.checks.outbox import ResultOutbox
from steward.agent.checks.result_spool import RESULTS_SPOOL_DIR, ResultSpool
from steward.agent.runner import EXIT_STOPPED
from tests.agent.checks_support import FAST_HEARTBEAT, Agent, Listener, tcp_check
from tests.agent.fake_server import (
    CHECK_RESULTS,
    CHECKS,
    HEARTBEAT,
    Assignment,
    FakeServer,
    Reply,
    ResultsSink,
    free_port,
)


@pytest.fixture
def listener() -> Iterator[Listener]:
    port = Listener()
    yield port
    port.close()


def serve(port: int, assignment: Assignment, sink: ResultsSink) -> FakeServer:
    server = FakeServer(port=port)
    server.routes[HEARTBEAT] = Reply(200, FAST_HEARTBEAT)
    server.routes[CHECKS] = assignment
    server.routes[CHECK_RESULTS] = sink
    return server


def key(result: dict[str, Any]) -> tuple[int, str]:
    return result["check_id"], result["observed_at"]


def test_results_are_spooled_through_an_outage_and_replayed_in_order(
    tmp_path: Path, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    produced: list[tuple[int, str]] = []
    real_put = ResultOutbox.put

    def recording_put(self: ResultOutbox, result: dict[str, Any]) -> bool:
        produced.append(key(result))
        return real_put(self, result)

    monkeypatch.setattr(ResultOutbox, "put", recording_put)
    port = free_port()
    assignment = Assignment(tcp_check(1, listener.port), tcp_check(2, listener.port))
    before, after = ResultsSink(), ResultsSink()
    with serve(port, assignment, before):
        # A 5-10 s results backoff: delivery resumes on the runner's first answered request
        # after the outage, not when that backoff runs out.
        agent = Agent(f"http://127.0.0.1:{port}", tmp_path, rand=lambda: 0.0, spool_after=0.3,
                      initial_backoff=10, max_backoff=10)  # fmt: skip
        before.wait_count(2, timeout=3)
    # The server is gone: two rounds of both checks happen meanwhile.
    time.sleep(2.2)
    spooled_during_outage = agent.service.spool.pending_results()
    outage_results = len(produced) - len(before.arrivals)
    with serve(port, assignment, after):
        recovered = len(produced)
        back = time.monotonic()
        after.wait_for(lambda _: len(after.arrivals) >= recovered - len(before.arrivals), 4)
        assert time.monotonic() - back < 3
        assert agent.stop() < 2
    assert agent.exit_code == EXIT_STOPPED

    assert outage_results >= 4
    assert spooled_during_outage >= 2  # on disk, not only in memory
    received = [key(r) for r in before.results() + after.results()]
    spool = ResultSpool(tmp_path / RESULTS_SPOOL_DIR)
    left = [key(r) for batch in spool.entries() for r in spool.read(batch) or []]
    # Delivery is at-least-once: a POST the stopping server took but whose answer it never
    # sent is spooled and replayed (the real server de-duplicates it, like the sink). Only
    # that last POST may come twice; anything acknowledged must never be sent again.
    repeated = Counter(received) - Counter(set(received))
    unanswered = {key(a.result) for a in before.arrivals if a.post == before.posts - 1}
    assert set(repeated) <= unanswered and max(repeated.values(), default=1) == 1
    assert Counter(received) - repeated + Counter(left) == Counter(produced)  # none lost
    assert before.duplicates == after.duplicates == 0
    replayed = [key(r) for r in after.results()]
    for check_id in (1, 2):  # oldest first, live results behind the backlog
        for keys in (list(dict.fromkeys(received)), replayed):  # (repeats once, in place)
            times = [observed for cid, observed in keys if cid == check_id]
            assert times == sorted(times)
    # The backlog went first: the first replayed results were observed during the outage
    # (after a repeat of the unanswered POST, which goes first as the oldest).
    seen_before = {key(r) for r in before.results()}
    first_new = next(key(r) for r in after.results() if key(r) not in seen_before)
    assert first_new in produced[len(before.arrivals) : recovered]


def test_a_log_checks_offset_survives_a_restart(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("ERROR old line\n")
    check = {"id": 5, "type": "log", "target": str(log), "interval": 1, "timeout": 2,
             "params": {"pattern": "ERROR", "first_run": "start"}}  # fmt: skip
    state_dir = tmp_path / "state"
    first, second = ResultsSink(), ResultsSink()
    with serve(0, Assignment(check), first) as server:
        agent = Agent(server.url, state_dir, rand=lambda: 0.0)
        found = first.wait_for(lambda a: a.result["check_id"] == 5, timeout=3).result
        agent.stop()
        with log.open("a") as handle:
            handle.write("ERROR written while the agent was stopped\n")
        server.routes[CHECK_RESULTS] = second
        agent = Agent(server.url, state_dir, rand=lambda: 0.0)
        again = second.wait_for(lambda a: a.result["check_id"] == 5, timeout=3).result
        agent.stop()

    assert found["status"] == "warning" and "last: ERROR old line" in found["message"]
    assert again["status"] == "warning"
    assert again["message"].startswith("1 match of /ERROR/ in 1 new line")
    assert "written while the agent was stopped" in again["message"]
