"""Automatic mail that must never open or touch a ticket: auto-replies, bulk mail, bounces.

Answering automatic mail is how mail loops start (an out-of-office answering our
acknowledgement, which answers the out-of-office...). Signals, with their sources:

* ``Auto-Submitted`` other than ``no`` — RFC 3834 §5: auto-replied, auto-generated, ...
* ``X-Auto-Response-Suppress`` — set by Exchange/Outlook on its own automatic messages
  (out-of-office, receipts); ordinary mail does not carry it.
* ``X-Autoreply``, ``X-Autorespond`` — older responders (vacation, some webmail).
* ``Precedence: bulk | junk | list`` — RFC 2076 §3.9; what vacation(1) honours.
* Bounces: an empty envelope sender (``Return-Path: <>``, RFC 5321 §4.5.5), a sender
  ``MAILER-DAEMON``/``postmaster``, or a delivery status report (``multipart/report``,
  RFC 6522).

Pure: takes the header values, returns the reason or ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping

BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})
DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})


def automatic_reason(
    headers: Mapping[str, str], from_address: str, content_type: str
) -> str | None:
    """Why the message is automatic (a short stable word), or ``None`` for a human's mail.

    ``headers`` maps lower-case header names to their (first) value.
    """
    auto_submitted = headers.get("auto-submitted", "").strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return "auto-submitted"
    if headers.get("x-auto-response-suppress", "").strip():
        return "auto-response-suppress"
    if headers.get("x-autoreply") or headers.get("x-autorespond"):
        return "autoreply"
    if headers.get("precedence", "").strip().lower() in BULK_PRECEDENCE:
        return "precedence"
    return_path = headers.get("return-path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return "bounce"
    if from_address.split("@")[0].lower() in DAEMON_LOCAL_PARTS:
        return "bounce"
    if content_type.lower() == "multipart/report":
        return "bounce"
    return None
