"""Soft and hard states: how many failed results it takes before a check changes state.

Semantics follow Nagios' ``max_check_attempts`` (here ``retries`` = attempts - 1): a
non-OK result after an OK hard state opens a *soft* state; only after ``retries`` further
consecutive non-OK results does the state become *hard* and alert. Recovery to OK is
immediate, and so is a change between two non-OK statuses once the state is hard (a hard
warning that turns critical must not wait another round of retries). Pure functions: the
caller stores the returned ``CheckState`` and acts on ``changed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from steward.checks.base import Status


@dataclass(frozen=True, slots=True)
class CheckState:
    """Where a check stands after a result.

    ``hard`` is the status alerts and dashboards use; ``current`` the latest result's
    status; ``attempt`` counts consecutive non-OK results (0 when OK); ``soft`` is true
    while ``current`` differs from ``hard`` because retries are not exhausted; ``changed``
    is true when this result changed ``hard`` (the caller records a transition then).
    """

    hard: Status = Status.OK
    current: Status = Status.OK
    attempt: int = 0
    soft: bool = False
    changed: bool = False


def advance(previous: CheckState | None, status: Status, retries: int) -> CheckState:
    """The state after one more result with ``status``. ``previous=None`` means a fresh
    check, treated as hard OK so that a first failure counts as attempt one."""
    prev = previous or CheckState()
    if status is Status.OK:
        return CheckState(hard=Status.OK, current=status, changed=prev.hard is not Status.OK)
    attempt = prev.attempt + 1
    if prev.hard is not Status.OK:
        # Already in a hard problem state: status changes among problems are hard at once.
        return CheckState(
            hard=status, current=status, attempt=attempt, changed=status is not prev.hard
        )
    if attempt > retries:
        return CheckState(hard=status, current=status, attempt=attempt, changed=True)
    return CheckState(hard=Status.OK, current=status, attempt=attempt, soft=True)
