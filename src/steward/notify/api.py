"""API: notification channels, the delivery log, and the caller's own preferences.

Secrets are write-only: responses show which are set (``"********"``, or the scheme of an
apprise URL), never their values, except a secret the server generated, shown once in the
creation response.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ninja import Field, Query, Router, Schema, Status
from pydantic import field_validator

from steward.api.errors import bad_request, conflict
from steward.api.pagination import Page, paginate
from steward.notify import services
from steward.notify.message import Severity
from steward.notify.models import (
    Channel,
    ChannelHealth,
    Delivery,
    DeliveryAttempt,
    NotificationPreference,
)
from steward.notify.models import Status as DeliveryStatus
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import get_for, scoped

router = Router(tags=["notifications"])

KindName = Literal["email", "webhook", "apprise"]


class HealthOut(Schema):
    state: str
    consecutive_failures: int
    failing_since: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str

    @staticmethod
    def of(health: ChannelHealth | None) -> HealthOut:
        if health is None:
            return HealthOut(
                state="ok",
                consecutive_failures=0,
                failing_since=None,
                last_success_at=None,
                last_failure_at=None,
                last_error="",
            )
        return HealthOut(
            state=health.state,
            consecutive_failures=health.consecutive_failures,
            failing_since=health.failing_since,
            last_success_at=health.last_success_at,
            last_failure_at=health.last_failure_at,
            last_error=health.last_error,
        )


class ChannelOut(Schema):
    id: int
    organization_id: int
    name: str
    kind: str
    enabled: bool
    max_attempts: int
    config: dict[str, Any]
    secrets: dict[str, str]
    health: HealthOut
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def of(c: Channel) -> ChannelOut:
        return ChannelOut(
            id=c.pk,
            organization_id=c.organization_id,
            name=c.name,
            kind=c.kind,
            enabled=c.enabled,
            max_attempts=c.max_attempts,
            config=c.config,
            secrets=services.masked(c),
            health=HealthOut.of(getattr(c, "health", None)),
            created_by_id=c.created_by_id,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class ChannelCreated(ChannelOut):
    generated_secrets: dict[str, str]


class ChannelIn(Schema):
    organization_id: int
    name: str = Field(min_length=1, max_length=200)
    kind: KindName
    config: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    enabled: bool = True
    max_attempts: int = Field(5, ge=1, le=20)


class ChannelPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None
    secrets: dict[str, str | None] | None = None
    enabled: bool | None = None
    max_attempts: int | None = Field(None, ge=1, le=20)


class ChannelFilter(Schema):
    organization_id: int | None = None
    kind: str = ""
    limit: int = 100
    offset: int = 0


class AttemptOut(Schema):
    number: int
    started_at: datetime
    duration_ms: int
    ok: bool
    permanent: bool
    error: str


class DeliveryOut(Schema):
    id: int
    message_id: str
    channel_id: int
    channel: str
    organization_id: int
    idempotency_key: str
    event_kind: str
    severity: str
    subject: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_error: str
    sent_at: datetime | None
    created_at: datetime

    @staticmethod
    def of(d: Delivery) -> DeliveryOut:
        return DeliveryOut(
            id=d.pk,
            message_id=str(d.message_id),
            channel_id=d.channel_id,
            channel=d.channel.name,
            organization_id=d.channel.organization_id,
            idempotency_key=d.idempotency_key,
            event_kind=d.event_kind,
            severity=d.severity,
            subject=d.subject,
            status=d.status,
            attempts=d.attempts,
            max_attempts=d.max_attempts,
            next_attempt_at=d.next_attempt_at,
            last_error=d.last_error,
            sent_at=d.sent_at,
            created_at=d.created_at,
        )


class DeliveryDetailOut(DeliveryOut):
    text: str
    attempt_log: list[AttemptOut]

    @staticmethod
    def of(d: Delivery) -> DeliveryDetailOut:  # type: ignore[override]
        attempts: list[DeliveryAttempt] = list(d.attempt_log.all())
        return DeliveryDetailOut(
            **DeliveryOut.of(d).dict(),
            text=str(d.payload.get("text", "")),
            attempt_log=[
                AttemptOut(
                    number=a.number,
                    started_at=a.started_at,
                    duration_ms=a.duration_ms,
                    ok=a.ok,
                    permanent=a.permanent,
                    error=a.error,
                )
                for a in attempts
            ],
        )


class DeliveryFilter(Schema):
    organization_id: int | None = None
    channel_id: int | None = None
    status: DeliveryStatus | None = None
    event_kind: str = ""
    limit: int = 100
    offset: int = 0


class PreferencesIO(Schema):
    email_enabled: bool = True
    severities: list[Severity] = [Severity.WARNING, Severity.CRITICAL, Severity.OK]
    event_kinds: list[str] = Field(default_factory=list, max_length=50)
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    timezone: str = Field("UTC", max_length=64)
    critical_during_quiet_hours: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value

    @staticmethod
    def of(p: NotificationPreference) -> PreferencesIO:
        return PreferencesIO(
            email_enabled=p.email_enabled,
            severities=p.severities,
            event_kinds=p.event_kinds,
            quiet_hours_start=p.quiet_hours_start,
            quiet_hours_end=p.quiet_hours_end,
            timezone=p.timezone,
            critical_during_quiet_hours=p.critical_during_quiet_hours,
        )


def channel_queryset():
    return Channel.objects.select_related("health")


def delivery_queryset():
    return Delivery.objects.select_related("channel")


@router.get("/channels", response=Page[ChannelOut])
def list_channels(request, filters: Query[ChannelFilter]):
    qs = scoped(channel_queryset(), request.auth)
    if filters.organization_id is not None:
        qs = qs.filter(organization_id=filters.organization_id)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    return paginate(qs, filters.limit, filters.offset, ChannelOut.of)


@router.post("/channels", response={201: ChannelCreated})
def create_channel(request, body: ChannelIn):
    org = get_for(Organization.objects, request.auth, Capability.MANAGE, pk=body.organization_id)
    try:
        channel, generated = services.create_channel(
            org.pk,
            body.name,
            body.kind,
            body.config,
            body.secrets,
            enabled=body.enabled,
            max_attempts=body.max_attempts,
            created_by=request.auth.user,
        )
    except services.InvalidSettings as e:
        raise bad_request(str(e)) from None
    except services.DuplicateName as e:
        raise conflict(str(e)) from None
    out = ChannelOut.of(get_for(channel_queryset(), request.auth, pk=channel.pk))
    return Status(201, ChannelCreated(**out.dict(), generated_secrets=generated))


@router.get("/channels/{channel_id}", response=ChannelOut)
def get_channel(request, channel_id: int):
    return ChannelOut.of(get_for(channel_queryset(), request.auth, pk=channel_id))


@router.patch("/channels/{channel_id}", response=ChannelOut)
def update_channel(request, channel_id: int, body: ChannelPatch):
    channel = get_for(channel_queryset(), request.auth, Capability.MANAGE, pk=channel_id)
    try:
        services.update_channel(channel, body.dict(exclude_unset=True))
    except services.InvalidSettings as e:
        raise bad_request(str(e)) from None
    except services.DuplicateName as e:
        raise conflict(str(e)) from None
    return ChannelOut.of(get_for(channel_queryset(), request.auth, pk=channel_id))


@router.delete("/channels/{channel_id}", response={204: None})
def delete_channel(request, channel_id: int):
    get_for(Channel.objects, request.auth, Capability.MANAGE, pk=channel_id).delete()
    return Status(204, None)


@router.post("/channels/{channel_id}/test", response=DeliveryDetailOut)
def test_channel(request, channel_id: int):
    """Send a test message now; the answer shows whether it was delivered, and why not."""
    channel = get_for(Channel.objects, request.auth, Capability.MANAGE, pk=channel_id)
    delivery = services.send_test(channel, request.auth.user.email)
    return DeliveryDetailOut.of(get_for(delivery_queryset(), request.auth, pk=delivery.pk))


@router.get("/deliveries", response=Page[DeliveryOut])
def list_deliveries(request, filters: Query[DeliveryFilter]):
    qs = scoped(delivery_queryset(), request.auth)
    if filters.organization_id is not None:
        qs = qs.filter(channel__organization_id=filters.organization_id)
    if filters.channel_id is not None:
        qs = qs.filter(channel_id=filters.channel_id)
    if filters.status is not None:
        qs = qs.filter(status=filters.status)
    if filters.event_kind:
        qs = qs.filter(event_kind=filters.event_kind)
    return paginate(qs, filters.limit, filters.offset, DeliveryOut.of)


@router.get("/deliveries/{delivery_id}", response=DeliveryDetailOut)
def get_delivery(request, delivery_id: int):
    qs = delivery_queryset().prefetch_related("attempt_log")
    return DeliveryDetailOut.of(get_for(qs, request.auth, pk=delivery_id))


@router.post("/deliveries/{delivery_id}/retry", response=DeliveryOut)
def retry_delivery(request, delivery_id: int):
    delivery = get_for(delivery_queryset(), request.auth, Capability.OPERATE, pk=delivery_id)
    if delivery.status not in (DeliveryStatus.DEAD, DeliveryStatus.FAILED):
        raise bad_request(
            f"only failed or dead deliveries can be retried (this one is {delivery.status})"
        )
    return DeliveryOut.of(services.retry(delivery))


@router.get("/me/notification-preferences", response=PreferencesIO)
def get_preferences(request):
    user = request.auth.user
    found = NotificationPreference.objects.filter(user=user).first()
    return PreferencesIO.of(found or NotificationPreference(user=user))


@router.put("/me/notification-preferences", response=PreferencesIO)
def put_preferences(request, body: PreferencesIO):
    if (body.quiet_hours_start is None) != (body.quiet_hours_end is None):
        raise bad_request("quiet_hours_start and quiet_hours_end go together")
    data = body.dict()
    data["severities"] = [Severity(s).value for s in data["severities"]]
    pref, _ = NotificationPreference.objects.get_or_create(user=request.auth.user)
    for key, value in data.items():
        setattr(pref, key, value)
    pref.save()
    return PreferencesIO.of(pref)
