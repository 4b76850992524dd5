"""Outbox rows -> ``steward.notify`` messages, one per channel.

A notification lists the group's firing alerts and the newly resolved ones; its subject
follows Alertmanager's habit (``[FIRING:2] Device offline HQ``) so mail filters work.
An escalation step pages users (emails, through the organization's first enabled email
channel with the users as recipients) and channels.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from steward.alerts.config import ALL_CHANNELS
from steward.alerts.models import Alert, Outbox
from steward.notify.dispatch import send_now
from steward.notify.message import Message, Severity
from steward.notify.models import Channel
from steward.notify.queue import enabled_channels

_RANK = {"info": 1, "warning": 2, "critical": 3}


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _line(alert: dict[str, Any], resolved: bool) -> str:
    ann = alert.get("annotations") or {}
    title = ann.get("title") or alert["labels"].get("alertname", "alert")
    if resolved:
        head = f"- RESOLVED {title} (at {_when(alert.get('ends_at'))})"
    else:
        head = f"- [{alert.get('severity', '')}] {title} (since {_when(alert.get('starts_at'))})"
    desc = ann.get("description", "")
    return head + (f"\n  {desc}" if desc else "")


def _subject(note: dict[str, Any]) -> str:
    firing, resolved = note["firing"], note["resolved"]
    group = " ".join(v for v in note["group_labels"].values() if v)
    if len(firing) == 1 and not resolved:
        title = (firing[0].get("annotations") or {}).get("title") or group
        return f"[FIRING] {title}"
    if not firing and len(resolved) == 1:
        title = (resolved[0].get("annotations") or {}).get("title") or group
        return f"[RESOLVED] {title}"
    if firing:
        return f"[FIRING:{len(firing)}] {group}"
    return f"[RESOLVED:{len(resolved)}] {group}"


def notification_message(note: dict[str, Any], key: str) -> Message:
    firing, resolved = note["firing"], note["resolved"]
    lines = [_line(a, False) for a in firing] + [_line(a, True) for a in resolved]
    if firing:
        worst = max((a.get("severity", "warning") for a in firing), key=lambda s: _RANK.get(s, 0))
        severity = Severity(worst) if worst in _RANK else Severity.WARNING
    else:
        severity = Severity.OK
    kind = note["kind"]
    event = "alert.resolved" if not firing else ("alert.repeat" if kind == "repeat" else
                                                 "alert.firing")  # fmt: skip
    return Message(
        subject=_subject(note)[:255],
        text="\n".join(lines),
        severity=severity,
        event_kind=event,
        labels={k: str(v) for k, v in note["group_labels"].items()},
        idempotency_key=key,
    )


def _channels(organization_id: int, ids: list[str]) -> list[Channel]:
    if ALL_CHANNELS in ids:
        return list(enabled_channels(organization_id))
    pks = [int(i) for i in ids if i.isdigit()]
    return list(Channel.objects.filter(organization_id=organization_id, pk__in=pks, enabled=True))


def send(row: Outbox) -> None:
    payload = row.payload
    if row.kind == "notify":
        message = notification_message(payload["notification"], row.key)
        for channel in _channels(row.organization_id, list(payload["channels"])):
            send_now(channel, message)
        return
    if row.kind == "escalate":
        fps = list(payload["fingerprints"])
        titles = list(
            Alert.objects.filter(
                organization_id=row.organization_id, fingerprint__in=fps
            ).values_list("title", flat=True)
        )
        message = Message(
            subject=f"[ESCALATION step {payload['step'] + 1}] {len(fps)} alert(s) unacknowledged",
            text="\n".join(f"- {t}" for t in titles) or "\n".join(fps),
            severity=Severity.CRITICAL,
            event_kind="alert.escalation",
            idempotency_key=row.key,
        )
        for channel in _channels(row.organization_id, list(payload["channels"])):
            send_now(channel, message)
        users = tuple(payload["users"])
        if users:
            email = (
                enabled_channels(row.organization_id).filter(kind="email").order_by("pk").first()
            )
            if email is not None:
                send_now(email, _with_recipients(message, users))
        return
    raise ValueError(f"unknown outbox kind {row.kind!r}")


def _with_recipients(message: Message, users: tuple[str, ...]) -> Message:
    from dataclasses import replace

    return replace(message, recipients=users, idempotency_key=message.idempotency_key + ":users")
