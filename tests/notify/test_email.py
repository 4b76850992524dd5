"""Email through a real SMTP server (aiosmtpd) on loopback, with the channel's settings."""

from __future__ import annotations

import pytest
from django.core import mail

from steward.notify.dispatch import deliver_due
from steward.notify.message import Link, Message, Severity
from steward.notify.models import Delivery, Status
from steward.notify.queue import enqueue
from tests.notify.conftest import email_channel

pytestmark = pytest.mark.django_db

MESSAGE = Message(
    subject="Backup failed on globex? no: acme-srv-02",
    text="The nightly backup <job> failed twice.",
    severity=Severity.WARNING,
    event_kind="alert.firing",
    labels={"device": "acme-srv-02"},
    links=(Link("https://steward.test/alerts/9", "Open the alert"),),
    idempotency_key="alert:9",
)


def test_it_sends_html_and_text_alternatives_through_the_channel_server(world, smtp):
    channel = email_channel(world, smtp, username="relay-user")
    channel.secrets = {"password": "smtp-pass"}
    channel.save()
    enqueue(channel, MESSAGE)
    assert deliver_due() == {"sent": 1}
    ((sender, recipients, message),) = smtp.messages
    assert sender == "steward@msp.test" and recipients == ["ops@acme.test"]
    assert smtp.logins == [("relay-user", "smtp-pass")]
    assert message["Subject"] == MESSAGE.subject
    assert message["X-Steward-Severity"] == "warning"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "The nightly backup <job> failed twice." in text
    assert "device: acme-srv-02" in text and "https://steward.test/alerts/9" in text
    assert "&lt;job&gt;" in html and "<job>" not in html  # escaped in HTML
    assert 'href="https://steward.test/alerts/9"' in html and "acme-srv-02" in html
    assert mail.outbox == []  # Django's global EMAIL_* backend was not used


def test_recipients_on_the_message_override_the_channel(world, smtp):
    channel = email_channel(world, smtp)
    enqueue(channel, Message(subject="Ticket #4", text="hi", recipients=("bob@acme.test",)))
    deliver_due()
    assert smtp.messages[0][1] == ["bob@acme.test"]


def test_a_refused_recipient_is_permanent(world, smtp):
    channel = email_channel(world, smtp, to=["nobody@acme.test"])
    enqueue(channel, MESSAGE)
    assert deliver_due() == {"dead": 1}
    assert "550" in Delivery.objects.get().last_error


def test_wrong_password_is_permanent(world, smtp):
    channel = email_channel(world, smtp, username="relay-user")
    channel.secrets = {"password": "wrong"}
    channel.save()
    enqueue(channel, MESSAGE)
    assert deliver_due() == {"dead": 1}
    assert "535" in Delivery.objects.get().last_error


def test_starttls_required_but_not_offered_is_permanent(world, smtp):
    channel = email_channel(world, smtp, security="starttls")
    enqueue(channel, MESSAGE)
    assert deliver_due() == {"dead": 1}
    assert "STARTTLS" in Delivery.objects.get().last_error


def test_no_server_listening_is_retried(world, smtp):
    channel = email_channel(world, smtp, port=9)
    enqueue(channel, MESSAGE)
    assert deliver_due() == {"failed": 1}
    assert Delivery.objects.get().status == Status.FAILED
