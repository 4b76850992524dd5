"""Record model changes in the audit log through Django's signals.

Models opt in with ``register()``. One mechanism covers the API, the console, the CLI and
the agent API alike, because all of them save through the ORM; the acting person and
address come from ``audit.context``. Fields that only record observations (``last_seen``)
are ignored, so an agent's heartbeat does not flood the log; secret fields are recorded as
changed but never with their values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from steward.audit import context

MASK = "********"


@dataclass(frozen=True)
class Options:
    secret_fields: frozenset[str] = field(default_factory=frozenset)
    ignore_fields: frozenset[str] = field(default_factory=frozenset)


_registry: dict[type[models.Model], Options] = {}


def register(
    model: type[models.Model],
    secret_fields: set[str] | None = None,
    ignore_fields: set[str] | None = None,
) -> None:
    _registry[model] = Options(frozenset(secret_fields or ()), frozenset(ignore_fields or ()))
    uid = f"audit-{model._meta.label}"
    pre_save.connect(_before_save, sender=model, dispatch_uid=uid + "-pre")
    post_save.connect(_after_save, sender=model, dispatch_uid=uid + "-post")
    post_delete.connect(_after_delete, sender=model, dispatch_uid=uid + "-del")
    for m2m in model._meta.many_to_many:
        m2m_changed.connect(
            _m2m_changed, sender=m2m.remote_field.through, dispatch_uid=f"{uid}-{m2m.name}"
        )


def is_registered(model: type[models.Model]) -> bool:
    return model in _registry


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _snapshot(instance: models.Model) -> dict[str, Any]:
    return {
        f.attname: _plain(getattr(instance, f.attname))
        for f in instance._meta.concrete_fields
        if not f.primary_key
    }


def _before_save(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance.pk is None:
        instance._audit_before = None
        return
    previous = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = _snapshot(previous) if previous is not None else None


def _diff(options: Options, before: dict | None, after: dict) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for name, new in after.items():
        old = before.get(name) if before is not None else None
        if before is not None and old == new:
            continue
        if name in options.ignore_fields or (before is None and new in (None, "")):
            continue
        if name in options.secret_fields:
            changes[name] = [MASK if old else None, MASK if new else None]
        else:
            changes[name] = [old, new]
    return changes


def _after_save(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    options = _registry[sender]
    changes = _diff(options, getattr(instance, "_audit_before", None), _snapshot(instance))
    if not created and not changes:
        return  # only ignored fields changed (a heartbeat), or a no-op save
    write(instance, "create" if created else "update", changes)


def _after_delete(sender, instance, **kwargs) -> None:
    write(instance, "delete", {})


def _m2m_changed(sender, instance, action, model, pk_set, **kwargs) -> None:
    if action not in ("post_add", "post_remove", "post_clear") or type(instance) not in _registry:
        return
    name = next(
        (f.name for f in instance._meta.many_to_many if f.remote_field.through is sender), "m2m"
    )
    verb = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}[action]
    labels = sorted(str(o) for o in model._default_manager.filter(pk__in=pk_set or []))
    write(instance, "update", {name: {verb: labels}})


def _organization_id(instance: models.Model) -> int | None:
    from steward.tenancy.scoping import organization_of

    if not hasattr(type(instance), "tenant_path"):
        return None
    try:
        return organization_of(instance)
    except Exception:  # an object whose organization was deleted with it
        return getattr(instance, "organization_id", None)


def write(instance: models.Model, action: str, changes: dict | None = None) -> None:
    """Append an entry for ``instance`` on behalf of the current actor."""
    from steward.audit.models import AuditEntry

    actor = context.current()
    user = actor.user if getattr(actor.user, "pk", None) else None
    AuditEntry.objects.create(
        actor=user,
        actor_label=actor.label[:254],
        source=actor.source,
        address=actor.address,
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:254],
        organization_id=_organization_id(instance),
        changes=changes or {},
    )
