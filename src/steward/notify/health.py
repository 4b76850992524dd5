"""Channel health: a channel that keeps failing raises its own "channel failing" event.

A channel turns *failing* after ``FAILING_AFTER`` consecutive failed attempts, or at once
when a delivery goes dead; one success turns it back to ok. The ok->failing transition is a
conditional update that changes one row, so even with several workers it is announced once
per episode:

* ``channel_failing`` (a Django signal) is sent: the alert engine subscribes to it;
* until then (and as a floor afterwards), a warning is logged and a "channel failing"
  message is queued to the organization's *other* enabled channels that are not failing
  themselves, with the idempotency key ``notify.channel_failing:<channel>:<episode>``.

Why tell the other channels rather than, say, only the audit log: a broken channel is
silent by nature, and the people who rely on it must hear about it through something
that works. Excluding failing channels keeps two broken channels from feeding each other.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import models
from django.dispatch import Signal

from steward.notify.message import Message, Severity
from steward.notify.models import Channel, ChannelHealth, HealthState
from steward.notify.queue import enabled_channels, enqueue

log = logging.getLogger("steward.notify")
FAILING_AFTER = 3

# Sent once per failure episode with ``channel`` and ``health``.
channel_failing = Signal()


def _row(channel_id: int) -> ChannelHealth:
    health, _ = ChannelHealth.objects.get_or_create(channel_id=channel_id)
    return health


def record_success(channel: Channel, now: datetime) -> None:
    health = _row(channel.pk)
    recovered = ChannelHealth.objects.filter(pk=health.pk, state=HealthState.FAILING).update(
        state=HealthState.OK, failing_since=None
    )
    ChannelHealth.objects.filter(pk=health.pk).update(consecutive_failures=0, last_success_at=now)
    if recovered:
        log.info("notification channel %s (%s) recovered", channel.pk, channel.name)


def record_failure(channel: Channel, now: datetime, error: str, dead: bool) -> bool:
    """Count a failed attempt; returns True when this failure opened a new episode."""
    health = _row(channel.pk)
    ChannelHealth.objects.filter(pk=health.pk).update(
        consecutive_failures=models.F("consecutive_failures") + 1,
        last_failure_at=now,
        last_error=error[:2000],
    )
    health.refresh_from_db()
    if health.state == HealthState.FAILING:
        return False
    if not dead and health.consecutive_failures < FAILING_AFTER:
        return False
    opened = ChannelHealth.objects.filter(pk=health.pk, state=HealthState.OK).update(
        state=HealthState.FAILING, failing_since=now, episode=models.F("episode") + 1
    )
    if opened:
        health.refresh_from_db()
        try:
            on_channel_failing(channel, health)
        except Exception:
            # Nobody was told: the episode is closed again, so the next failure opens (and
            # announces) it; else the channel stayed "failing" unheard. Not one transaction
            # with the announcement: the alert engine it feeds commits (and caches) its own
            # work, which an outer rollback would leave pointing at rows that are gone.
            ChannelHealth.objects.filter(
                pk=health.pk, state=HealthState.FAILING, episode=health.episode
            ).update(state=HealthState.OK, failing_since=None)
            raise
    return bool(opened)


def on_channel_failing(channel: Channel, health: ChannelHealth) -> None:
    log.warning(
        "notification channel %s (%s, organization %s) is failing: %s",
        channel.pk,
        channel.name,
        channel.organization_id,
        health.last_error,
    )
    for receiver, result in channel_failing.send_robust(Channel, channel=channel, health=health):
        if isinstance(result, Exception):
            log.error("channel_failing receiver %r failed: %r", receiver, result)
    message = Message(
        subject=f"Notification channel '{channel.name}' is failing",
        text=(
            f"Steward could not deliver notifications through the {channel.kind} channel "
            f"'{channel.name}' ({health.consecutive_failures} failed attempts in a row).\n"
            f"Last error: {health.last_error}\n"
            "Notifications sent only to that channel may not have reached anyone."
        ),
        severity=Severity.WARNING,
        event_kind="notify.channel_failing",
        labels={"channel": channel.name, "kind": channel.kind},
        idempotency_key=f"notify.channel_failing:{channel.pk}:{health.episode}",
    )
    others = enabled_channels(channel.organization_id, exclude=[channel.pk]).exclude(
        health__state=HealthState.FAILING
    )
    for other in others:
        enqueue(other, message)
