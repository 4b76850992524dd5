"""Heartbeat evaluation with an explicit clock: new, up, late, down, running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from steward.checks.heartbeat import (
    HeartbeatConfig,
    HeartbeatConfigError,
    HeartbeatStatus,
    Ping,
    PingKind,
    Reason,
    evaluate,
)

T0 = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
HOURLY = HeartbeatConfig(period=timedelta(hours=1), grace=timedelta(minutes=10))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_job_without_pings_is_new_and_never_alerts() -> None:
    state = evaluate(HOURLY, [], at(10_000))
    assert state.status is HeartbeatStatus.NEW and not state.alert


def test_period_up_late_down() -> None:
    pings = [Ping(at(0))]
    assert evaluate(HOURLY, pings, at(59)).status is HeartbeatStatus.UP
    late = evaluate(HOURLY, pings, at(65))
    assert late.status is HeartbeatStatus.LATE and not late.alert
    assert late.changes_at == at(70)
    down = evaluate(HOURLY, pings, at(71))
    assert down.status is HeartbeatStatus.DOWN and down.alert and down.reason is Reason.MISSED


def test_a_new_ping_brings_the_job_back_up() -> None:
    state = evaluate(HOURLY, [Ping(at(0)), Ping(at(75))], at(76))
    assert state.status is HeartbeatStatus.UP and state.next_due == at(135)


def test_pings_in_the_future_are_ignored() -> None:
    assert evaluate(HOURLY, [Ping(at(0)), Ping(at(200))], at(71)).status is HeartbeatStatus.DOWN


def test_a_failure_ping_or_nonzero_exit_status_alerts_at_once() -> None:
    failed = evaluate(HOURLY, [Ping(at(0), PingKind.FAIL)], at(1))
    assert failed.status is HeartbeatStatus.DOWN and failed.reason is Reason.FAILED
    exited = evaluate(HOURLY, [Ping.from_exit_status(at(0), 3)], at(1))
    assert exited.reason is Reason.FAILED and "exit status 3" in exited.message
    ok = evaluate(HOURLY, [Ping.from_exit_status(at(0), 0)], at(1))
    assert ok.status is HeartbeatStatus.UP


def test_a_started_run_is_running_until_its_own_limit() -> None:
    config = HeartbeatConfig(
        period=timedelta(days=1), grace=timedelta(minutes=5), max_runtime=timedelta(hours=6)
    )
    pings = [Ping(at(0)), Ping(at(1440), PingKind.START)]
    running = evaluate(config, pings, at(1440 + 300))
    assert running.status is HeartbeatStatus.RUNNING and running.running_since == at(1440)
    assert running.changes_at == at(1440 + 360)
    overdue = evaluate(config, pings, at(1440 + 361))
    assert overdue.status is HeartbeatStatus.DOWN and overdue.reason is Reason.RUN_TOO_LONG


def test_without_max_runtime_the_grace_time_limits_a_run_as_in_healthchecks() -> None:
    pings = [Ping(at(0), PingKind.START)]
    assert evaluate(HOURLY, pings, at(9)).status is HeartbeatStatus.RUNNING
    assert evaluate(HOURLY, pings, at(11)).reason is Reason.RUN_TOO_LONG


def test_a_run_that_finishes_suspiciously_fast_alerts() -> None:
    config = HeartbeatConfig(period=timedelta(days=1), min_runtime=timedelta(minutes=30))
    fast = [Ping(at(0), PingKind.START), Ping(at(0.5))]
    state = evaluate(config, fast, at(1))
    assert state.status is HeartbeatStatus.DOWN and state.reason is Reason.RUN_TOO_SHORT
    assert state.last_duration == timedelta(seconds=30)
    normal = [Ping(at(0), PingKind.START), Ping(at(45))]
    assert evaluate(config, normal, at(46)).status is HeartbeatStatus.UP
    # A success without a start ping has no measurable duration: not judged too fast.
    assert evaluate(config, [Ping(at(0))], at(1)).status is HeartbeatStatus.UP


def test_a_new_run_does_not_clear_a_failure_until_it_succeeds() -> None:
    pings = [Ping(at(0), PingKind.FAIL), Ping(at(30), PingKind.START)]
    state = evaluate(HOURLY, pings, at(31))
    assert state.status is HeartbeatStatus.DOWN and state.reason is Reason.FAILED
    assert state.running_since == at(30)
    assert evaluate(HOURLY, [*pings, Ping(at(32))], at(33)).status is HeartbeatStatus.UP


def test_cron_schedule_with_grace_across_spring_dst() -> None:
    # Daily at 02:30 Berlin time; on 2024-03-31 02:30 does not exist and the job runs at
    # 03:00 CEST (01:00 UTC), so the ping is due then, not at 01:30 UTC or 00:30 UTC.
    config = HeartbeatConfig(schedule="30 2 * * *", tz="Europe/Berlin", grace=timedelta(minutes=15))
    last = datetime(2024, 3, 30, 1, 31, tzinfo=UTC)  # 02:31 CET on the day before
    state = evaluate(config, [Ping(last)], datetime(2024, 3, 31, 0, 59, tzinfo=UTC))
    assert state.status is HeartbeatStatus.UP
    assert state.next_due == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    late = evaluate(config, [Ping(last)], datetime(2024, 3, 31, 1, 10, tzinfo=UTC))
    assert late.status is HeartbeatStatus.LATE
    down = evaluate(config, [Ping(last)], datetime(2024, 3, 31, 1, 16, tzinfo=UTC))
    assert down.status is HeartbeatStatus.DOWN and down.reason is Reason.MISSED


def test_cron_schedule_across_autumn_dst_expects_one_run() -> None:
    config = HeartbeatConfig(schedule="30 2 * * *", tz="Europe/Berlin", grace=timedelta(hours=1))
    first = datetime(2024, 10, 27, 0, 31, tzinfo=UTC)  # right after 02:30 CEST
    # The repeated 02:30 CET (01:30 UTC) is not a second due time.
    state = evaluate(config, [Ping(first)], datetime(2024, 10, 27, 3, 0, tzinfo=UTC))
    assert state.status is HeartbeatStatus.UP
    assert state.next_due == datetime(2024, 10, 28, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "period"),
        ({"period": timedelta(hours=1), "schedule": "* * * * *"}, "period"),
        ({"period": timedelta(seconds=10)}, "period"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"schedule": "0 * * * *", "tz": "Mars/Olympus"}, "tz"),
        ({"period": timedelta(hours=1), "min_runtime": timedelta(hours=2),
          "max_runtime": timedelta(hours=1)}, "min_runtime"),
    ],
)  # fmt: skip
def test_invalid_configs_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(HeartbeatConfigError) as caught:
        HeartbeatConfig(**kwargs)
    assert caught.value.field == field
