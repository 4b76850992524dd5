"""A raw RFC 5322 message to a ``ParsedMail``: addresses, thread ids, text, attachments.

Pure: bytes in, a frozen dataclass out; no database. The body is the text/plain part when
there is one, else the HTML part converted by ``htmltext``. Attachments are every other
leaf part that is not one of the chosen body alternatives; an attached message
(``message/rfc822``) is kept whole as a ``.eml`` file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses

from steward.helpdesk.email.errors import MalformedMessage
from steward.helpdesk.email.htmltext import html_to_text
from steward.helpdesk.email.loops import automatic_reason

MAX_TEXT = 100_000  # characters of body kept; the rest of a huge message is cut
_MSGID = re.compile(r"<[^<>\s]{1,250}>")
_LOOP_HEADERS = (
    "auto-submitted",
    "x-auto-response-suppress",
    "x-autoreply",
    "x-autorespond",
    "precedence",
    "return-path",
)


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    message_id: str  # "<...>" as sent, or "sha256:<hex>" for a message without one
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]  # oldest first (RFC 5322 §3.6.4)
    from_address: str  # lower case; "" when missing
    from_name: str
    subject: str
    text: str
    automatic: str | None  # why the message is automatic (``loops``), or None
    attachments: tuple[ParsedAttachment, ...] = ()

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Ids this message answers, most recent first: In-Reply-To, then References."""
        seen: dict[str, None] = {}
        for mid in (*self.in_reply_to, *reversed(self.references)):
            seen.setdefault(mid, None)
        return tuple(seen)


def message_ids(value: str | None) -> tuple[str, ...]:
    return tuple(_MSGID.findall(str(value or "")))


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the parser cannot decode: treat as absent
        return ""
    return "" if value is None else str(value)


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, ValueError, AttributeError):
        pass  # unknown or lying charset: decode leniently below
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _body(msg: EmailMessage) -> tuple[str, list[Message]]:
    """The body text and the parts it came from (not attachments)."""
    used: list[Message] = []
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    for alternative in (plain, html):
        if alternative is not None:
            used.append(alternative)
    if plain is not None:
        text = _text_of(plain)
    elif html is not None:
        text = html_to_text(_text_of(html))
    else:
        text = ""
    return text.replace("\r\n", "\n")[:MAX_TEXT], used


def _attachments(msg: Message, body_parts: list[Message]) -> list[ParsedAttachment]:
    found: list[ParsedAttachment] = []

    def visit(part: Message) -> None:
        if any(part is used for used in body_parts):
            return
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(inner_msg, Message):
                subject = _header(inner_msg, "subject") or "message"
                found.append(
                    ParsedAttachment(f"{subject[:100]}.eml", content_type, inner_msg.as_bytes())
                )
            return
        if part.is_multipart():
            for sub in part.get_payload():  # type: ignore[union-attr]
                visit(sub)
            return
        filename = part.get_filename()
        is_text = part.get_content_maintype() == "text"
        if filename is None and is_text and part.get_content_disposition() != "attachment":
            return  # an alternative body we did not choose, or a signature text part
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            found.append(ParsedAttachment(filename or "attachment", content_type, data))

    visit(msg)
    return found


def parse(raw: bytes) -> ParsedMail:
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as e:  # the parser is lenient; this is a message beyond repair
        raise MalformedMessage(f"cannot parse: {e}") from e
    assert isinstance(msg, EmailMessage)
    found_ids = message_ids(_header(msg, "message-id"))
    message_id = found_ids[0] if found_ids else "sha256:" + hashlib.sha256(raw).hexdigest()
    addresses = getaddresses([_header(msg, "from")])
    from_name, from_address = addresses[0] if addresses else ("", "")
    if "@" not in from_address:
        from_name, from_address = "", ""
    headers = {name: _header(msg, name) for name in _LOOP_HEADERS if name in msg}
    try:
        text, used = _body(msg)
        attachments = _attachments(msg, used)
    except Exception as e:
        raise MalformedMessage(f"cannot read the body: {e}") from e
    subject = " ".join(_header(msg, "subject").split())
    return ParsedMail(
        message_id=message_id,
        in_reply_to=message_ids(_header(msg, "in-reply-to")),
        references=message_ids(_header(msg, "references")),
        from_address=from_address.strip().lower(),
        from_name=from_name.strip(),
        subject=subject,
        text=text,
        automatic=automatic_reason(headers, from_address, msg.get_content_type()),
        attachments=tuple(attachments),
    )
