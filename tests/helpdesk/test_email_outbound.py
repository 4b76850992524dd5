"""Mail out: ticket notices through the organization's email channel to a real SMTP sink
(aiosmtpd on loopback), with threading headers."""

from __future__ import annotations

import pytest
from django.db import transaction

from steward.helpdesk import services
from steward.helpdesk.email.models import HelpdeskEmailSettings, Mailbox, OutboundEmail
from steward.helpdesk.email.outbound import REPLY_MARKER, send_ticket_email
from steward.helpdesk.models import Notification, Status
from steward.notify.models import NotificationPreference
from tests.helpdesk.conftest import who
from tests.notify.conftest import email_channel, smtp  # noqa: F401  (the SMTP sink fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def outgoing(world, smtp):  # noqa: F811
    Mailbox.objects.create(
        organization=world.acme, address="support@acme.test", host="imap.acme.test",
        username="support", password="x",
    )  # fmt: skip
    HelpdeskEmailSettings.objects.create(
        organization=world.acme, channel=email_channel(world, smtp), from_address="help@acme.test"
    )
    return smtp


def sent(sink, to: str):
    return [m for _, rcpt, m in sink.messages if rcpt == [to]]


def test_the_requester_gets_an_acknowledgement_marked_auto_replied(world, outgoing, ticket_of):
    ticket = ticket_of(subject="Laptop broken")
    assert send_ticket_email() == {"sent": 1}
    (ack,) = sent(outgoing, "requester@acme.test")
    assert ack["Subject"] == f"[#ACME-{ticket.number}] Laptop broken"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "All"
    assert ack["Reply-To"] == "support@acme.test"
    assert ack["From"] == "Acme help desk <help@acme.test>"
    stored = OutboundEmail.objects.get()
    assert ack["Message-ID"] == stored.message_id and stored.status == "sent"
    ticket.refresh_from_db()
    assert ticket.email_thread_id == stored.message_id  # the thread's root
    assert REPLY_MARKER in ack.get_body(("plain",)).get_content()
    assert Notification.objects.get(kind="ticket_created").delivered_at is not None


def test_a_public_reply_threads_under_the_previous_mail(world, outgoing, ticket_of):
    ticket = ticket_of()
    send_ticket_email()
    ack = sent(outgoing, "requester@acme.test")[0]
    services.add_reply(who(world.technician), ticket, "Try **this** <b>now</b>.")
    services.add_reply(who(world.technician), ticket, "Internal: hmm", public=False)
    assert send_ticket_email() == {"sent": 1}  # internal notes are not emailed
    reply = sent(outgoing, "requester@acme.test")[1]
    assert reply["Subject"] == f"Re: [#ACME-{ticket.number}] Printer jammed"
    assert reply["In-Reply-To"] == ack["Message-ID"]
    assert reply["References"] == ack["Message-ID"]
    assert reply["Auto-Submitted"] is None  # a person wrote it
    html = reply.get_body(("html",)).get_content()
    assert "<strong>this</strong>" in html and "<b>now</b>" not in html
    assert "tech@acme.test wrote:" in reply.get_body(("plain",)).get_content()


def test_the_resolved_notice_and_the_assignment_are_auto_generated(world, outgoing, ticket_of):
    ticket = ticket_of()
    services.assign(who(world.admin), ticket, world.technician.pk)
    services.set_status(who(world.technician), ticket, Status.RESOLVED)
    send_ticket_email()
    (assigned,) = sent(outgoing, "tech@acme.test")
    assert assigned["Subject"] == f"[#ACME-{ticket.number}] Assigned to you: Printer jammed"
    assert assigned["Auto-Submitted"] == "auto-generated"
    resolved = [m for m in sent(outgoing, "requester@acme.test") if "Resolved" in m["Subject"]]
    assert resolved[0]["Auto-Submitted"] == "auto-generated"
    assert resolved[0]["In-Reply-To"]  # threads under the acknowledgement


def test_people_who_turned_email_off_get_none(world, outgoing, ticket_of):
    NotificationPreference.objects.create(user=world.requester, email_enabled=False)
    ticket_of()
    assert send_ticket_email() == {}
    assert outgoing.messages == []


def test_without_email_settings_tickets_work_and_nothing_is_sent(world, smtp, ticket_of):  # noqa: F811
    ticket = ticket_of()
    assert ticket.pk and not OutboundEmail.objects.exists()
    assert send_ticket_email() == {} and smtp.messages == []


def test_a_rolled_back_change_emails_nobody(world, outgoing, ticket_of):
    with pytest.raises(RuntimeError), transaction.atomic():
        ticket_of()
        raise RuntimeError("the request failed")
    assert send_ticket_email() == {} and not OutboundEmail.objects.exists()


def test_a_refused_recipient_is_dead_and_not_retried(world, outgoing):
    world.requester.email = "nobody@acme.test"  # the sink refuses nobody@ with 550
    world.requester.save()
    services.create_ticket(who(world.requester), world.acme.pk, subject="x")
    assert send_ticket_email() == {"dead": 1}
    assert "550" in OutboundEmail.objects.get().last_error
    assert send_ticket_email() == {}
