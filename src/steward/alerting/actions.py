"""What the engine asks the outside world to do. Plain data, no I/O.

The Django app applies them in the same database transaction that stores the new engine
state: :class:`RecordTransition` becomes a row of the transition table, and
:class:`NotifyAction` / :class:`EscalateAction` become outbox rows that a sender claims
atomically and delivers (STYLE.md rule 10), so a crash never loses or doubles a page.
"""

from __future__ import annotations

from dataclasses import dataclass

from steward.alerting._serde import Serde
from steward.alerting.lifecycle import Transition
from steward.alerting.routing import Notification


@dataclass(frozen=True)
class RecordTransition(Serde):
    transition: Transition


@dataclass(frozen=True)
class NotifyAction(Serde):
    """Send ``notification`` to each channel of the policy (ids of the app's channels)."""

    policy_id: str
    channels: tuple[str, ...]
    notification: Notification


@dataclass(frozen=True)
class EscalateAction(Serde):
    """Page ``users`` (resolved from rotations at ``at``) and ``channels`` for a group that
    nobody acknowledged. ``step``/``cycle`` make the action idempotent for the outbox."""

    group_key: str
    escalation_id: str
    step: int
    cycle: int
    users: tuple[str, ...]
    channels: tuple[str, ...]
    fingerprints: tuple[str, ...]
    at: float


Action = RecordTransition | NotifyAction | EscalateAction
