"""Ticket references in subjects, ``[#ACME-12]``: the organization's slug and the number.

The prefix keeps two organizations' "#12" apart in a person's inbox and lets the gateway
refuse a reference to another organization's ticket. ``[#12]`` alone is accepted too: a
mailbox belongs to one organization, so the number is enough to find the ticket.
"""

from __future__ import annotations

import re

REFERENCE = re.compile(r"\[#(?:([A-Za-z0-9][A-Za-z0-9-]*)-)?(\d{1,9})\]")


def prefix_of(slug: str) -> str:
    return slug.upper()


def reference(slug: str, number: int) -> str:
    return f"[#{prefix_of(slug)}-{number}]"


def find_number(subject: str, slug: str) -> int | None:
    """The ticket number referenced in ``subject`` for the organization ``slug``, if any.

    The first one wins: we put ours at the front, and a later one is usually an older
    ticket's reference kept in a forwarded subject.
    """
    for match in REFERENCE.finditer(subject or ""):
        prefix, number = match.group(1), int(match.group(2))
        if prefix is None or prefix.upper() == prefix_of(slug):
            return number
    return None
