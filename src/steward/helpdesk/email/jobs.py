"""The email gateway's worker jobs, for the table in ``steward.jobs.schedule``."""

from __future__ import annotations

from steward.helpdesk.email.inbound import poll_mailboxes
from steward.helpdesk.email.outbound import send_ticket_email

__all__ = ["poll_mailboxes", "send_ticket_email"]
