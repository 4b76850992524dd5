"""Ticket attachments on disk: size and type limits, scoped access.

Files live under ``STEWARD_HOME/attachments/<organization id>/<uuid>``: the name on disk
is never the uploader's, so a crafted file name cannot escape the directory. Executables
are refused by extension *and* by content (a renamed ``.exe`` still starts with "MZ").
The console serves files through ``open_attachment()`` only, always as a download.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from steward.helpdesk.errors import AttachmentRejected
from steward.helpdesk.models import Attachment, Reply, Ticket
from steward.helpdesk.visibility import get_ticket, is_staff_in, may_reply_publicly
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import NotFound, Principal

MAX_BYTES = 20 * 1024 * 1024
CHUNK = 64 * 1024
DENIED_EXTENSIONS = frozenset(
    [
        "exe",
        "dll",
        "com",
        "scr",
        "pif",
        "cpl",
        "msi",
        "msp",
        "msc",
        "bat",
        "cmd",
        "ps1",
        "psm1",
        "vbs",
        "vbe",
        "js",
        "jse",
        "wsf",
        "wsh",
        "hta",
        "jar",
        "lnk",
        "reg",
        "sh",
        "bash",
        "csh",
        "ksh",
        "app",
        "dmg",
        "pkg",
        "deb",
        "rpm",
        "apk",
        "elf",
        "bin",
        "run",
        "iso",
        "img",
        "gadget",
        "inf",
        "scf",
        "sys",
        "drv",
        "ocx",
    ]
)
# Leading bytes of executable formats: PE (MZ), ELF, Mach-O (both endians, 32/64, fat),
# and "#!" scripts.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xfe\xed\xfa\xce", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O universal binary or Java class"),
    (b"#!", "a script"),
)
# Types a browser may show inline; everything else is served as application/octet-stream.
INLINE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
)


class Upload(Protocol):
    name: str | None

    def chunks(self, chunk_size: int | None = None): ...


def max_bytes() -> int:
    return int(settings.STEWARD.get("attachment_max_bytes", MAX_BYTES))


def storage_root() -> Path:
    return Path(settings.STEWARD_HOME) / "attachments"


def path_of(attachment: Attachment) -> Path:
    return storage_root() / str(attachment.ticket.organization_id) / str(attachment.uuid)


def clean_filename(name: str | None) -> str:
    base = os.path.basename((name or "").replace("\\", "/")).strip().strip(".")
    base = "".join(c for c in base if c.isprintable() and c not in '<>:"|?*')
    return base[:255] or "attachment"


def check_name(filename: str) -> None:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix in DENIED_EXTENSIONS:
        raise AttachmentRejected(f"file: .{suffix} files are not accepted (executable)")


def check_content(head: bytes) -> None:
    for magic, what in SIGNATURES:
        if head.startswith(magic):
            raise AttachmentRejected(f"file: looks like {what}; executables are not accepted")


def save_attachment(
    principal: Principal | None,
    ticket: Ticket,
    upload: Upload,
    *,
    reply: Reply | None = None,
    now: datetime | None = None,
) -> Attachment:
    """Store an uploaded file on a ticket (or one of its replies)."""
    org = ticket.organization_id
    if principal is not None:
        internal = reply is not None and not reply.public
        if internal or not may_reply_publicly(principal, ticket):
            principal.require(Capability.OPERATE, org)
    if reply is not None and reply.ticket_id != ticket.pk:
        raise AttachmentRejected("reply: not a reply of this ticket")
    filename = clean_filename(upload.name)
    check_name(filename)
    limit = max_bytes()
    folder = storage_root() / str(org)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    attachment = Attachment(
        ticket=ticket,
        reply=reply,
        filename=filename,
        uploaded_by=principal.user if principal else None,
        created_at=now or timezone.now(),
    )
    final = folder / str(attachment.uuid)
    partial = final.with_suffix(".part")
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with open(partial, "xb") as out:
            for chunk in upload.chunks(CHUNK):
                if len(head) < 512:
                    head += chunk[: 512 - len(head)]
                    if len(head) >= 4 or not chunk:
                        check_content(head)
                size += len(chunk)
                if size > limit:
                    raise AttachmentRejected(f"file: larger than {limit // (1024 * 1024)} MiB")
                digest.update(chunk)
                out.write(chunk)
        check_content(head)
        if size == 0:
            raise AttachmentRejected("file: empty")
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    attachment.content_type = guessed[:100]
    attachment.size = size
    attachment.sha256 = digest.hexdigest()
    try:
        with transaction.atomic():
            attachment.save()
    except Exception:
        final.unlink(missing_ok=True)
        raise
    return attachment


def visible_attachments(principal: Principal, ticket: Ticket) -> QuerySet[Attachment]:
    qs = Attachment.objects.filter(ticket=ticket).select_related("ticket")
    if not is_staff_in(principal, ticket.organization_id):
        qs = qs.filter(Q(reply__isnull=True) | Q(reply__public=True))
    return qs


def get_attachment(principal: Principal, attachment_id: int, ticket_id: int | None = None):
    """One attachment the principal may read (``NotFound`` otherwise)."""
    att = Attachment.objects.filter(pk=attachment_id).only("ticket_id").first()
    if att is None or (ticket_id is not None and att.ticket_id != ticket_id):
        raise NotFound
    ticket = get_ticket(principal, att.ticket_id)
    found = visible_attachments(principal, ticket).filter(pk=attachment_id).first()
    if found is None:
        raise NotFound
    return found


def open_attachment(principal: Principal, attachment_id: int) -> tuple[Attachment, BinaryIO]:
    """The attachment and its open file, for a download view (caller closes the file)."""
    att = get_attachment(principal, attachment_id)
    try:
        return att, open(path_of(att), "rb")
    except FileNotFoundError:
        raise NotFound from None


def served_content_type(attachment: Attachment) -> str:
    """What to send as Content-Type: only harmless types keep theirs."""
    if attachment.content_type in INLINE_TYPES:
        return attachment.content_type
    return "application/octet-stream"


def delete_file(attachment: Attachment) -> None:
    path_of(attachment).unlink(missing_ok=True)
