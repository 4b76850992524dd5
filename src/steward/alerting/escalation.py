"""Escalation policies: who is paged, and when, while nobody acknowledges.

Alertmanager leaves this out (issue #2150); an RMM without it pages a channel nobody watches
at 3 a.m. A policy is an ordered list of steps; step ``i`` is due ``delay_s`` after step
``i - 1`` (step 0: after the escalation started, usually 0). After the last step the whole
list repeats ``repeat`` more times, ``repeat_delay_s`` after the last step. Acknowledging (or
resolving) stops it: :func:`escalation_due` returns nothing for an acknowledged escalation and
the engine drops the state when the alerts resolve.

Steps are scheduled from the previous step's *due* time, not from when a worker noticed, so a
late tick does not stretch the schedule; if several steps are overdue they are all returned
(every level is told, nothing is skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from steward.alerting._serde import Serde
from steward.alerting.errors import InvalidSchedule


class TargetKind(StrEnum):
    USER = "user"
    ROTATION = "rotation"
    CHANNEL = "channel"


@dataclass(frozen=True)
class Target(Serde):
    kind: TargetKind
    ref: str

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", TargetKind(self.kind))
        except ValueError:
            raise InvalidSchedule(f"unknown target kind {self.kind!r}") from None


@dataclass(frozen=True)
class Step(Serde):
    delay_s: float
    targets: tuple[Target, ...]

    def __post_init__(self) -> None:
        if self.delay_s < 0 or not self.targets:
            raise InvalidSchedule("a step needs delay_s >= 0 and at least one target")


@dataclass(frozen=True)
class EscalationPolicy(Serde):
    id: str
    steps: tuple[Step, ...]
    repeat: int = 0
    repeat_delay_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.steps or self.repeat < 0 or self.repeat_delay_s < 0:
            raise InvalidSchedule("a policy needs steps, repeat >= 0 and repeat_delay_s >= 0")


@dataclass(frozen=True)
class EscalationState(Serde):
    """Cursor of one running escalation: the next step and when the previous one was due."""

    started_at: float
    next_step: int = 0
    cycle: int = 0
    last_due: float | None = None


@dataclass(frozen=True)
class DueStep(Serde):
    index: int
    cycle: int
    at: float
    step: Step


def next_step_at(policy: EscalationPolicy, state: EscalationState) -> float | None:
    """When the next step is due, or None when the policy is exhausted."""
    if state.cycle > policy.repeat:
        return None
    base = state.started_at if state.last_due is None else state.last_due
    extra = policy.repeat_delay_s if state.next_step == 0 and state.cycle > 0 else 0.0
    return base + extra + policy.steps[state.next_step].delay_s


def escalation_due(
    policy: EscalationPolicy, state: EscalationState, now: float, acknowledged: bool = False
) -> tuple[list[DueStep], EscalationState]:
    """Steps due at ``now`` (none once acknowledged) and the advanced cursor."""
    out: list[DueStep] = []
    if acknowledged:
        return out, state
    at = next_step_at(policy, state)
    while at is not None and at <= now:
        out.append(DueStep(state.next_step, state.cycle, at, policy.steps[state.next_step]))
        nxt = state.next_step + 1
        if nxt == len(policy.steps):
            state = replace(state, next_step=0, cycle=state.cycle + 1, last_due=at)
        else:
            state = replace(state, next_step=nxt, last_due=at)
        at = next_step_at(policy, state)
    return out, state
