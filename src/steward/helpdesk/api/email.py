"""API: the email gateway's mailboxes and per-organization email settings.

Everything here needs MANAGE in the organization (admins and owners), reading included:
a mailbox names a mail server and an account. The password is write-only — answers say
only ``password_set`` — and the connection test reports in its body, never by status.
"""

from __future__ import annotations

from datetime import datetime

from ninja import Field, Router, Schema, Status

from steward.api.pagination import Page, paginate
from steward.helpdesk.email import config
from steward.helpdesk.email.models import HelpdeskEmailSettings, Mailbox, Security, UnknownSender
from steward.tenancy.models import Organization
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import get_for, scoped

router = Router(tags=["helpdesk"])


class MailboxOut(Schema):
    id: int
    organization_id: int
    address: str
    host: str
    port: int
    security: Security
    username: str
    password_set: bool
    ca_certificates: str
    folder: str
    processed_folder: str
    poll_interval: int
    timeout: float
    enabled: bool
    unknown_sender: UnknownSender
    queue_id: int | None
    triage_queue_id: int | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str
    created_at: datetime

    @staticmethod
    def of(m: Mailbox) -> MailboxOut:
        data = {f: getattr(m, f) for f in MailboxOut.model_fields if f != "password_set"}
        return MailboxOut(**data, password_set=bool(m.password))


class MailboxPatch(Schema):
    address: str | None = Field(None, min_length=3, max_length=254)
    host: str | None = Field(None, min_length=1, max_length=255)
    port: int | None = Field(None, ge=1, le=65535)
    security: Security | None = None
    username: str | None = Field(None, min_length=1, max_length=255)
    password: str | None = Field(None, max_length=1000, description="Write-only.")
    ca_certificates: str | None = Field(None, max_length=100_000)
    folder: str | None = Field(None, min_length=1, max_length=255)
    processed_folder: str | None = Field(None, max_length=255)
    poll_interval: int | None = Field(
        None, ge=config.MIN_POLL_INTERVAL, le=config.MAX_POLL_INTERVAL
    )
    timeout: float | None = Field(None, ge=1, le=300)
    enabled: bool | None = None
    unknown_sender: UnknownSender | None = None
    queue_id: int | None = None
    triage_queue_id: int | None = None


class MailboxIn(MailboxPatch):
    organization_id: int
    address: str = Field(min_length=3, max_length=254)  # type: ignore[assignment]
    host: str = Field(min_length=1, max_length=255)  # type: ignore[assignment]
    username: str = Field(min_length=1, max_length=255)  # type: ignore[assignment]


class ConnectionTestOut(Schema):
    ok: bool
    message: str
    messages: int | None


@router.get("/helpdesk/mailboxes", response=Page[MailboxOut])
def list_mailboxes(request, organization_id: int | None = None, limit: int = 100, offset: int = 0):
    qs = scoped(Mailbox.objects.all(), request.auth, Capability.MANAGE)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return paginate(qs, limit, offset, MailboxOut.of)


@router.post("/helpdesk/mailboxes", response={201: MailboxOut})
def create_mailbox(request, body: MailboxIn):
    data = body.dict()
    org = get_for(
        Organization.objects, request.auth, Capability.MANAGE, pk=data.pop("organization_id")
    )
    mailbox = config.save_mailbox(Mailbox(organization=org), data)
    return Status(201, MailboxOut.of(mailbox))


def _mailbox(request, mailbox_id: int) -> Mailbox:
    return get_for(Mailbox.objects.all(), request.auth, Capability.MANAGE, pk=mailbox_id)


@router.get("/helpdesk/mailboxes/{mailbox_id}", response=MailboxOut)
def get_mailbox(request, mailbox_id: int):
    return MailboxOut.of(_mailbox(request, mailbox_id))


@router.patch("/helpdesk/mailboxes/{mailbox_id}", response=MailboxOut)
def update_mailbox(request, mailbox_id: int, body: MailboxPatch):
    mailbox = _mailbox(request, mailbox_id)
    return MailboxOut.of(config.save_mailbox(mailbox, body.dict(exclude_unset=True)))


@router.delete("/helpdesk/mailboxes/{mailbox_id}", response={204: None})
def delete_mailbox(request, mailbox_id: int):
    _mailbox(request, mailbox_id).delete()
    return Status(204, None)


@router.post("/helpdesk/mailboxes/{mailbox_id}/test", response=ConnectionTestOut)
def test_mailbox(request, mailbox_id: int):
    """Connect, log in and open the folder read-only. A failure is ``ok: false`` with the
    reason (200): the request worked, the mailbox did not."""
    result = config.try_connection(_mailbox(request, mailbox_id))
    return ConnectionTestOut(ok=result.ok, message=result.message, messages=result.messages)


class EmailSettingsOut(Schema):
    organization_id: int
    configured: bool
    channel_id: int | None
    from_address: str
    from_name: str
    enabled: bool

    @staticmethod
    def of(s: HelpdeskEmailSettings) -> EmailSettingsOut:
        return EmailSettingsOut(
            organization_id=s.organization_id,
            configured=s.pk is not None,
            channel_id=s.channel_id,
            from_address=s.from_address,
            from_name=s.from_name,
            enabled=s.enabled,
        )


class EmailSettingsIn(Schema):
    channel_id: int | None = None
    from_address: str = Field("", max_length=254)
    from_name: str = Field("", max_length=100)
    enabled: bool = True


@router.get("/helpdesk/email-settings/{org_id}", response=EmailSettingsOut)
def get_email_settings(request, org_id: int):
    org = get_for(Organization.objects, request.auth, Capability.MANAGE, pk=org_id)
    return EmailSettingsOut.of(config.email_settings_of(org.pk))


@router.put("/helpdesk/email-settings/{org_id}", response=EmailSettingsOut)
def put_email_settings(request, org_id: int, body: EmailSettingsIn):
    org = get_for(Organization.objects, request.auth, Capability.MANAGE, pk=org_id)
    return EmailSettingsOut.of(config.save_email_settings(org.pk, body.dict()))


__all__ = ["router"]
