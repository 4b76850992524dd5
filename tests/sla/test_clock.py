"""The SLA clock from a status history: pauses, warnings, breaches, priority changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from steward.sla import Calendar, evaluate

HOUR = 3600
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday
ALWAYS = Calendar.always("UTC")
OFFICE = Calendar.from_spec(
    "UTC", {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def clock(history, now, resolution=4 * HOUR, first=None, answered=None, cal=ALWAYS, **kw):
    return evaluate(
        cal,
        created_at=T0,
        history=[(at(h), s) for h, s in history],
        now=now,
        first_response_seconds=first,
        resolution_seconds=resolution,
        first_response_at=answered,
        **kw,
    )


def test_running_clock_has_a_deadline_and_is_ok():
    result = clock([(0, "new")], at(1))
    assert result.state == "ok"
    assert result.resolution.due_at == at(4)
    assert result.next_due_at == at(4)


def test_pending_pauses_the_clock():
    history = [(0, "new"), (1, "pending"), (3, "open")]
    result = clock(history, at(4))
    assert result.resolution.elapsed_seconds == 2 * HOUR
    assert result.resolution.due_at == at(6)


def test_while_paused_there_is_no_deadline():
    result = clock([(0, "new"), (1, "pending")], at(10))
    assert result.state == "paused"
    assert result.resolution.due_at is None
    assert result.next_due_at is None


def test_on_hold_pauses_only_if_the_policy_says_so():
    history = [(0, "open"), (1, "on_hold"), (3, "open")]
    paused = clock(history, at(4), paused_statuses=("pending", "on_hold"))
    running = clock(history, at(4), paused_statuses=("pending",))
    assert paused.resolution.due_at == at(6)
    assert running.resolution.due_at == at(4)


def test_priority_change_keeps_the_pauses_that_happened():
    # 4 h target, 2 h paused; raised to an 8 h target at hour 5: elapsed is 3 h, so the
    # deadline is 5 h after "now" (hour 10), not 8 h after creation (hour 8).
    history = [(0, "new"), (1, "pending"), (3, "open")]
    before = clock(history, at(5), resolution=4 * HOUR)
    after = clock(history, at(5), resolution=8 * HOUR)
    assert before.resolution.due_at == at(6)
    assert after.resolution.due_at == at(10)
    assert after.resolution.elapsed_seconds == 3 * HOUR


def test_lowering_the_target_below_elapsed_breaches_at_the_right_instant():
    history = [(0, "new"), (1, "pending"), (3, "open")]
    result = clock(history, at(5), resolution=2 * HOUR)
    # 1 h before the pause + 1 h after it: the 2 h were used up at hour 4.
    assert result.resolution.state == "breached"
    assert result.resolution.due_at == at(4)


def test_warning_from_eighty_percent():
    assert clock([(0, "open")], at(3.3)).state == "warning"
    assert clock([(0, "open")], at(3.3), warn_ratio=0.9).state == "ok"


def test_breach_is_kept_after_resolution():
    result = clock([(0, "open"), (5, "resolved")], at(6))
    assert result.resolution.state == "breached"
    assert result.resolution.stopped_at == at(5)
    assert result.state == "breached"


def test_resolved_in_time_is_met():
    result = clock([(0, "open"), (3, "resolved")], at(30))
    assert result.state == "met"
    assert result.resolution.elapsed_seconds == 3 * HOUR


def test_reopening_resumes_the_resolution_clock():
    history = [(0, "open"), (2, "resolved"), (10, "open")]
    result = clock(history, at(11))
    assert result.resolution.elapsed_seconds == 3 * HOUR
    assert result.resolution.due_at == at(12)


def test_first_response_stops_at_the_reply():
    result = clock([(0, "new")], at(2), first=HOUR, answered=at(0.5))
    assert result.first_response.state == "met"
    assert result.first_response.stopped_at == at(0.5)
    assert result.state == "ok"  # resolution still running


def test_unanswered_first_response_breaches():
    result = clock([(0, "new")], at(2), first=HOUR)
    assert result.first_response.state == "breached"
    assert result.first_response.due_at == at(1)


def test_business_hours_calendar_with_pause_over_the_night():
    # Created Monday 16:00, 4 business hours. Pending Monday 16:30 -> Tuesday 10:00.
    created = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    result = evaluate(
        OFFICE,
        created_at=created,
        history=[
            (created, "new"),
            (created + timedelta(minutes=30), "pending"),
            (datetime(2026, 3, 3, 10, 0, tzinfo=UTC), "open"),
        ],
        now=datetime(2026, 3, 3, 11, 0, tzinfo=UTC),
        first_response_seconds=None,
        resolution_seconds=4 * HOUR,
    )
    assert result.resolution.elapsed_seconds == 1.5 * HOUR
    assert result.resolution.due_at == datetime(2026, 3, 3, 13, 30, tzinfo=UTC)


def test_no_targets_means_no_sla():
    assert clock([(0, "new")], at(1), resolution=None).state == "none"
