"""The life of one alert: pending -> firing -> resolved, and what operators do to it.

Two layers, kept apart on purpose:

* ``status`` is what the *condition* says: inactive, pending (true, waiting out ``for``),
  firing, resolved. Only :func:`evaluate` changes it.
* ``phase`` is what a person sees, derived from the status plus the operator overlays
  (acknowledged, snoozed until a time, muted until resolved) and the flap flag. Every change of
  phase is recorded as a :class:`Transition`; the Django app stores each one as a row, and
  notifications are derived from those rows, never sent from inside the evaluation
  (STYLE.md rule 2 and 10).

All functions here are pure: they take a state and ``now`` and return a *new* state plus the
transitions to record. ``history`` keeps only the last :data:`HISTORY_LIMIT` transitions so
the state stays small; the full history is the app's transition table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from steward.alerting._serde import Serde
from steward.alerting.conditions import Verdict
from steward.alerting.errors import InvalidOperation
from steward.alerting.rules import Rule

HISTORY_LIMIT = 50


class AlertStatus(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class Phase(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    MUTED = "muted"
    FLAPPING = "flapping"
    RESOLVED = "resolved"


#: Phases in which the alert should reach people (notifications, escalation).
NOTIFIABLE = frozenset({Phase.FIRING})


@dataclass(frozen=True)
class Transition(Serde):
    """One recorded change of phase (``from_`` -> ``to``) with a human-readable reason."""

    at: float
    fingerprint: str
    rule_id: str
    from_: Phase
    to: Phase
    reason: str


@dataclass(frozen=True)
class Acknowledgement(Serde):
    by: str
    at: float
    note: str = ""


@dataclass(frozen=True)
class Observed:
    """What one evaluation of a rule produced for one set of alert labels."""

    labels: dict[str, str]
    verdict: Verdict
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertState(Serde):
    """Everything the core remembers about one alert (one fingerprint)."""

    fingerprint: str
    rule_id: str
    labels: dict[str, str]
    status: AlertStatus = AlertStatus.INACTIVE
    phase: Phase = Phase.INACTIVE
    active_since: float | None = None
    firing_since: float | None = None
    resolved_at: float | None = None
    clear_since: float | None = None
    value: float | str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    ack: Acknowledgement | None = None
    snoozed_until: float | None = None
    muted_until_resolved: bool = False
    flapping: bool = False
    changes: tuple[float, ...] = ()
    recheck_at: float | None = None
    history: tuple[Transition, ...] = ()

    def phase_at(self, now: float) -> Phase:
        """The phase this state has at ``now`` (snoozes expire by themselves)."""
        if self.status is AlertStatus.INACTIVE:
            return Phase.INACTIVE
        if self.flapping:
            return Phase.FLAPPING
        if self.status is AlertStatus.PENDING:
            return Phase.PENDING
        if self.status is AlertStatus.RESOLVED:
            return Phase.RESOLVED
        if self.muted_until_resolved:
            return Phase.MUTED
        if self.snoozed_until is not None and now < self.snoozed_until:
            return Phase.SNOOZED
        if self.ack is not None:
            return Phase.ACKNOWLEDGED
        return Phase.FIRING


def sync(state: AlertState, now: float, reason: str) -> tuple[AlertState, list[Transition]]:
    """Record a transition if the phase at ``now`` differs from the last recorded one."""
    new = state.phase_at(now)
    if new is state.phase:
        return state, []
    t = Transition(now, state.fingerprint, state.rule_id, state.phase, new, reason)
    history = (*state.history, t)[-HISTORY_LIMIT:]
    return replace(state, phase=new, history=history), [t]


def _value_text(verdict: Verdict) -> str:
    # Six significant digits: the event log read "value 0.9153804204165935".
    value = verdict.value
    if value is None:
        return "no value"
    return f"value {value:.6g}" if isinstance(value, float) else f"value {value}"


def evaluate(
    rule: Rule, state: AlertState | None, observed: Observed, now: float
) -> tuple[AlertState | None, list[Transition]]:
    """Advance one alert by one verdict. Returns the new state (None when there is nothing to
    remember: the condition is false and no alert existed) and the transitions to record."""
    verdict = observed.verdict
    if state is None:
        if not verdict.active:
            return None, []
        labels = dict(observed.labels)
        state = AlertState(fingerprint=rule.fingerprint(labels), rule_id=rule.id, labels=labels)
    s = replace(
        state,
        value=verdict.value if verdict.value is not None else state.value,
        annotations=observed.annotations or state.annotations,
        recheck_at=verdict.recheck_at,
    )
    out: list[Transition] = []

    def step(new: AlertState, reason: str) -> AlertState:
        new, ts = sync(new, now, reason)
        out.extend(ts)
        return new

    if verdict.active is None:
        # No data: keep the alert as it is; absence is a rule of its own.
        return s, out
    if verdict.active:
        s = replace(s, clear_since=None)
        if s.status in (AlertStatus.INACTIVE, AlertStatus.RESOLVED):
            s = replace(s, status=AlertStatus.PENDING, active_since=now)
            if rule.for_s > 0:  # with no `for`, record inactive -> firing directly
                s = step(s, f"condition true ({_value_text(verdict)})")
        if s.status is AlertStatus.PENDING:
            since = s.active_since if s.active_since is not None else now
            if now - since >= rule.for_s:
                s = step(
                    replace(
                        s,
                        status=AlertStatus.FIRING,
                        firing_since=now,
                        resolved_at=None,
                        changes=(*s.changes, now),
                    ),
                    _fire_reason(rule.for_s, verdict),
                )
            else:
                s = replace(s, recheck_at=_earliest(s.recheck_at, since + rule.for_s))
        return s, out
    if s.status is AlertStatus.PENDING:
        s = step(
            replace(s, status=AlertStatus.INACTIVE, active_since=None),
            f"condition cleared before {rule.for_s:g}s ({_value_text(verdict)})",
        )
    elif s.status is AlertStatus.FIRING:
        clear_since = s.clear_since if s.clear_since is not None else now
        if now - clear_since < rule.keep_firing_for_s:
            s = replace(
                s,
                clear_since=clear_since,
                recheck_at=_earliest(s.recheck_at, clear_since + rule.keep_firing_for_s),
            )
        else:
            s = step(
                replace(
                    s,
                    status=AlertStatus.RESOLVED,
                    resolved_at=now,
                    clear_since=None,
                    active_since=None,
                    ack=None,
                    muted_until_resolved=False,
                    changes=(*s.changes, now),
                ),
                f"condition cleared ({_value_text(verdict)})",
            )
    return s, out


def _fire_reason(for_s: float, verdict: Verdict) -> str:
    held = f"held for {for_s:g}s" if for_s else "true"
    return f"condition {held} ({_value_text(verdict)})"


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _require_firing(state: AlertState, action: str) -> None:
    if state.status is not AlertStatus.FIRING:
        raise InvalidOperation(f"cannot {action} an alert that is {state.status.value}")


def acknowledge(
    state: AlertState, by: str, now: float, note: str = ""
) -> tuple[AlertState, list[Transition]]:
    """Someone owns the problem: stops escalation and repeats until it resolves."""
    _require_firing(state, "acknowledge")
    reason = f"acknowledged by {by}" + (f": {note}" if note else "")
    return sync(replace(state, ack=Acknowledgement(by, now, note)), now, reason)


def unacknowledge(state: AlertState, by: str, now: float) -> tuple[AlertState, list[Transition]]:
    return sync(replace(state, ack=None), now, f"acknowledgement withdrawn by {by}")


def snooze(
    state: AlertState, until: float, by: str, now: float
) -> tuple[AlertState, list[Transition]]:
    """Hide a firing alert until ``until``; if it still fires then, it notifies again."""
    _require_firing(state, "snooze")
    if until <= now:
        raise InvalidOperation("a snooze must end in the future")
    return sync(replace(state, snoozed_until=until), now, f"snoozed by {by} until {until:g}")


def unsnooze(state: AlertState, by: str, now: float) -> tuple[AlertState, list[Transition]]:
    return sync(replace(state, snoozed_until=None), now, f"snooze cancelled by {by}")


def mute_until_resolved(
    state: AlertState, by: str, now: float
) -> tuple[AlertState, list[Transition]]:
    """Silence this alert for the rest of its current episode (cleared on resolve)."""
    _require_firing(state, "mute")
    return sync(replace(state, muted_until_resolved=True), now, f"muted until resolved by {by}")


def unmute(state: AlertState, by: str, now: float) -> tuple[AlertState, list[Transition]]:
    return sync(replace(state, muted_until_resolved=False), now, f"unmuted by {by}")


def refresh(state: AlertState, now: float) -> tuple[AlertState, list[Transition]]:
    """Apply the passage of time (a snooze ending) without new data."""
    reason = "snooze expired" if state.phase is Phase.SNOOZED else "time passed"
    return sync(state, now, reason)
