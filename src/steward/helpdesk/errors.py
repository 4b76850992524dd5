"""Typed errors of the help desk services.

They are ``ApiError``s, so the API's one error handler answers them (400 / 409) with a
stable message; the console and the email gateway catch ``HelpdeskError``.
"""

from __future__ import annotations

from steward.api.errors import ApiError


class HelpdeskError(ApiError):
    """A request the rules refuse (400)."""

    status_code, error_code = 400, "invalid_request"

    def __init__(self, detail: str) -> None:
        super().__init__(self.status_code, self.error_code, detail)


class InvalidState(HelpdeskError):
    """The ticket's state does not allow the action (409)."""

    status_code, error_code = 409, "invalid_state"


class AttachmentRejected(HelpdeskError):
    """The file is too large, empty or of a forbidden kind (400)."""

    error_code = "attachment_rejected"


class AlreadyExists(HelpdeskError):
    """An object with the same unique key exists already (409)."""

    status_code, error_code = 409, "conflict"
