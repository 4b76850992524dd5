"""Grouping alerts into notifications (after Alertmanager's dispatcher), with decaying repeats.

Alerts sharing a notification policy and the values of the rule's ``group_by`` labels form a
*group*; a group sends one notification at a time, listing its firing and newly resolved
alerts, so fifty devices of a site going offline together page once.

Timing, per policy (:class:`GroupTiming`):

* ``group_wait_s``: delay of a new group's first notification, to collect its siblings.
  Default 0: the first alert of a problem pages at once (fault -> page latency is the
  product's promise); siblings arriving later are batched by ``group_interval_s``.
* ``group_interval_s``: minimum gap between two notifications of one group when its content
  changed (new firing or resolved alerts).
* ``repeat_interval_s`` x ``repeat_backoff`` ** n, capped at ``repeat_max_s``: reminders while
  nothing changed (1 h, 2 h, 4 h... with the defaults; Alertmanager issue #2595 asks for this).
  Any change restarts the sequence.

Members leave a group silently when they are *withdrawn* (acknowledged, snoozed, silenced,
inhibited, flapping): they are not repeated, but a group remembers which alerts it announced
as firing so their resolution is still reported. An alert that fires and resolves before its
group's first notification is never announced at all (a blip within ``group_wait`` is noise).

The :class:`Grouper` is deterministic: groups are flushed in key order and notification ids
are derived from the group key and a per-group counter, never from randomness or wall time.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from steward.alerting._serde import Serde, dump
from steward.alerting.errors import InvalidRule
from steward.alerting.labels import Labels, canonical


@dataclass(frozen=True)
class GroupTiming(Serde):
    group_wait_s: float = 0.0
    group_interval_s: float = 60.0
    repeat_interval_s: float = 3600.0
    repeat_backoff: float = 2.0
    repeat_max_s: float = 86400.0

    def __post_init__(self) -> None:
        if min(self.group_wait_s, self.group_interval_s) < 0 or self.repeat_interval_s <= 0:
            raise InvalidRule("group timings must be >= 0 and repeat_interval_s > 0")
        if self.repeat_backoff < 1 or self.repeat_max_s < self.repeat_interval_s:
            raise InvalidRule("repeat_backoff must be >= 1, repeat_max_s >= repeat_interval_s")

    def repeat_after(self, repeats_sent: int) -> float:
        """Delay before the next reminder when ``repeats_sent`` reminders followed the last
        change: ``repeat_interval_s * repeat_backoff ** repeats_sent``, capped."""
        exponent = min(repeats_sent, 64)  # avoid float overflow on very long problems
        return min(self.repeat_interval_s * self.repeat_backoff**exponent, self.repeat_max_s)


@dataclass(frozen=True)
class NotificationPolicy(Serde):
    """Where notifications of a group go (channel ids) and how they are paced.
    ``escalation`` names an :class:`~steward.alerting.escalation.EscalationPolicy`."""

    id: str
    channels: tuple[str, ...] = ()
    timing: GroupTiming = field(default_factory=GroupTiming)
    escalation: str | None = None
    notify_resolved: bool = True


class NoticeStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class AlertNotice(Serde):
    """What a notification says about one alert (a snapshot, rendered when it changed)."""

    fingerprint: str
    rule_id: str
    labels: dict[str, str]
    status: NoticeStatus
    severity: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: float | None = None
    ends_at: float | None = None
    value: float | str | None = None


class NotificationKind(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    REPEAT = "repeat"


@dataclass(frozen=True)
class Notification(Serde):
    id: str
    group_key: str
    policy_id: str
    group_labels: dict[str, str]
    kind: NotificationKind
    firing: tuple[AlertNotice, ...]
    resolved: tuple[AlertNotice, ...]
    at: float


@dataclass
class GroupState(Serde):
    key: str
    policy_id: str
    group_labels: dict[str, str]
    members: dict[str, AlertNotice] = field(default_factory=dict)
    announced: list[str] = field(default_factory=list)
    dirty: bool = False
    next_flush: float | None = None
    last_flush: float | None = None
    repeats: int = 0
    seq: int = 0


def group_key(policy_id: str, group_by: tuple[str, ...], labels: Labels) -> tuple[str, dict]:
    values = {k: labels.get(k, "") for k in group_by}
    return f"{policy_id}:{canonical(values)}", values


class Grouper:
    """State machine turning alert updates into paced group notifications."""

    def __init__(
        self,
        policies: Mapping[str, NotificationPolicy],
        groups: dict[str, GroupState] | None = None,
    ) -> None:
        self.policies = policies
        self.groups: dict[str, GroupState] = groups if groups is not None else {}

    def add(
        self, policy_id: str, group_by: tuple[str, ...], notice: AlertNotice, now: float
    ) -> None:
        """Feed one alert update (firing, resolved or withdrawn) into its group."""
        policy = self.policies[policy_id]
        key, values = group_key(policy_id, group_by, notice.labels)
        group = self.groups.get(key)
        if group is None:
            if notice.status is not NoticeStatus.FIRING:
                return  # nothing to announce, nothing to take back
            group = GroupState(key, policy_id, values, next_flush=now + policy.timing.group_wait_s)
            self.groups[key] = group
        fp = notice.fingerprint
        previous = group.members.get(fp)
        if notice.status is NoticeStatus.FIRING:
            if previous is None or previous.status is not NoticeStatus.FIRING:
                self._changed(group, policy, now)
            group.members[fp] = notice
        elif notice.status is NoticeStatus.RESOLVED:
            if fp in group.announced and policy.notify_resolved:
                group.members[fp] = notice
                self._changed(group, policy, now)
            else:
                group.members.pop(fp, None)
                if fp in group.announced:
                    group.announced.remove(fp)
        else:
            group.members.pop(fp, None)
        self._drop_if_empty(group)

    def _changed(self, group: GroupState, policy: NotificationPolicy, now: float) -> None:
        group.dirty = True
        if group.last_flush is None:
            if group.next_flush is None:
                group.next_flush = now + policy.timing.group_wait_s
            return
        soonest = max(group.last_flush + policy.timing.group_interval_s, now)
        group.next_flush = soonest if group.next_flush is None else min(group.next_flush, soonest)

    def _drop_if_empty(self, group: GroupState) -> None:
        if not group.members and not group.announced:
            self.groups.pop(group.key, None)

    def next_due(self) -> float | None:
        times = [g.next_flush for g in self.groups.values() if g.next_flush is not None]
        return min(times) if times else None

    def due(self, now: float) -> list[Notification]:
        """Notifications whose time has come, in group-key order; advances the groups."""
        out: list[Notification] = []
        for key in sorted(k for k, g in self.groups.items() if _is_due(g, now)):
            note = self._flush(self.groups[key], now)
            if note is not None:
                out.append(note)
        return out

    def _flush(self, group: GroupState, now: float) -> Notification | None:
        policy = self.policies.get(group.policy_id)
        if policy is None:  # the policy was deleted: its groups go with it
            self.groups.pop(group.key, None)
            return None
        timing = policy.timing
        firing = tuple(m for m in group.members.values() if m.status is NoticeStatus.FIRING)
        resolved = tuple(m for m in group.members.values() if m.status is NoticeStatus.RESOLVED)
        note = None
        if group.dirty and (firing or resolved):
            kind = NotificationKind.FIRING if firing else NotificationKind.RESOLVED
            group.repeats = 0
        elif firing:
            kind = NotificationKind.REPEAT
            group.repeats += 1
        else:
            kind = None
        if kind is not None:
            group.seq += 1
            digest = hashlib.sha256(group.key.encode()).hexdigest()[:12]
            note = Notification(
                f"{digest}-{group.seq}",
                group.key,
                group.policy_id,
                dict(group.group_labels),
                kind,
                _sorted(firing),
                _sorted(resolved),
                now,
            )
            group.last_flush = now
        for m in resolved:
            group.members.pop(m.fingerprint, None)
            if m.fingerprint in group.announced:
                group.announced.remove(m.fingerprint)
        for m in firing:
            if m.fingerprint not in group.announced:
                group.announced.append(m.fingerprint)
        group.dirty = False
        repeats = group.repeats if kind is NotificationKind.REPEAT else 0
        group.next_flush = now + timing.repeat_after(repeats) if firing else None
        self._drop_if_empty(group)
        return note

    def to_dict(self) -> dict[str, Any]:
        return {"groups": dump(self.groups)}

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], policies: Mapping[str, NotificationPolicy]
    ) -> Grouper:
        groups = {k: GroupState.from_dict(v) for k, v in data.get("groups", {}).items()}
        return cls(policies, groups)


def _is_due(group: GroupState, now: float) -> bool:
    return group.next_flush is not None and group.next_flush <= now


def _sorted(notices: tuple[AlertNotice, ...]) -> tuple[AlertNotice, ...]:
    return tuple(sorted(notices, key=lambda n: (n.starts_at or -math.inf, n.fingerprint)))
