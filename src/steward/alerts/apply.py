"""Applying the engine's actions inside its transaction; sending after commit.

* ``RecordTransition`` -> an ``AlertEvent`` row, and the ``Alert`` row rewritten from the
  engine's state (the console's and the API's view).
* ``NotifyAction`` / ``EscalateAction`` -> an ``Outbox`` row with a unique key; after
  commit, ``dispatch`` claims it (conditional update: exactly one caller wins) and hands
  one message per channel to ``steward.notify.dispatch.send_now`` (immediate attempt in a
  bounded pool; the notify worker retries failures). The delivery's idempotency key is the
  outbox key, so even a re-dispatched row sends each channel one message.
* Helpdesk: firing / resolved / acknowledged changes are passed to
  ``steward.helpdesk.alerts.on_alert_event`` after commit, when the help desk is installed.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from django.apps import apps as django_apps
from django.db import transaction
from django.utils import timezone

from steward.alerting import (
    Action,
    AlertState,
    Engine,
    EscalateAction,
    NotifyAction,
    RecordTransition,
)
from steward.alerts.models import Alert, AlertEvent, Outbox

log = logging.getLogger("steward.alerts")


def dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _rule_pk(rule_id: str) -> int | None:
    return int(rule_id[1:]) if rule_id.startswith("r") and rule_id[1:].isdigit() else None


def _alert_fields(organization_id: int, engine: Engine, state: AlertState, at: float):
    from steward.alerts import labels as label_cache

    rule = engine.rules.get(state.rule_id)
    device = state.labels.get("device", "")
    info = label_cache.by_hostname(organization_id, device) if device else None
    ack = state.ack
    value = "" if state.value is None else str(state.value)[:500]
    return {
        "rule_id": _rule_pk(state.rule_id),
        "rule_key": state.rule_id,
        "rule_name": rule.name if rule else state.labels.get("alertname", ""),
        "labels": dict(state.labels),
        "status": state.status.value,
        "phase": state.phase.value,
        "severity": rule.severity.value if rule else state.labels.get("severity", ""),
        "title": state.annotations.get("title", "")[:500],
        "description": state.annotations.get("description", ""),
        "value": value,
        "device_id": info.id if info else None,
        "site_id": info.site_id if info else None,
        "started_at": dt(state.active_since or state.firing_since or at),
        "firing_since": dt(state.firing_since),
        "resolved_at": dt(state.resolved_at),
        "acknowledged_by": ack.by if ack else "",
        "acknowledged_at": dt(ack.at) if ack else None,
        "ack_note": ack.note if ack else "",
        "snoozed_until": dt(state.snoozed_until),
        "muted_until_resolved": state.muted_until_resolved,
        "updated_at": dt(at),
    }


def apply(organization_id: int, engine: Engine, actions: list[Action]) -> None:
    touched: dict[str, list[Any]] = {}
    outbox: list[Outbox] = []
    for action in actions:
        if isinstance(action, RecordTransition):
            touched.setdefault(action.transition.fingerprint, []).append(action.transition)
        elif isinstance(action, NotifyAction):
            note = action.notification
            key = f"n:{note.id}:{int(note.at * 1000)}"
            outbox.append(
                Outbox(
                    organization_id=organization_id,
                    key=key[:200],
                    kind="notify",
                    payload=action.to_dict(),
                )
            )
        elif isinstance(action, EscalateAction):
            esc = engine.state.escalations.get(action.group_key)
            started = esc.started_at if esc else action.at
            group = hashlib.sha256(action.group_key.encode()).hexdigest()[:16]
            key = f"e:{group}:{int(started * 1000)}:{action.step}:{action.cycle}"
            outbox.append(
                Outbox(
                    organization_id=organization_id,
                    key=key,
                    kind="escalate",
                    payload=action.to_dict(),
                )
            )
    events = []
    for fp, transitions in touched.items():
        state = engine.state.alerts.get(fp)
        if state is None:
            continue
        last = transitions[-1].at
        alert, _ = Alert.objects.update_or_create(
            organization_id=organization_id,
            fingerprint=fp,
            defaults=_alert_fields(organization_id, engine, state, last),
        )
        for t in transitions:
            events.append(
                AlertEvent(
                    alert=alert,
                    at=dt(t.at),
                    from_phase=t.from_.value,
                    to_phase=t.to.value,
                    reason=t.reason,
                )
            )
            if t.to.value in ("firing", "resolved", "acknowledged"):
                _helpdesk_later(alert, t.to.value)
    AlertEvent.objects.bulk_create(events)
    if outbox:
        Outbox.objects.bulk_create(outbox, ignore_conflicts=True)
        keys = [o.key for o in outbox]
        transaction.on_commit(lambda: dispatch(keys))


def _helpdesk_later(alert: Alert, state: str) -> None:
    if not django_apps.is_installed("steward.helpdesk"):
        return
    snapshot = {
        "organization_id": alert.organization_id,
        "fingerprint": alert.fingerprint,
        "rule_name": alert.rule_name,
        "severity": alert.severity,
        "state": state,
        "title": alert.title or alert.rule_name,
        "description": alert.description,
        "device_id": alert.device_id,
        "started_at": alert.firing_since or alert.started_at,
        "labels": dict(alert.labels),
    }

    def send() -> None:
        from steward.helpdesk.alerts import AlertEvent as HelpdeskEvent
        from steward.helpdesk.alerts import on_alert_event

        try:
            on_alert_event(HelpdeskEvent(**snapshot))
        except Exception:  # the help desk must never break alerting; its job retries
            log.exception("help desk hook failed for alert %s", snapshot["fingerprint"])

    transaction.on_commit(send)


def dispatch(keys: list[str] | None = None) -> int:
    """Send the outbox rows ``keys`` (or every row not yet dispatched: the worker job)."""
    from steward.alerts import messages

    qs = Outbox.objects.filter(dispatched_at__isnull=True)
    if keys is not None:
        qs = qs.filter(key__in=keys)
    sent = 0
    for pk in list(qs.order_by("pk").values_list("pk", flat=True)[:500]):
        now = timezone.now()
        if not Outbox.objects.filter(pk=pk, claimed_at__isnull=True).update(claimed_at=now):
            continue
        row = Outbox.objects.get(pk=pk)
        error = ""
        try:
            with transaction.atomic():
                messages.send(row)
        except Exception as exc:  # recorded on the row; the worker job tries again
            log.exception("outbox %s failed", row.key)
            error = f"{type(exc).__name__}: {exc}"[:1000]
        if error:
            Outbox.objects.filter(pk=pk).update(claimed_at=None, error=error)
        else:
            Outbox.objects.filter(pk=pk).update(dispatched_at=timezone.now(), error="")
            sent += 1
    return sent
