"""Silences, maintenance windows across DST, on-call rotations and escalation timing."""

from __future__ import annotations

import pytest

from steward.alerting import (
    EscalationPolicy,
    EscalationState,
    InvalidSchedule,
    MaintenanceWindow,
    Matcher,
    Override,
    Rotation,
    Silence,
    Step,
    Target,
    WeeklySlot,
    escalation_due,
    is_silenced,
    next_handoff,
    scope,
    who_is_on_call,
)

from .conftest import utc

LABELS = {"site": "paris", "device": "db-01", "alertname": "DiskFull"}
SUNDAY = 6


def test_silence_matches_by_regex_and_expires():
    start = utc("2025-01-01T10:00")
    silence = Silence(
        "s1",
        (Matcher.parse('device=~"db-.*"'), Matcher.parse('site="paris"')),
        start,
        start + 3600,
        author="alice",
        reason="disk swap",
    )
    assert is_silenced(LABELS, start - 1, [silence]) is None  # not started
    assert is_silenced(LABELS, start, [silence]) is silence
    assert is_silenced({**LABELS, "device": "web-01"}, start, [silence]) is None
    assert is_silenced(LABELS, start + 3600, [silence]) is None  # expired


def test_silence_needs_a_matcher_and_an_end_after_its_start():
    with pytest.raises(InvalidSchedule):
        Silence("s", (), 0, 1, "a")
    with pytest.raises(InvalidSchedule):
        Silence("s", scope(site="x"), 10, 10, "a")


def sunday_night(slot=("01:00", "05:00")) -> MaintenanceWindow:
    return MaintenanceWindow(
        "mw", scope(site="paris"), "Europe/Berlin", (WeeklySlot((SUNDAY,), *slot),)
    )


def test_maintenance_window_is_four_hours_on_a_normal_sunday():
    mw = sunday_night()
    assert not mw.silences(LABELS, utc("2025-03-22T23:59"))  # 00:59 CET
    assert mw.silences(LABELS, utc("2025-03-23T00:00"))  # 01:00 CET
    assert mw.silences(LABELS, utc("2025-03-23T03:59"))
    assert not mw.silences(LABELS, utc("2025-03-23T04:00"))  # 05:00 CET
    assert not mw.silences({**LABELS, "site": "lyon"}, utc("2025-03-23T01:00"))


def test_maintenance_window_follows_the_wall_clock_on_the_spring_forward_sunday():
    # 2025-03-30 (last Sunday of March): Berlin jumps from 02:00 CET to 03:00 CEST.
    mw = sunday_night()
    assert mw.silences(LABELS, utc("2025-03-30T00:00"))  # 01:00 CET
    assert mw.silences(LABELS, utc("2025-03-30T02:59"))  # 04:59 CEST
    assert not mw.silences(LABELS, utc("2025-03-30T03:00"))  # 05:00 CEST: 3 hours long


def test_a_window_starting_in_the_dst_gap_starts_when_the_clock_resumes():
    mw = sunday_night(("02:30", "04:00"))  # 02:30 does not exist on 2025-03-30
    assert not mw.silences(LABELS, utc("2025-03-30T00:59"))  # 01:59 CET
    assert mw.silences(LABELS, utc("2025-03-30T01:30"))  # 03:30 CEST
    assert not mw.silences(LABELS, utc("2025-03-30T02:00"))  # 04:00 CEST


def test_a_daily_window_keeps_its_local_time_across_the_autumn_change():
    every_day = WeeklySlot(tuple(range(7)), "22:00", "02:00")  # crosses midnight
    mw = MaintenanceWindow("mw", scope(site="paris"), "Europe/Berlin", (every_day,))
    # 2025-10-26: 03:00 CEST -> 02:00 CET. Night of 25th: 22:00 CEST (20:00Z) to 02:00 CEST.
    assert mw.silences(LABELS, utc("2025-10-25T20:00"))
    assert not mw.silences(LABELS, utc("2025-10-26T00:00"))  # 02:00 CEST: first 02:00
    # Night of 26th: 22:00 CET = 21:00Z.
    assert not mw.silences(LABELS, utc("2025-10-26T20:30"))
    assert mw.silences(LABELS, utc("2025-10-26T21:00"))


def test_maintenance_window_rejects_bad_zones_and_times():
    with pytest.raises(InvalidSchedule):
        MaintenanceWindow("mw", (), "Mars/Olympus", (WeeklySlot((0,), "01:00", "02:00"),))
    with pytest.raises(InvalidSchedule):
        WeeklySlot((0,), "25:00", "02:00")


