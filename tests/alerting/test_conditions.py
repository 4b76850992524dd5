"""Conditions judge plain data at a given ``now``; ``for`` is applied by the lifecycle."""

from __future__ import annotations

import pytest

from steward.alerting import (
    Absence,
    CheckFailing,
    CheckState,
    Condition,
    ConditionInput,
    DeviceOffline,
    InvalidCondition,
    Observed,
    Rule,
    Threshold,
    evaluate,
)
from steward.alerting.model import CheckTrack, DeviceTrack

from .conftest import T0

POINTS = [(T0 + i, float(v)) for i, v in enumerate([10, 20, 30, 40, 50])]  # T0 .. T0+4


def judge(cond: Condition, now: float, points=POINTS, active: bool = False):
    return cond.evaluate(ConditionInput(points=points), now, active)


@pytest.mark.parametrize(
    ("reducer", "expected"),
    [("last", 50), ("avg", 30), ("min", 10), ("max", 50), ("count", 5), ("percentile", 48)],
)
def test_reducers_over_the_window(reducer, expected):
    cond = Threshold("cpu", ">", 0, reducer, window_s=10, percentile=95)
    assert judge(cond, T0 + 4).value == pytest.approx(expected)


def test_window_excludes_samples_older_than_window():
    cond = Threshold("cpu", ">=", 45, "avg", window_s=2)  # (T0+2, T0+4]: 40, 50
    verdict = judge(cond, T0 + 4)
    assert verdict.value == 45 and verdict.active is True
    assert verdict.recheck_at == T0 + 3 + 2  # when 40 leaves the window


@pytest.mark.parametrize(
    ("op", "threshold", "active"),
    [
        (">", 50, False),
        (">=", 50, True),
        ("<", 51, True),
        ("<=", 49, False),
        ("==", 50, True),
        ("!=", 50, False),
    ],
)
def test_operators(op, threshold, active):
    assert judge(Threshold("cpu", op, threshold), T0 + 4).active is active


def test_no_samples_in_window_is_no_data_not_ok():
    verdict = judge(Threshold("cpu", ">", 1, "avg", window_s=5), T0 + 100)
    assert verdict.active is None


def test_count_of_an_empty_window_is_zero():
    assert judge(Threshold("cpu", "<", 1, "count", window_s=5), T0 + 100).active is True


def test_recover_threshold_gives_hysteresis():
    cond = Threshold("cpu", ">", 45, recover=35)
    points = [(T0, 40.0)]
    assert judge(cond, T0, points, active=False).active is False  # 40 is not > 45
    assert judge(cond, T0, points, active=True).active is True  # but stays until <= 35


def test_aggregating_reducer_needs_a_window():
    with pytest.raises(InvalidCondition):
        Threshold("cpu", ">", 1, "avg")
    with pytest.raises(InvalidCondition):
        Threshold("cpu", "~", 1)


def test_absence_fires_after_n_seconds_without_samples():
    cond = Absence("heartbeat", seconds=30)
    points = [(T0, 1.0)]
    quiet = judge(cond, T0 + 29, points)
    assert quiet.active is False and quiet.recheck_at == T0 + 30
    assert judge(cond, T0 + 30, points).active is True


def test_check_failing_is_hard_only_after_retries():
    cond = CheckFailing("ping", min_state=CheckState.CRITICAL, retries=3)

    def after(failures: int, state=CheckState.CRITICAL):
        data = ConditionInput(check=CheckTrack("ping", {}, state, failures))
        return cond.evaluate(data, T0, False).active

    assert [after(1), after(2), after(3)] == [False, False, True]  # soft, soft, hard
    assert after(5, CheckState.WARNING) is False  # below min_state
    assert after(3, CheckState.UNKNOWN) is True  # unknown counts by default
    assert after(0, CheckState.OK) is False


def test_device_offline_after_silence_or_goodbye():
    cond = DeviceOffline(after_s=60)
    seen = ConditionInput(device=DeviceTrack({}, T0, online=True))
    assert cond.evaluate(seen, T0 + 59, False).active is False
    assert cond.evaluate(seen, T0 + 60, False).active is True
    goodbye = ConditionInput(device=DeviceTrack({}, T0, online=False))
    assert cond.evaluate(goodbye, T0 + 1, False).active is True


def test_for_duration_keeps_alert_pending_until_condition_held_continuously():
    rule = Rule("r", "HighCPU", Threshold("cpu", ">", 90), for_s=60)
    labels = {"device": "d1"}

    def step(state, value, now):
        verdict = rule.condition.evaluate(ConditionInput(points=[(now, value)]), now, False)
        return evaluate(rule, state, Observed(labels, verdict), now)[0]

    s = step(None, 95, T0)
    assert s.status == "pending" and s.recheck_at == T0 + 60
    s = step(s, 95, T0 + 59)
    assert s.status == "pending"
    s = step(s, 80, T0 + 59.5)  # dipped: the `for` clock restarts
    assert s.status == "inactive"
    s = step(s, 95, T0 + 70)
    s = step(s, 95, T0 + 129)
    assert s.status == "pending"
    assert step(s, 95, T0 + 130).status == "firing"


def test_conditions_round_trip_through_their_kind():
    for cond in (
        Threshold("cpu", ">", 90, "percentile", 300, 99),
        Absence("m", 10),
        CheckFailing("http", CheckState.WARNING, 2),
        DeviceOffline(30),
    ):
        assert Condition.from_dict(cond.to_dict()) == cond
    with pytest.raises(InvalidCondition):
        Condition.from_dict({"kind": "telepathy"})
