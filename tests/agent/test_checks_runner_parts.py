"""The check runner's parts on their own: reading the assignment, the wire shape of a
result, the results spool and the per-check state store."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import pytest

from steward.agent.checks import MalformedAssignment, result_to_wire
from steward.agent.checks.assignment import AssignedCheck, parse_assignment
from steward.agent.checks.result_spool import ResultSpool
from steward.agent.checks.scheduler import CheckScheduler
from steward.agent.checks.state_store import STATE_FILE, CheckStateStore
from steward.agent.protocol import CHECK_RESULTS_PATH, CHECKS_PATH
from steward.checks import CheckResult, CheckSpec, Metric, Status


def test_keys_a_newer_server_adds_are_ignored_not_fatal() -> None:
    assignment = parse_assignment({"revision": "r1", "checks": [
        {"id": 1, "type": "tcp", "target": "db", "params": {"port": 5432}, "name": "Postgres"},
    ]})  # fmt: skip
    check = assignment.checks[0]
    assert check.runnable and check.spec == CheckSpec("tcp", "db", {"port": 5432})


def test_entries_without_an_id_are_skipped_and_a_repeated_id_keeps_the_first() -> None:
    assignment = parse_assignment({"checks": [
        {"type": "tcp"}, "nonsense", {"id": True, "type": "tcp"},
        {"id": 2, "type": "disk", "target": "/"}, {"id": 2, "type": "tcp", "target": "x"},
    ]})  # fmt: skip
    assert [(c.check_id, c.entry["type"]) for c in assignment.checks] == [(2, "disk")]
    assert assignment.revision is None


def test_an_answer_without_a_list_of_checks_is_malformed() -> None:
    with pytest.raises(MalformedAssignment):
        parse_assignment({"revision": "r1", "checks": {"1": {}}})


def test_an_out_of_range_interval_makes_the_check_not_runnable_with_the_reason() -> None:
    check = parse_assignment({"checks": [{"id": 3, "type": "disk", "interval": 0.5}]}).checks[0]
    assert not check.runnable
    assert check.problem is not None and "interval: must be between 1 and 86400" in check.problem


def test_a_result_on_the_wire_has_no_state_capped_texts_and_only_finite_numbers() -> None:
    result = CheckResult(
        Status.WARNING,
        "x" * 5000,
        latency_ms=math.inf,
        perfdata=(Metric("rtt", math.nan, "ms", min=0),),
        state={"offset": 10},
        details="y" * 100_000,
    )
    wire = result_to_wire(12, result)
    assert wire["check_id"] == 12 and wire["status"] == "warning"
    assert wire["state"] is None
    assert len(wire["message"]) == 1024 and len(wire["details"]) == 8192
    assert wire["latency_ms"] is None and wire["perfdata"][0]["value"] is None
    assert wire["perfdata"][0]["min"] == 0


def test_the_spool_keeps_delivery_order_across_a_restart(tmp_path: Path) -> None:
    spool = ResultSpool(tmp_path, fsync=False)
    spool.write([{"n": 1}])
    spool.write([{"n": 2}, {"n": 3}])
    reopened = ResultSpool(tmp_path, fsync=False)
    reopened.write([{"n": 4}])
    batches = reopened.entries()
    assert [r["n"] for b in batches for r in reopened.read(b) or []] == [1, 2, 3, 4]
    reopened.ack(batches[0])
    assert reopened.pending_results() == 3 and len(list(tmp_path.iterdir())) == 2


def test_a_full_spool_drops_the_oldest_results_and_counts_them(tmp_path: Path) -> None:
    spool = ResultSpool(tmp_path, max_bytes=200, fsync=False)
    for n in range(5):
        spool.write([{"n": n, "message": f"result {n}"}])
    kept = [r["n"] for b in spool.entries() for r in spool.read(b) or []]
    assert kept == list(range(5 - len(kept), 5)) and len(kept) < 5
    assert spool.dropped_results == 5 - len(kept)


def test_an_unreadable_spool_file_is_dropped_and_counted(tmp_path: Path) -> None:
    spool = ResultSpool(tmp_path, fsync=False)
    batch = spool.write([{"n": 1}, {"n": 2}])
    (tmp_path / batch.name).write_bytes(b"not gzip")
    assert spool.read(batch) is None
    assert spool.dropped_results == 2 and len(spool) == 0


def test_state_is_handed_back_only_to_the_same_type_and_target(tmp_path: Path) -> None:
    store = CheckStateStore(tmp_path / STATE_FILE)
    log_a = CheckSpec("log", "/var/log/a.log", {"pattern": "x"})
    store.put(5, log_a, {"offset": 42})
    reloaded = CheckStateStore(tmp_path / STATE_FILE)
    assert reloaded.get(5, log_a) == {"offset": 42}
    assert reloaded.get(5, CheckSpec("log", "/var/log/b.log", {"pattern": "x"})) is None
    reloaded.put(5, log_a, None)  # a run that timed out keeps the state
    assert reloaded.get(5, log_a) == {"offset": 42}
    reloaded.retain({6})
    assert CheckStateStore(tmp_path / STATE_FILE).get(5, log_a) is None


def test_an_unreadable_state_file_starts_afresh(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text("{")
    store = CheckStateStore(tmp_path / STATE_FILE)
    assert store.get(5, CheckSpec("log", "/x", {"pattern": "x"})) is None


def test_a_first_run_is_jittered_and_a_check_never_overlaps_itself() -> None:
    runs: list[float] = []
    release = threading.Event()

    def execute(check: AssignedCheck) -> None:
        runs.append(time.monotonic())
        release.wait(5)  # the first run is stuck until the test releases it

    scheduler = CheckScheduler(execute, workers=4, rand=lambda: 0.1)
    check = parse_assignment(
        {"checks": [{"id": 1, "type": "disk", "target": "/", "interval": 1}]}
    ).checks[0]
    scheduler.start()
    assigned = time.monotonic()
    scheduler.assign([check])
    time.sleep(1.3)  # due again at 1.1 s, but the first run is still going
    runs_while_stuck = len(runs)
    release.set()
    time.sleep(0.2)
    scheduler.close()
    assert 0.05 < runs[0] - assigned < 0.4  # 0.1 of the interval
    assert runs_while_stuck == 1
    assert len(runs) == 2  # the overdue run follows the stuck one at once, just once


def test_the_paths_are_the_documented_ones() -> None:
    document = (Path(__file__).parents[2] / "docs" / "agent-protocol.md").read_text()
    assert f"`GET {CHECKS_PATH}`" in document
    assert f"`POST {CHECK_RESULTS_PATH}`" in document
    assert "`checks_revision`" in document