ROTA = Rotation(
    "ops", ("ana", "ben", "chloe"), "Europe/Berlin", start_date="2025-03-17", handoff="09:00"
)


def test_weekly_rotation_hands_off_at_local_time_across_dst():
    assert who_is_on_call(ROTA, utc("2025-03-17T07:59")) is None  # before the first shift
    assert who_is_on_call(ROTA, utc("2025-03-17T08:00")) == "ana"  # Mon 09:00 CET
    assert who_is_on_call(ROTA, utc("2025-03-24T07:59")) == "ana"
    assert who_is_on_call(ROTA, utc("2025-03-24T08:00")) == "ben"
    assert who_is_on_call(ROTA, utc("2025-03-31T06:59")) == "ben"  # 08:59 CEST
    assert who_is_on_call(ROTA, utc("2025-03-31T07:00")) == "chloe"  # 09:00 CEST
    assert who_is_on_call(ROTA, utc("2025-04-07T07:00")) == "ana"  # wraps around
    assert next_handoff(ROTA, utc("2025-03-26T12:00")) == utc("2025-03-31T07:00")


def test_overrides_win_and_the_last_one_listed_wins_among_overlaps():
    rota = Rotation(
        "ops",
        ("ana", "ben"),
        "UTC",
        "2025-01-06",
        overrides=(
            Override("zoe", utc("2025-01-07T00:00"), utc("2025-01-08T00:00")),
            Override("yan", utc("2025-01-07T12:00"), utc("2025-01-07T13:00")),
        ),
    )
    assert who_is_on_call(rota, utc("2025-01-07T11:00")) == "zoe"
    assert who_is_on_call(rota, utc("2025-01-07T12:30")) == "yan"
    assert who_is_on_call(rota, utc("2025-01-08T00:00")) == "ana"


POLICY = EscalationPolicy(
    "default",
    (
        Step(0, (Target("rotation", "ops"),)),
        Step(600, (Target("user", "lead"),)),
        Step(1200, (Target("channel", "phone-tree"),)),
    ),
    repeat=1,
    repeat_delay_s=300,
)


def test_escalation_steps_follow_their_delays_then_repeat():
    state = EscalationState(started_at=0)
    timeline = []
    for now in range(0, 6000, 60):
        due, state = escalation_due(POLICY, state, now)
        timeline += [(d.cycle, d.index, d.at) for d in due]
    assert timeline == [
        (0, 0, 0),
        (0, 1, 600),
        (0, 2, 1800),
        (1, 0, 2100),  # repeat_delay_s after the last step
        (1, 1, 2700),
        (1, 2, 3900),
    ]


def test_a_late_check_returns_every_overdue_step_on_schedule():
    due, state = escalation_due(POLICY, EscalationState(started_at=0), 1000)
    assert [(d.index, d.at) for d in due] == [(0, 0), (1, 600)]
    assert state.last_due == 600


def test_acknowledged_escalation_has_nothing_due():
    due, state = escalation_due(POLICY, EscalationState(started_at=0), 10_000, acknowledged=True)
    assert due == [] and state == EscalationState(started_at=0)


def test_next_change_is_the_nearest_silence_or_window_boundary():
    from steward.alerting.silences import next_change

    start = utc("2025-01-04T12:00")  # a Saturday
    silence = Silence("s1", (Matcher.parse('site="paris"'),), start + 600, start + 7200, "a")
    window = MaintenanceWindow(
        "w1", (Matcher.parse('site="paris"'),), "Europe/Berlin",
        (WeeklySlot((SUNDAY,), "01:00", "05:00"),),
    )  # fmt: skip
    assert next_change(start, [silence]) == start + 600
    assert next_change(start + 600, [silence]) == start + 7200
    assert next_change(start + 7200, [silence]) is None
    # Sunday 01:00 in Berlin (UTC+1 in January) is Sunday 00:00 UTC, then 04:00 UTC.
    assert next_change(start, windows=[window]) == utc("2025-01-05T00:00")
    assert next_change(utc("2025-01-05T02:00"), windows=[window]) == utc("2025-01-05T04:00")
    assert next_change(start, [silence], [window]) == start + 600
    ended = MaintenanceWindow(
        "w2", window.matchers, "UTC", window.slots, valid_until=start - 1
    )  # fmt: skip
    assert next_change(start, windows=[ended]) is None
    later = MaintenanceWindow("w3", window.matchers, "UTC", window.slots, valid_from=start + 60)
    assert next_change(start, windows=[later]) == start + 60
