"""Alert lifecycle: pending -> firing -> resolved, with ack, snooze and mute-until-resolved."""

from __future__ import annotations

import pytest

from steward.alerting import (
    AlertState,
    InvalidOperation,
    Observed,
    Phase,
    Rule,
    Threshold,
    Verdict,
    acknowledge,
    evaluate,
    mute_until_resolved,
    snooze,
)
from steward.alerting.lifecycle import refresh

RULE = Rule("r", "HighCPU", Threshold("cpu", ">", 90))
LABELS = {"device": "d1", "alertname": "HighCPU"}


def step(state, active, now, rule=RULE):
    return evaluate(rule, state, Observed(LABELS, Verdict(active, 95 if active else 10)), now)


def firing(now: float) -> AlertState:
    state, _ = step(None, True, now)
    assert state is not None and state.phase is Phase.FIRING
    return state


def test_firing_then_resolved_records_transitions(clock):
    state, ts = step(None, True, clock.now)
    assert [(t.from_, t.to) for t in ts] == [("inactive", "firing")]
    state, ts = step(state, False, clock.advance(30))
    assert [(t.from_, t.to) for t in ts] == [("firing", "resolved")]
    assert state.resolved_at == clock.now
    assert [t.to for t in state.history] == ["firing", "resolved"]


def test_nothing_to_remember_when_condition_false_and_no_alert(clock):
    assert step(None, False, clock.now) == (None, [])


def test_no_data_keeps_a_firing_alert_firing(clock):
    state = firing(clock.now)
    state, ts = step(state, None, clock.advance(300))
    assert state.phase is Phase.FIRING and ts == []


def test_keep_firing_for_absorbs_short_recoveries(clock):
    rule = Rule("r", "HighCPU", Threshold("cpu", ">", 90), keep_firing_for_s=60)
    state, _ = step(None, True, clock.now, rule)
    state, _ = step(state, False, clock.advance(10), rule)
    assert state.phase is Phase.FIRING and state.recheck_at == clock.now + 60
    state, _ = step(state, True, clock.advance(30), rule)  # back before 60 s: same episode
    state, _ = step(state, False, clock.advance(1), rule)
    state, _ = step(state, False, clock.advance(60), rule)
    assert state.phase is Phase.RESOLVED


def test_acknowledge_records_who_and_note_and_clears_on_resolve(clock):
    state, ts = acknowledge(firing(clock.now), "alice", clock.advance(5), "on it")
    assert state.phase is Phase.ACKNOWLEDGED
    assert (state.ack.by, state.ack.note, state.ack.at) == ("alice", "on it", clock.now)
    assert ts[0].reason == "acknowledged by alice: on it"
    state, _ = step(state, False, clock.advance(5))
    state, _ = step(state, True, clock.advance(5))
    assert state.phase is Phase.FIRING and state.ack is None  # a new episode pages again


def test_snooze_expires_by_itself(clock):
    state, _ = snooze(firing(clock.now), clock.now + 600, "bob", clock.now)
    assert state.phase is Phase.SNOOZED
    state, ts = refresh(state, clock.advance(599))
    assert ts == [] and state.phase is Phase.SNOOZED
    state, ts = refresh(state, clock.advance(1))
    assert state.phase is Phase.FIRING and ts[0].reason == "snooze expired"


def test_mute_until_resolved_lasts_exactly_one_episode(clock):
    state, _ = mute_until_resolved(firing(clock.now), "carol", clock.now)
    assert state.phase is Phase.MUTED
    state, _ = step(state, True, clock.advance(3600))
    assert state.phase is Phase.MUTED
    state, _ = step(state, False, clock.advance(1))
    state, _ = step(state, True, clock.advance(1))
    assert state.phase is Phase.FIRING


def test_operator_actions_need_a_firing_alert(clock):
    resolved, _ = step(firing(clock.now), False, clock.advance(1))
    with pytest.raises(InvalidOperation):
        acknowledge(resolved, "alice", clock.now)
    with pytest.raises(InvalidOperation):
        snooze(firing(clock.now), clock.now - 1, "bob", clock.now)


def test_alert_state_round_trip(clock):
    state, _ = acknowledge(firing(clock.now), "alice", clock.advance(1), "x")
    assert AlertState.from_dict(state.to_dict()) == state


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (0.9153804204165935, "condition true (value 0.91538)"),  # was all 16 digits
        (96, "condition true (value 96)"),
        ("3 checks failing", "condition true (value 3 checks failing)"),
        (None, "condition true (no value)"),
    ],
)
def test_the_event_reason_gives_the_value_readably(clock, value, reason):
    _, ts = evaluate(RULE, None, Observed(LABELS, Verdict(True, value)), clock.now)
    assert ts[0].reason == reason
