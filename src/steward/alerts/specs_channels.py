"""Channels in monitoring files: ``steward.notify`` channels, validated by its services.

Secrets are write-only: ``export`` never writes them, and ``apply`` keeps the stored ones
when an item gives none (so re-applying an exported file does not wipe a password).
``url`` at the top level of a webhook item is a shortcut for ``config.url``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from steward.alerts.specs import Clean, Context, Invalid, boolean, integer, keys, mapping, text
from steward.notify import services
from steward.notify.channels import TRANSPORTS
from steward.notify.models import Channel


def clean_channel(item: Mapping[str, Any], ctx: Context) -> Clean:
    keys(item, {"name", "kind", "url", "to", "config", "secrets", "enabled", "max_attempts"})
    name = text(item.get("name"), "name", max_len=200)
    kind = item.get("kind")
    if kind not in TRANSPORTS:
        raise Invalid("kind", f"must be one of: {', '.join(sorted(TRANSPORTS))}")
    config = mapping(item.get("config"), "config")
    if item.get("url") is not None:
        config["url"] = text(item["url"], "url", max_len=2000)
    if item.get("to") is not None:
        config["to"] = item["to"]
    secrets = mapping(item.get("secrets"), "secrets")
    existing = Channel.objects.filter(organization_id=ctx.organization_id, name=name).first()
    merged_secrets = {**(existing.secrets if existing else {}), **secrets}
    if existing is None and kind == "webhook" and "secret" not in merged_secrets:
        merged_secrets, _ = TRANSPORTS[kind].prepare_secrets(merged_secrets)
    try:
        clean_config, clean_secrets = services.validate(kind, config, merged_secrets)
    except services.InvalidSettings as exc:
        where, _, message = str(exc).partition(": ")
        if where == "config.url" and "url" in item:
            where = "url"
        raise Invalid(where, message or str(exc)) from None
    return Clean(name, {"kind": kind, "config": clean_config,
                        "enabled": boolean(item.get("enabled"), "enabled", True),
                        "max_attempts": integer(item.get("max_attempts"), "max_attempts", 5, 1,
                                                20)},
                 extra={"secrets": clean_secrets})  # fmt: skip


def export_channel(obj: Channel) -> dict[str, Any]:
    config = dict(obj.config)
    out: dict[str, Any] = {"name": obj.name, "kind": obj.kind}
    if obj.kind == "webhook" and "url" in config:
        out["url"] = config.pop("url")
    if config:
        out["config"] = config
    out["enabled"] = obj.enabled
    if obj.max_attempts != 5:
        out["max_attempts"] = obj.max_attempts
    return out


def upsert_channel(ctx: Context, clean: Clean) -> tuple[Channel, str]:
    obj = Channel.objects.filter(organization_id=ctx.organization_id, name=clean.name).first()
    secrets = clean.extra["secrets"]
    if obj is None:
        obj = Channel.objects.create(
            organization_id=ctx.organization_id, name=clean.name, secrets=secrets, **clean.fields
        )
        return obj, "created"
    changed = {k: v for k, v in clean.fields.items() if getattr(obj, k) != v}
    if secrets != (obj.secrets or {}):
        changed["secrets"] = secrets
    if not changed:
        return obj, "unchanged"
    if clean.fields["kind"] != obj.kind:
        raise Invalid("kind", "cannot change the kind of an existing channel")
    for k, v in changed.items():
        setattr(obj, k, v)
    obj.save()
    return obj, "updated"
