"""Signal wiring: audit registration, config invalidation, channel health -> alerts."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save


def connect() -> None:
    from steward.alerts import models as m
    from steward.audit import registry
    from steward.notify import health

    for model in (
        m.AlertRule,
        m.Silence,
        m.MaintenanceWindow,
        m.EscalationPolicy,
        m.Rotation,
        m.CheckDefinition,
        m.HeartbeatCheck,
    ):
        uid = f"alerts-config-{model._meta.label}"
        post_save.connect(_config_changed, sender=model, dispatch_uid=uid + "-save")
        post_delete.connect(_config_changed, sender=model, dispatch_uid=uid + "-del")
        for m2m in model._meta.many_to_many:
            m2m_changed.connect(
                _m2m_changed, sender=m2m.remote_field.through, dispatch_uid=f"{uid}-{m2m.name}"
            )
    for model in (m.AlertRule, m.Silence, m.MaintenanceWindow, m.EscalationPolicy, m.Rotation):
        registry.register(model)
    registry.register(m.CheckDefinition, ignore_fields={"next_run_at", "run_requested_at"})
    registry.register(
        m.HeartbeatCheck,
        ignore_fields={"status", "reason", "message", "last_ping_at", "next_eval_at"},
    )
    health.channel_failing.connect(_channel_failing, dispatch_uid="alerts-channel-failing")


# Columns the runtime itself writes: saving them is not a configuration change.
_RUNTIME_FIELDS = frozenset({"next_run_at", "run_requested_at", "status", "reason", "message",
                             "last_ping_at", "next_eval_at"})  # fmt: skip


def _config_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    fields = kwargs.get("update_fields")
    if fields and set(fields) <= _RUNTIME_FIELDS:
        return
    from steward.alerts.config import bump

    bump(instance.organization_id)


def _m2m_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if action.startswith("post_") and hasattr(instance, "organization_id"):
        from steward.alerts.config import bump

        bump(instance.organization_id)


def _channel_failing(sender: Any, channel: Any, health: Any, **kwargs: Any) -> None:
    from steward.alerts import hooks

    hooks.on_channel_health(channel, failing=True)
