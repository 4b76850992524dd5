"""The collection engine: failures and overruns are counted, never fatal."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from steward.agent.metrics.collectors import Sample
from steward.agent.metrics.engine import MetricsEngine


class Fixed:
    def __init__(self, name: str = "uname", value: float = 1.0, period: float = 0.0) -> None:
        self.name = name
        self.period = period
        self.value = value
        self.calls = 0

    def collect(self) -> list[Sample]:
        self.calls += 1
        return [("node_load1", (), self.value)]


class Failing:
    name = "meminfo"
    period = 0.0

    def collect(self) -> list[Sample]:
        raise OSError("/proc/meminfo: Input/output error")


class Hanging:
    """Blocks until released, like statvfs on a dead NFS server."""

    name = "filesystem"
    period = 0.0

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def collect(self) -> list[Sample]:
        self.calls += 1
        self.release.wait(10)
        return [("node_filesystem_size_bytes", ("/dev/x", "nfs", "/mnt"), 1)]


def own(samples: list[Sample], name: str) -> dict[str, float]:
    return {labels[0]: value for n, labels, value in samples if n == name}


def test_a_failing_collector_is_logged_counted_and_the_round_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = MetricsEngine([Failing(), Fixed()])
    with caplog.at_level(logging.WARNING, logger="steward.agent"):
        round_ = engine.collect()
        engine.collect()
    assert ("node_load1", (), 1.0) in round_.samples
    assert engine.stats.errors["meminfo"] == 2 and engine.stats.total_errors == 2
    warnings = [r for r in caplog.records if "'meminfo' failed" in r.getMessage()]
    assert len(warnings) == 1  # said once with its traceback, then at debug level
    assert own(round_.samples, "steward_agent_collector_errors_total")["meminfo"] == 1
    engine.close()


def test_a_collector_over_budget_is_skipped_and_not_restarted_while_stuck() -> None:
    hanging, after = Hanging(), Fixed()
    engine = MetricsEngine([hanging, after], budget=0.2)
    started = time.monotonic()
    first = engine.collect()
    assert time.monotonic() - started < 1
    assert ("node_load1", (), 1.0) in first.samples  # later collectors still ran
    assert not [s for s in first.samples if s[0] == "node_filesystem_size_bytes"]
    second = engine.collect()  # still stuck: skipped at once, not started again
    assert hanging.calls == 1 and after.calls == 2
    assert engine.stats.skipped["filesystem"] == 2
    assert own(second.samples, "steward_agent_collector_skipped_total")["filesystem"] == 2
    hanging.release.set()
    deadline = time.monotonic() + 5  # the abandoned thread returns and is no longer stuck
    while True:
        with engine._lock:
            if "filesystem" not in engine._stuck:
                break
        assert time.monotonic() < deadline
        time.sleep(0.005)
    third = engine.collect()
    assert [s for s in third.samples if s[0] == "node_filesystem_size_bytes"]
    assert engine.stats.total_skipped == 2
    engine.close()


def test_the_stop_event_ends_the_wait_for_a_slow_collector() -> None:
    hanging = Hanging()
    engine = MetricsEngine([hanging], budget=30)
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    engine.collect(stop)
    assert time.monotonic() - started < 1
    hanging.release.set()
    engine.close()


def test_collectors_with_a_period_run_only_that_often() -> None:
    now = [100.0]
    slow = Fixed(period=10)
    engine = MetricsEngine([slow], monotonic=lambda: now[0])
    for step in range(5):
        now[0] = 100.0 + step * 3  # every 3 s
        engine.collect()
    assert slow.calls == 2  # at 100 and 112
    engine.close()


def test_non_finite_values_are_left_out() -> None:
    engine = MetricsEngine([Fixed(value=float("nan"))])
    assert not [s for s in engine.collect().samples if s[0] == "node_load1"]
    engine.close()


def test_every_sample_of_a_round_has_the_rounds_timestamp() -> None:
    engine = MetricsEngine([Fixed()], clock=lambda: 1764390600.1234)
    assert engine.collect().timestamp_ms == 1764390600123
    engine.close()
