"""Strip the quoted part of a reply: everything from the first quote header on, and
``>``-quoted lines.

Mail clients quote the previous message below the answer under a header line. The ones
recognised (by line, case-insensitive):

* our own marker ``##- Please type your reply above this line -##``;
* "On <date>, <name> wrote:" (Gmail, Apple Mail, Thunderbird; may wrap over two lines),
  and its German/French/Spanish/Dutch forms ("Am ... schrieb ...:", "Le ... a écrit :");
* "-----Original Message-----" (Outlook plain text, also localized "Ursprüngliche
  Nachricht");
* Outlook's header block "From: ..." followed within four lines by "Sent:"/"Date:", and
  its underscore rule ``________________________________``;
* the signature separator "-- " (RFC 3676 §4.3).

Forwarded messages ("---------- Forwarded message ---------") are *not* cut: forwarding
into a ticket means the forwarded text is the content. Pure text in, text out.
"""

from __future__ import annotations

import re

_WROTE = re.compile(
    r"^\s*(on\s.+\swrote|am\s.+\sschrieb\s.*|le\s.+\sa\s+écrit\s*|el\s.+\sescribió|"
    r"op\s.+\sschreef\s.*)\s*:\s*$",
    re.IGNORECASE,
)
_MARKERS = (
    re.compile(r"^\s*##-.*-##\s*$"),
    re.compile(
        r"^\s*-{3,}\s*(original message|ursprüngliche nachricht|message d'origine|"
        r"mensaje original|oorspronkelijk bericht)\s*-{3,}\s*$",
        re.IGNORECASE,
    ),
    re.compile(r"^\s*_{20,}\s*$"),
    re.compile(r"^-- $"),
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|von|de|van)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(
    r"^\s*\*?(sent|date|gesendet|datum|envoyé|enviado|verzonden)\s*:\*?\s", re.IGNORECASE
)


def _cut_at(lines: list[str]) -> int:
    """Index of the first line of the quoted part (``len(lines)`` when there is none)."""
    for i, line in enumerate(lines):
        if any(m.match(line) for m in _MARKERS) or _WROTE.match(line):
            return i
        if i + 1 < len(lines) and line.strip() and _WROTE.match(f"{line} {lines[i + 1]}"):
            return i  # "On Mon, 2 Mar 2026 at 10:00, Jane Doe <" / "jane@acme.test> wrote:"
        if _OUTLOOK_FROM.match(line) and any(
            _OUTLOOK_SENT.match(following) for following in lines[i + 1 : i + 5]
        ):
            return i
    return len(lines)


def strip_quotes(text: str) -> str:
    """The new part of a reply; ``""`` when everything was quoted."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = [line for line in lines[: _cut_at(lines)] if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()
