"""The email gateway's pure parts: quotes, HTML to text, automatic mail, references, parsing."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from steward.helpdesk.email import refs
from steward.helpdesk.email.htmltext import html_to_text
from steward.helpdesk.email.loops import automatic_reason
from steward.helpdesk.email.outbound import REPLY_MARKER
from steward.helpdesk.email.parse import parse
from steward.helpdesk.email.quotes import strip_quotes


@pytest.mark.parametrize(
    "quoted",
    [
        "On Mon, 2 Mar 2026 at 10:00, Help <help@acme.test> wrote:\n> old",
        "On Mon, 2 Mar 2026 at 10:00, Help Desk <\nhelp@acme.test> wrote:\n> old",
        "Am 02.03.2026 um 10:00 schrieb Help <help@acme.test>:\n> alt",
        "Le lun. 2 mars 2026 à 10:00, Help <help@acme.test> a écrit :\n> vieux",
        "-----Original Message-----\nFrom: Help\nSent: Monday\nold",
        "________________________________\nFrom: Help <help@acme.test>\nold",
        "From: Help <help@acme.test>\nSent: Monday, March 2, 2026 10:00\nTo: me\nold",
        f"{REPLY_MARKER}\n\nold notice",
        "-- \nJane Doe\nACME Corp",
        "> old line\n> another",
    ],
)
def test_quoted_text_is_stripped(quoted):
    assert strip_quotes(f"New answer.\nSecond line.\n\n{quoted}\n") == "New answer.\nSecond line."


def test_forwarded_mail_and_inline_text_are_kept():
    text = "See below.\n\n---------- Forwarded message ---------\nFrom: vendor\nDetails"
    assert strip_quotes(text) == text
    assert strip_quotes("> q1\nanswer 1\n> q2\nanswer 2") == "answer 1\nanswer 2"


def test_html_becomes_text_without_tags_scripts_or_unsafe_links():
    html = (
        "<html><head><style>p{color:red}</style><title>t</title></head><body>"
        "<h2>Problem</h2><p>Hello&nbsp;<b>there</b>,<br>line two &lt;tag&gt;</p>"
        "<ul><li>one</li><li>two</li></ul><script>alert(1)</script>"
        '<a href="javascript:alert(1)">bad</a> <a href="https://acme.test/a">good</a>'
        '<img src="cid:x" alt="screenshot"><blockquote>quoted</blockquote></body></html>'
    )
    assert html_to_text(html) == (
        "## Problem\n\nHello there,\nline two <tag>\n\n- one\n- two\n\n"
        "bad [good](<https://acme.test/a>)[screenshot]\n\n> quoted"
    )


@pytest.mark.parametrize(
    ("headers", "sender", "content_type", "reason"),
    [
        ({"auto-submitted": "auto-replied"}, "a@x.test", "text/plain", "auto-submitted"),
        ({"auto-submitted": "no"}, "a@x.test", "text/plain", None),
        ({"x-auto-response-suppress": "OOF"}, "a@x.test", "text/plain", "auto-response-suppress"),
        ({"precedence": "Bulk"}, "a@x.test", "text/plain", "precedence"),
        ({"precedence": "first-class"}, "a@x.test", "text/plain", None),
        ({"return-path": "<>"}, "a@x.test", "text/plain", "bounce"),
        ({}, "MAILER-DAEMON@x.test", "text/plain", "bounce"),
        ({}, "a@x.test", "multipart/report", "bounce"),
        ({"x-autoreply": "yes"}, "a@x.test", "text/plain", "autoreply"),
        ({}, "a@x.test", "text/plain", None),
    ],
)
def test_automatic_mail_is_recognised(headers, sender, content_type, reason):
    assert automatic_reason(headers, sender, content_type) == reason


def test_references_are_found_for_the_organization_only():
    assert refs.reference("acme", 12) == "[#ACME-12]"
    assert refs.find_number("Re: [#ACME-12] Printer", "acme") == 12
    assert refs.find_number("Re: [#big-corp-7] x", "big-corp") == 7
    assert refs.find_number("[#12] x", "acme") == 12
    assert refs.find_number("Re: [#GLOBEX-12] x", "acme") is None
    assert refs.find_number("about #12", "acme") is None


def test_parse_prefers_text_plain_and_keeps_attachments():
    message = EmailMessage()
    message["From"] = '"Doe, Jane" <Jane.Doe@Acme.TEST>'
    message["Subject"] = "=?utf-8?q?Dr=C3=BCcker?=  kaputt"
    message["Message-ID"] = "<m1@mail.test>"
    message["In-Reply-To"] = "<p2@mail.test>"
    message["References"] = "<p1@mail.test> <p2@mail.test>"
    message.set_content("plain body ü")
    message.add_alternative("<p>html body</p>", subtype="html")
    message.add_attachment(b"\x89PNG...", maintype="image", subtype="png", filename="s.png")
    parsed = parse(message.as_bytes())
    assert parsed.from_address == "jane.doe@acme.test" and parsed.from_name == "Doe, Jane"
    assert parsed.subject == "Drücker kaputt"
    assert parsed.text.strip() == "plain body ü"
    assert parsed.thread_ids == ("<p2@mail.test>", "<p1@mail.test>")
    ((attachment),) = parsed.attachments
    assert (attachment.filename, attachment.content_type) == ("s.png", "image/png")
    assert parsed.automatic is None


def test_a_message_without_message_id_is_keyed_by_its_content():
    raw = b"From: a@x.test\r\nSubject: s\r\n\r\nbody\r\n"
    assert parse(raw).message_id.startswith("sha256:")
    assert parse(raw).message_id == parse(raw).message_id


def test_an_unknown_charset_is_decoded_leniently():
    raw = (
        b"From: a@x.test\r\nSubject: s\r\nContent-Type: text/plain; charset=x-unknown\r\n"
        b"\r\nhello \xff\r\n"
    )
    assert parse(raw).text.startswith("hello ")
