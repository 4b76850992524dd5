"""The requester portal: my tickets, opening one, the public conversation, the knowledge
base — and never an internal note, a time entry or someone else's ticket."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from tests.console.test_helpdesk_views import open_ticket, who
from tests.server.conftest import PASSWORD

from steward.helpdesk import services
from steward.helpdesk.models import (
    Article,
    Attachment,
    DeviceAssignment,
    HelpdeskSettings,
    Reply,
    Status,
    Ticket,
)
from steward.tenancy.models import Membership
from steward.tenancy.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _home(settings, tmp_path):
    settings.STEWARD_HOME = tmp_path / "home"


@pytest.fixture
def colleague(world):
    from tests.server.conftest import make_user

    return make_user("colleague@acme.test", world.acme, Role.REQUESTER)


def test_requester_sees_their_tickets(client, world):
    mine = open_ticket(world, "My printer")
    client.force_login(world.requester)
    page = client.get("/portal/").content.decode()
    assert mine.subject in page
    assert "Hello" in page


def test_requester_does_not_see_a_colleagues_ticket(client, world, colleague):
    theirs = open_ticket(world, "Colleague laptop", user=colleague)
    client.force_login(world.requester)
    assert "Colleague laptop" not in client.get("/portal/").content.decode()
    assert client.get(f"/portal/tickets/{theirs.pk}/").status_code == 404
    assert client.post(f"/portal/tickets/{theirs.pk}/reply/", {"body": "hi"}).status_code == 404


def test_org_setting_shows_colleagues_tickets(client, world, colleague):
    HelpdeskSettings.objects.create(organization=world.acme, requesters_see_org_tickets=True)
    theirs = open_ticket(world, "Colleague laptop", user=colleague)
    client.force_login(world.requester)
    assert "Colleague laptop" in client.get("/portal/").content.decode()
    assert client.get(f"/portal/tickets/{theirs.pk}/").status_code == 200


def test_outsider_gets_404_on_acme_portal_tickets(client, world):
    ticket = open_ticket(world)
    client.force_login(world.outsider)
    assert client.get(f"/portal/tickets/{ticket.pk}/").status_code == 404
    assert "Printer jammed" not in client.get("/portal/?show=open").content.decode()


def test_staff_portal_lists_only_what_they_requested(client, world):
    open_ticket(world, "Someone else's problem")
    client.force_login(world.technician)
    assert "Someone else&#x27;s problem" not in client.get("/portal/").content.decode()


@pytest.mark.parametrize("requester", ["requester", "admin"])
def test_internal_notes_and_time_never_reach_the_portal(client, world, requester):
    user = getattr(world, requester)  # staff who open a ticket for themselves: same rule
    ticket = open_ticket(world, user=user)
    services.add_reply(who(world.technician), ticket, "Public: on my way.", public=True)
    services.add_reply(who(world.technician), ticket, "SECRET-NOTE budget", public=False)
    services.add_time_entry(who(world.technician), ticket, 42, note="SECRET-TIME")
    client.force_login(user)
    page = client.get(f"/portal/tickets/{ticket.pk}/").content.decode()
    assert "Public: on my way." in page
    assert "SECRET-NOTE" not in page
    assert "SECRET-TIME" not in page and "42 min" not in page


def test_requester_opens_a_ticket_with_a_device_and_a_file(client, world):
    DeviceAssignment.objects.create(
        organization=world.acme, device=world.acme_device, user=world.requester
    )
    client.force_login(world.requester)
    page = client.get("/portal/tickets/new/").content.decode()
    assert "acme-ws-01" in page
    response = client.post(
        "/portal/tickets/new/",
        {
            "organization": world.acme.pk,
            "subject": "Screen stays black",
            "description": "Since this morning.",
            "device": world.acme_device.pk,
            "files": SimpleUploadedFile("photo.png", b"\x89PNG fake", content_type="image/png"),
        },
    )
    ticket = Ticket.objects.get(subject="Screen stays black")
    assert response["Location"] == f"/portal/tickets/{ticket.pk}/"
    assert ticket.requester == world.requester and ticket.source == "portal"
    assert list(ticket.devices.all()) == [world.acme_device]
    assert Attachment.objects.get(ticket=ticket).filename == "photo.png"


def test_requester_cannot_link_a_device_not_assigned_to_them(client, world):
    client.force_login(world.requester)
    response = client.post(
        "/portal/tickets/new/",
        {
            "organization": world.acme.pk,
            "subject": "x",
            "description": "y",
            "device": world.acme_device.pk,
        },
    )
    assert response.status_code == 400  # not a choice: the device is not theirs
    assert not Ticket.objects.exists()


def test_executables_are_refused_with_a_message(client, world):
    client.force_login(world.requester)
    response = client.post(
        "/portal/tickets/new/",
        {
            "organization": world.acme.pk,
            "subject": "Tool",
            "description": "See attached",
            "files": SimpleUploadedFile("fix.exe", b"MZ\x90\x00"),
        },
        follow=True,
    )
    assert "Not attached: fix.exe" in response.content.decode()
    assert not Attachment.objects.exists()


def test_requester_reply_reopens_a_resolved_ticket(client, world):
    ticket = open_ticket(world)
    services.set_status(who(world.technician), ticket, Status.RESOLVED)
    client.force_login(world.requester)
    response = client.post(f"/portal/tickets/{ticket.pk}/reply/", {"body": "Still broken."})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    reply = Reply.objects.get(ticket=ticket)
    assert reply.public and reply.via == "portal"


def test_closed_ticket_offers_a_new_one_instead_of_a_reply(client, world):
    ticket = open_ticket(world)
    client.force_login(world.requester)
    client.post(f"/portal/tickets/{ticket.pk}/close/")
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    page = client.get(f"/portal/tickets/{ticket.pk}/").content.decode()
    assert "This ticket is closed" in page
    response = client.post(f"/portal/tickets/{ticket.pk}/reply/", {"body": "again"})
    assert response.status_code == 400


def test_public_knowledge_base_hides_drafts_and_internal_articles(client, world):
    Article.objects.create(
        organization=world.acme,
        title="Reset your VPN password",
        body="Go to…",
        public=True,
        published=True,
    )
    Article.objects.create(
        organization=world.acme, title="Draft: printers", body="x", public=True, published=False
    )
    secret = Article.objects.create(
        organization=world.acme, title="Admin passwords", body="x", public=False, published=True
    )
    for user in (world.requester, world.technician):
        client.force_login(user)
        page = client.get("/portal/kb/").content.decode()
        assert "Reset your VPN password" in page
        assert "Draft: printers" not in page and "Admin passwords" not in page
        assert client.get(f"/portal/kb/{secret.pk}/").status_code == 404
    assert "Reset your VPN password" in client.get("/portal/kb/?q=vpn").content.decode()


def test_suggest_returns_matching_public_articles(client, world):
    article = Article.objects.create(
        organization=world.acme,
        title="Printer shows a paper jam",
        body="Open tray 2 and remove the paper.",
        public=True,
        published=True,
    )
    Article.objects.create(
        organization=world.acme, title="Printer internals", body="x", public=False, published=True
    )
    client.force_login(world.requester)
    data = client.get("/portal/suggest/", {"text": "the printer is jammed"}).json()
    assert [a["title"] for a in data["articles"]] == [article.title]
    assert data["articles"][0]["url"] == f"/portal/kb/{article.pk}/"


def test_portal_attachment_download_is_scoped(client, world, colleague):
    ticket = open_ticket(world)
    note = services.add_reply(who(world.technician), ticket, "internal", public=False)
    from steward.helpdesk import attachments

    public = attachments.save_attachment(
        who(world.requester), ticket, SimpleUploadedFile("log.txt", b"hello")
    )
    hidden = attachments.save_attachment(
        who(world.technician), ticket, SimpleUploadedFile("notes.txt", b"staff"), reply=note
    )
    client.force_login(world.requester)
    response = client.get(f"/portal/tickets/{ticket.pk}/attachments/{public.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"hello"
    assert response["Content-Disposition"].startswith("attachment")
    assert client.get(f"/portal/tickets/{ticket.pk}/attachments/{hidden.pk}/").status_code == 404
    client.force_login(colleague)
    assert client.get(f"/portal/tickets/{ticket.pk}/attachments/{public.pk}/").status_code == 404


def test_user_without_membership_sees_an_explanation(client, world):
    Membership.objects.filter(user=world.requester).delete()
    client.force_login(world.requester)
    assert (
        "does not belong to an organization" in client.get("/portal/tickets/new/").content.decode()
    )


def test_requester_lands_on_the_portal_after_sign_in(client, world):
    response = client.post(
        "/login/", {"email": "requester@acme.test", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/portal/"


def test_technician_still_lands_on_the_dashboard(client, world):
    response = client.post(
        "/login/", {"email": "tech@acme.test", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/"
