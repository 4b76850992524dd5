"""Channel management used by the API (and later the console): validate, create, change."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import ValidationError

from steward.audit import registry
from steward.notify import dispatch
from steward.notify.channels import TRANSPORTS
from steward.notify.message import Message, Severity
from steward.notify.models import Channel, Delivery, Status


class InvalidSettings(Exception):
    """A channel's config or secrets do not fit its kind; the message names the field."""


class DuplicateName(Exception):
    pass


def _first_error(prefix: str, error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in (prefix, *first.get("loc", ())))
    return f"{where}: {first.get('msg', 'invalid value')}"


def validate(
    kind: str, config: dict[str, Any], secrets: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both dictionaries checked against the kind's schemas, defaults filled in."""
    transport = TRANSPORTS.get(kind)
    if transport is None:
        raise InvalidSettings(f"kind: must be one of {', '.join(sorted(TRANSPORTS))}")
    try:
        clean_config = transport.Config.model_validate(config).model_dump()
    except ValidationError as e:
        raise InvalidSettings(_first_error("config", e)) from None
    try:
        clean_secrets = transport.Secrets.model_validate(secrets).model_dump()
    except ValidationError as e:
        raise InvalidSettings(_first_error("secrets", e)) from None
    if kind == "apprise":
        from steward.notify.channels.base import DeliveryError

        try:
            transport(clean_config, clean_secrets)
        except DeliveryError as e:
            raise InvalidSettings(f"secrets.url: {e.message.removeprefix('apprise: ')}") from None
    return clean_config, {k: v for k, v in clean_secrets.items() if v not in ("", None)}


def masked(channel: Channel) -> dict[str, str]:
    return TRANSPORTS[channel.kind].mask(channel.secrets or {})


def create_channel(
    organization_id: int,
    name: str,
    kind: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
    enabled: bool = True,
    max_attempts: int = 5,
    created_by=None,
) -> tuple[Channel, dict[str, str]]:
    """The new channel and any secrets the server generated (to show once, now)."""
    transport = TRANSPORTS.get(kind)
    if transport is not None:
        secrets, generated = transport.prepare_secrets(dict(secrets))
    else:
        generated = {}
    clean_config, clean_secrets = validate(kind, config, secrets)
    try:
        with transaction.atomic():
            channel = Channel.objects.create(
                organization_id=organization_id,
                name=name,
                kind=kind,
                config=clean_config,
                secrets=clean_secrets,
                enabled=enabled,
                max_attempts=max_attempts,
                created_by=created_by,
            )
    except IntegrityError:
        raise DuplicateName(f"a channel named '{name}' already exists here") from None
    return channel, generated


def update_channel(channel: Channel, changes: dict[str, Any]) -> Channel:
    """Apply a PATCH: ``config`` keys are merged; ``secrets`` keys set, or cleared by null."""
    config = {**channel.config, **(changes.get("config") or {})}
    secrets = dict(channel.secrets or {})
    for key, value in (changes.get("secrets") or {}).items():
        if value is None:
            secrets.pop(key, None)
        else:
            secrets[key] = value
    channel.config, channel.secrets = validate(channel.kind, config, secrets)
    for field in ("name", "enabled", "max_attempts"):
        if changes.get(field) is not None:
            setattr(channel, field, changes[field])
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError:
        raise DuplicateName(f"a channel named '{channel.name}' already exists here") from None
    return channel


def send_test(channel: Channel, requested_by: str) -> Delivery:
    """Send a test message right away (bounded by the channel's timeout) and return it.

    A failed test stays on the queue like any delivery, so the log shows the retries.
    """
    message = Message(
        subject=f"Steward test notification for '{channel.name}'",
        text=f"{requested_by} sent this test message to check the {channel.kind} channel "
        f"'{channel.name}'. If you can read it, the channel works.",
        severity=Severity.INFO,
        event_kind=dispatch.TEST_EVENT,
        labels={"channel": channel.name},
    )
    delivery = Delivery.objects.create(
        channel=channel,
        idempotency_key=message.idempotency_key,
        event_kind=message.event_kind,
        severity=message.severity.value,
        subject=message.subject,
        payload=message.as_dict(),
        max_attempts=channel.max_attempts,
        next_attempt_at=timezone.now(),
    )
    registry.write(channel, "test", {})
    dispatch.deliver(delivery.pk, me="api:test")
    delivery.refresh_from_db()
    return delivery


def retry(delivery: Delivery) -> Delivery:
    """Put a dead (or waiting) delivery back on the queue with a fresh budget of tries."""
    Delivery.objects.filter(pk=delivery.pk, status__in=[Status.DEAD, Status.FAILED]).update(
        status=Status.PENDING,
        next_attempt_at=timezone.now(),
        max_attempts=delivery.attempts + delivery.channel.max_attempts,
    )
    delivery.refresh_from_db()
    return delivery
