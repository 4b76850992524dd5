"""Configuring the email gateway: mailboxes and per-organization email settings.

The API and the console both change mailboxes and settings here, so the rules hold
whichever door is used:

* a mailbox's queues belong to the mailbox's organization;
* the password is write-only: ``None`` keeps the stored one (the console's empty field,
  an API body without ``password``), a string replaces it;
* CA certificates must load as PEM (checked by building the TLS context the poller uses);
* the email settings' channel is an *email* channel of the same organization.

Authorization (MANAGE in the organization) is the caller's job, through
``tenancy.scoping``, as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from steward.helpdesk.email import imap
from steward.helpdesk.email.errors import MailboxError
from steward.helpdesk.email.models import HelpdeskEmailSettings, Mailbox
from steward.helpdesk.errors import AlreadyExists, HelpdeskError
from steward.helpdesk.models import Queue
from steward.notify.models import Channel, Kind

MIN_POLL_INTERVAL = 10  # seconds; the job itself runs every 30 s
MAX_POLL_INTERVAL = 24 * 3600

# What may be set on a mailbox (besides ``password``, handled apart).
MAILBOX_FIELDS = (
    "address",
    "host",
    "port",
    "security",
    "username",
    "ca_certificates",
    "folder",
    "processed_folder",
    "poll_interval",
    "timeout",
    "enabled",
    "unknown_sender",
    "queue_id",
    "triage_queue_id",
)


def _first_error(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.message_dict.items()))
        return f"{field}: {errors[0]}"
    return exc.messages[0]


def _check_queue(organization_id: int, field: str, queue_id: int | None) -> None:
    if (
        queue_id is not None
        and not Queue.objects.filter(pk=queue_id, organization_id=organization_id).exists()
    ):
        raise HelpdeskError(f"{field}: no such queue in the organization")


def save_mailbox(mailbox: Mailbox, data: dict[str, Any]) -> Mailbox:
    """Apply ``data`` (keys of ``MAILBOX_FIELDS`` and ``password``) and save.

    Raises ``HelpdeskError`` (400) for an invalid value and ``AlreadyExists`` (409) when
    the organization has a mailbox with that address already.
    """
    unknown = set(data) - set(MAILBOX_FIELDS) - {"password"}
    if unknown:
        raise HelpdeskError(f"{sorted(unknown)[0]}: not a mailbox setting")
    for field in ("queue_id", "triage_queue_id"):
        if field in data:
            _check_queue(mailbox.organization_id, field, data[field])
    for field, value in data.items():
        if field == "password":
            if value is not None:  # None: keep the stored password
                mailbox.password = value
        elif value is not None or field in ("queue_id", "triage_queue_id"):
            setattr(mailbox, field, value)
    if not 1 <= mailbox.port <= 65535:
        raise HelpdeskError("port: between 1 and 65535")
    if not MIN_POLL_INTERVAL <= mailbox.poll_interval <= MAX_POLL_INTERVAL:
        raise HelpdeskError(
            f"poll_interval: between {MIN_POLL_INTERVAL} and {MAX_POLL_INTERVAL} seconds"
        )
    mailbox.address = mailbox.address.strip()
    mailbox.ca_certificates = mailbox.ca_certificates.strip()
    try:
        # Unique address: the database says it below (a check here would race).
        mailbox.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise HelpdeskError(_first_error(exc)) from None
    if mailbox.ca_certificates:
        try:
            imap.tls_context(mailbox.ca_certificates)
        except MailboxError as exc:
            raise HelpdeskError(exc.message) from None
    try:
        with transaction.atomic():
            mailbox.save()
    except IntegrityError:
        raise AlreadyExists("address: the organization has a mailbox with this address") from None
    return mailbox


@dataclass(frozen=True)
class ConnectionResult:
    """The outcome of a connection test, as shown to the admin."""

    ok: bool
    message: str
    messages: int | None = None


def try_connection(mailbox: Mailbox) -> ConnectionResult:
    """Connect, log in and open the folder read-only; touch no mail, change no row.

    The outcome is a value, not an exception: a failed test is an answer for the admin
    (the error text names the cause: certificate, login, unreachable, no such folder).
    """
    try:
        found = imap.probe(mailbox)
    except MailboxError as exc:
        return ConnectionResult(False, exc.message)
    message = (
        f"Connected to {mailbox.host}:{mailbox.port} and logged in as {mailbox.username}; "
        f"folder {mailbox.folder} holds {found.messages} message"
        f"{'' if found.messages == 1 else 's'}."
    )
    if found.processed_folder_exists is False:
        message += f" The folder {mailbox.processed_folder} does not exist yet: "
        message += "the first poll creates it."
    return ConnectionResult(True, message, found.messages)


def email_settings_of(organization_id: int) -> HelpdeskEmailSettings:
    """The organization's settings; unsaved defaults (no channel: no mail) when none."""
    found = (
        HelpdeskEmailSettings.objects.filter(organization_id=organization_id)
        .select_related("channel")
        .first()
    )
    return found or HelpdeskEmailSettings(organization_id=organization_id)


def email_channels(organization_id: int):
    """The channels that may send the organization's ticket mail."""
    return Channel.objects.filter(organization_id=organization_id, kind=Kind.EMAIL)


def save_email_settings(organization_id: int, data: dict[str, Any]) -> HelpdeskEmailSettings:
    """Replace the organization's email settings with ``data`` (``channel_id``,
    ``from_address``, ``from_name``, ``enabled``). Raises ``HelpdeskError``."""
    channel_id = data.get("channel_id")
    if channel_id is not None and not email_channels(organization_id).filter(pk=channel_id):
        raise HelpdeskError("channel_id: no such email channel in the organization")
    found = email_settings_of(organization_id)
    found.channel_id = channel_id
    found.from_address = (data.get("from_address") or "").strip()
    found.from_name = (data.get("from_name") or "").strip()
    found.enabled = bool(data.get("enabled", True))
    try:
        found.full_clean(exclude=["organization"], validate_unique=False)
    except ValidationError as exc:
        raise HelpdeskError(_first_error(exc)) from None
    with transaction.atomic():
        # One row per organization (OneToOne); a concurrent first save updates instead.
        HelpdeskEmailSettings.objects.update_or_create(
            organization_id=organization_id,
            defaults={
                "channel_id": found.channel_id,
                "from_address": found.from_address,
                "from_name": found.from_name,
                "enabled": found.enabled,
            },
        )
    return email_settings_of(organization_id)
