"""The IMAP client facade: connect with verified TLS, list unseen mail, fetch, mark done.

Only TLS connections: implicit TLS (port 993) or STARTTLS (143); a server without
STARTTLS is refused rather than spoken to in plaintext. Certificates are verified with
hostname checking (``ssl.create_default_context``); a mailbox may bring its own CA
certificates (PEM) for a private CA, and then only those are trusted.

Messages are addressed by UID (RFC 3501 §2.3.1.1) and read with ``BODY.PEEK[]`` so that
fetching alone never marks them seen: a message is marked ``\\Seen`` (and moved, when the
mailbox has a ``processed_folder``) only after it was processed.
"""

from __future__ import annotations

import imaplib
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from steward.helpdesk.email.errors import (
    MailboxError,
    MailboxLoginFailed,
    MailboxProtocolError,
    MailboxTlsError,
    MailboxUnreachable,
)
from steward.helpdesk.email.models import Mailbox, Security

_FETCH_SIZE = re.compile(rb"UID (\d+).*RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+).*UID (\d+)")


@dataclass(frozen=True)
class Unseen:
    uid: str
    size: int


def tls_context(ca_certificates: str = "") -> ssl.SSLContext:
    """A verifying client context: the system's CAs, or only the given PEM certificates."""
    try:
        context = ssl.create_default_context(cadata=ca_certificates or None)
    except ssl.SSLError as e:
        raise MailboxTlsError(f"ca_certificates: not usable PEM certificates ({e})") from e
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def quote(name: str) -> str:
    """A mailbox name as an IMAP quoted string (imaplib sends arguments verbatim)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Session:
    """A logged-in connection with the mailbox's folder selected."""

    def __init__(self, mailbox: Mailbox, client: imaplib.IMAP4) -> None:
        self.mailbox = mailbox
        self.client = client

    def _ok(self, what: str, result: tuple[str, list]) -> list:
        status, data = result
        if status != "OK":
            detail = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
            raise MailboxProtocolError(f"imap {what}: {detail or status}")
        return data

    def unseen(self, limit: int) -> list[Unseen]:
        """Up to ``limit`` unseen messages, oldest first, with their sizes."""
        data = self._ok("search", self.client.uid("SEARCH", None, "UNSEEN"))
        uids = (data[0] or b"").split()[:limit]
        if not uids:
            return []
        fetched = self._ok("fetch", self.client.uid("FETCH", b",".join(uids), "(RFC822.SIZE)"))
        sizes: dict[str, int] = {}
        for item in fetched:
            line = item[0] if isinstance(item, tuple) else item
            match = _FETCH_SIZE.search(line or b"")
            if match:
                uid = match.group(1) or match.group(4)
                size = match.group(2) or match.group(3)
                sizes[uid.decode()] = int(size)
        return [Unseen(uid.decode(), sizes.get(uid.decode(), 0)) for uid in uids]

    def fetch(self, uid: str) -> bytes:
        data = self._ok("fetch", self.client.uid("FETCH", uid, "(BODY.PEEK[])"))
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        raise MailboxProtocolError(f"imap fetch: message {uid} has no body (expunged?)")

    def done(self, uid: str) -> None:
        """Mark processed: seen, and moved to ``processed_folder`` when there is one."""
        self._ok("store", self.client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen)"))
        target = self.mailbox.processed_folder
        if not target:
            return
        if b"MOVE" in self._capabilities():
            self._ok("move", self.client.uid("MOVE", uid, quote(target)))
        else:  # RFC 6851 absent: copy, flag deleted, expunge
            self._ok("copy", self.client.uid("COPY", uid, quote(target)))
            self._ok("store", self.client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"))
            self._ok("expunge", self.client.expunge())

    def _capabilities(self) -> bytes:
        return b" ".join(c.encode() if isinstance(c, str) else c for c in self.client.capabilities)

    def ensure_folder(self, name: str) -> None:
        status, _ = self.client.create(quote(name))  # NO when it exists: fine either way
        del status


def _connect(mailbox: Mailbox) -> imaplib.IMAP4:
    context = tls_context(mailbox.ca_certificates)
    timeout = mailbox.timeout
    if mailbox.security == Security.SSL:
        return imaplib.IMAP4_SSL(mailbox.host, mailbox.port, ssl_context=context, timeout=timeout)
    client = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=timeout)
    try:
        client.starttls(ssl_context=context)
    except imaplib.IMAP4.error as e:
        client.shutdown()
        raise MailboxTlsError(f"imap: the server does not offer STARTTLS ({e})") from e
    except BaseException:
        client.shutdown()
        raise
    return client


@contextmanager
def _logged_in(mailbox: Mailbox) -> Iterator[imaplib.IMAP4]:
    """Connect and log in; always log out. Maps every failure to a ``MailboxError``."""
    try:
        client = _connect(mailbox)
    except ssl.SSLCertVerificationError as e:
        raise MailboxTlsError(f"imap: certificate not trusted: {e.verify_message}") from e
    except ssl.SSLError as e:
        raise MailboxTlsError(f"imap: TLS failed: {e}") from e
    except TimeoutError as e:
        raise MailboxUnreachable(f"imap: timed out after {mailbox.timeout:g}s") from e
    except OSError as e:
        raise MailboxUnreachable(f"imap: {e}") from e
    except imaplib.IMAP4.error as e:
        raise MailboxProtocolError(f"imap: {e}") from e
    try:
        try:
            client.login(mailbox.username, mailbox.password)
        except imaplib.IMAP4.error as e:
            raise MailboxLoginFailed(f"imap login refused: {e}") from e
        yield client
    except MailboxError:
        raise
    except TimeoutError as e:
        raise MailboxUnreachable(f"imap: timed out after {mailbox.timeout:g}s") from e
    except (OSError, imaplib.IMAP4.abort) as e:
        raise MailboxUnreachable(f"imap: connection lost: {e}") from e
    except imaplib.IMAP4.error as e:
        raise MailboxProtocolError(f"imap: {e}") from e
    finally:
        with suppress(OSError, imaplib.IMAP4.error):  # already gone: nothing to clean up
            client.logout()


@contextmanager
def session(mailbox: Mailbox) -> Iterator[Session]:
    """Connect, log in and select the mailbox's folder; always log out.

    Raises ``MailboxError`` subclasses only: TLS and certificate failures as
    ``MailboxTlsError``, a refused login as ``MailboxLoginFailed``, network trouble as
    ``MailboxUnreachable``.
    """
    with _logged_in(mailbox) as client:
        box = Session(mailbox, client)
        if mailbox.processed_folder:
            box.ensure_folder(mailbox.processed_folder)
        box._ok("select", client.select(quote(mailbox.folder)))
        yield box


@dataclass(frozen=True)
class Probe:
    """What a connection test found: messages in the folder; whether the processed folder
    exists (``None`` without one; a missing one is created by the first poll)."""

    messages: int
    processed_folder_exists: bool | None


def probe(mailbox: Mailbox) -> Probe:
    """Connect, log in and open the folder read-only (EXAMINE, RFC 3501 §6.3.2): no flag
    changes, no folder created, no message read. Raises ``MailboxError`` like ``session``."""
    with _logged_in(mailbox) as client:
        box = Session(mailbox, client)
        data = box._ok("examine", client.select(quote(mailbox.folder), readonly=True))
        first = data[0] if data else b""
        messages = int(first) if isinstance(first, bytes) and first.isdigit() else 0
        exists = None
        if mailbox.processed_folder:
            listed = box._ok("list", client.list('""', quote(mailbox.processed_folder)))
            exists = any(item for item in listed if item)
        return Probe(messages, exists)
