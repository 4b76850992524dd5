"""The alerts app's worker jobs (listed in ``steward.jobs.schedule``).

* ``tick``: every second, ``Engine.tick`` for each organization (``for``/absence/offline
  deadlines, snoozes, silences and windows ending, group flushes, escalation steps), and
  channel recoveries.
* ``run_due_checks``: server-side checks (``runner.py``).
* ``evaluate_heartbeats``: heartbeats whose verdict changes with time.
* ``dispatch_outbox``: outbox rows a crash left undispatched (normally sent after commit).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from steward.alerts import apply, defaults, heartbeats, hooks, runtime
from steward.alerts.models import Alert, EngineState, Outbox
from steward.alerts.runner import run_due_checks

log = logging.getLogger("steward.alerts")
STALE_CLAIM = timedelta(minutes=2)

__all__ = ["dispatch_outbox", "evaluate_heartbeats", "run_due_checks", "tick"]


def tick(now: float | None = None) -> int:
    try:
        defaults.ensure_all()
    except Exception:  # the organizations already set up still tick
        log.exception("default alert rules could not be ensured")
    orgs = list(EngineState.objects.values_list("organization_id", flat=True))
    for org_id in orgs:
        try:
            runtime.tick(org_id, now)
        except Exception:
            log.exception("engine tick failed for organization %s", org_id)
    _channel_recoveries(now)
    return len(orgs)


def _channel_recoveries(now: float | None) -> None:
    from steward.notify.models import Channel

    firing = Alert.objects.filter(status="firing", labels__alertsource="channel")
    for alert in firing.values("organization_id", "labels"):
        name = alert["labels"].get("channel", "")
        channel = (
            Channel.objects.filter(organization_id=alert["organization_id"], name=name)
            .select_related("health")
            .first()
        )
        health = getattr(channel, "health", None) if channel else None
        if channel is None or health is None or health.state == "ok":
            target = channel or _Gone(alert["organization_id"], name)
            hooks.on_channel_health(target, failing=False, now=now)


class _Gone:
    """A deleted channel: its alert resolves."""

    def __init__(self, organization_id: int, name: str) -> None:
        self.organization_id, self.name, self.pk = organization_id, name, None


def evaluate_heartbeats() -> int:
    return heartbeats.evaluate_due()


def dispatch_outbox() -> int:
    Outbox.objects.filter(
        dispatched_at__isnull=True, claimed_at__lt=timezone.now() - STALE_CLAIM
    ).update(claimed_at=None)
    return apply.dispatch()
