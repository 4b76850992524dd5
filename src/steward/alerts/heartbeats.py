"""Heartbeat (push) checks: recording pings and judging them with
``steward.checks.heartbeat.evaluate``.

A ping is judged at once (a ``/fail`` pages on arrival); the worker job re-judges the
heartbeats whose state changes by itself (``next_eval_at`` = the pure verdict's
``changes_at``: due time, end of grace, run-time limit). Only a change between *down* and
*not down* is fed to the engine (as a check result named ``heartbeat:<name>``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from steward.alerts import hooks
from steward.alerts.models import HeartbeatCheck, HeartbeatPing
from steward.checks.heartbeat import HeartbeatState, Ping, PingKind, evaluate

log = logging.getLogger("steward.alerts")


def _pings(beat: HeartbeatCheck) -> list[Ping]:
    rows = beat.pings.order_by("-at", "-id")[: HeartbeatPing.KEEP_PINGS]
    return [Ping(r.at, PingKind(r.kind), r.exit_status) for r in reversed(list(rows))]


def judge(beat: HeartbeatCheck, now: datetime | None = None) -> HeartbeatState:
    """Evaluate, store the verdict, and tell the engine when down-ness changed."""
    now = now or timezone.now()
    state = evaluate(beat.config(), _pings(beat), now)
    was_down = beat.status == "down"
    if state.alert != was_down:
        # The engine first: the stored status is what the engine was told, so a failed
        # call leaves it as it was and the heartbeat is judged (and told) again at once.
        try:
            hooks.on_heartbeat_state(beat, state.alert, state.message, now.timestamp())
        except Exception:
            log.exception("alert evaluation of heartbeat %s failed; retried", beat.pk)
            HeartbeatCheck.objects.filter(pk=beat.pk).update(next_eval_at=now)
            return state
    HeartbeatCheck.objects.filter(pk=beat.pk).update(
        status=state.status.value,
        reason=state.reason.value,
        message=state.message[:500],
        last_ping_at=state.last_ping,
        next_eval_at=state.changes_at,
    )
    beat.status = state.status.value
    return state


def record_ping(
    beat: HeartbeatCheck,
    kind: PingKind,
    exit_status: int | None = None,
    now: datetime | None = None,
    remote_addr: str = "",
    user_agent: str = "",
) -> HeartbeatState:
    now = now or timezone.now()
    with transaction.atomic():
        HeartbeatPing.objects.create(
            heartbeat=beat, at=now, kind=kind.value, exit_status=exit_status,
            remote_addr=remote_addr[:64], user_agent=user_agent[:200],
        )  # fmt: skip
        old = beat.pings.order_by("-at", "-id").values_list("pk", flat=True)[
            HeartbeatPing.KEEP_PINGS :
        ]
        if old:
            HeartbeatPing.objects.filter(pk__in=list(old)).delete()
    return judge(beat, now)


def evaluate_due(now: datetime | None = None) -> int:
    """The worker job: heartbeats whose verdict changes by itself by now."""
    now = now or datetime.now(UTC)
    due = HeartbeatCheck.objects.filter(enabled=True, next_eval_at__lte=now)
    count = 0
    for beat in list(due[:1000]):
        try:  # one broken heartbeat must not stop the others
            judge(beat, now)
        except Exception:
            log.exception("heartbeat %s could not be judged", beat.pk)
            continue
        count += 1
    return count
