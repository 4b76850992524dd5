"""Typed errors of the email gateway.

``permanent`` says that trying again cannot help (a refused login, a certificate that does
not verify): the mailbox shows the error until someone fixes its settings. Everything else
(a refused connection, a timeout) is expected to pass on its own.
"""

from __future__ import annotations


class MailboxError(Exception):
    """Polling a mailbox failed as a whole."""

    permanent = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MailboxUnreachable(MailboxError):
    """The server could not be reached or stopped answering."""


class MailboxTlsError(MailboxError):
    """TLS failed: most often a certificate that does not verify against the trusted CAs."""

    permanent = True


class MailboxLoginFailed(MailboxError):
    permanent = True


class MailboxProtocolError(MailboxError):
    """The server refused a command (no such folder, ...)."""

    permanent = True


class MalformedMessage(Exception):
    """A message that cannot be parsed at all; it is recorded and skipped."""
