"""The help desk email settings page: admins manage mailboxes and outgoing mail settings."""

from __future__ import annotations

import socket

import pytest

from steward.helpdesk.email.models import HelpdeskEmailSettings, Mailbox
from steward.notify.models import Channel

pytestmark = pytest.mark.django_db

FORM = {
    "address": "help@acme.test",
    "host": "imap.acme.test",
    "security": "ssl",
    "port": "993",
    "username": "help",
    "password": "s3cret",
    "folder": "INBOX",
    "poll_interval": "60",
    "unknown_sender": "create",
    "enabled": "on",
}


@pytest.fixture
def acme_box(world) -> Mailbox:
    return Mailbox.objects.create(
        organization=world.acme, address="help@acme.test", host="imap.acme.test",
        username="help", password="s3cret",
    )  # fmt: skip


def test_admins_find_the_page_from_the_tickets_list(client, world):
    client.force_login(world.admin)
    assert b"/helpdesk/email/" in client.get("/tickets/").content
    client.force_login(world.technician)
    assert b"/helpdesk/email/" not in client.get("/tickets/").content
    assert client.get("/helpdesk/email/").status_code == 403
    client.force_login(world.requester)
    assert client.get("/helpdesk/email/").status_code == 404


def test_an_admin_creates_a_mailbox_and_the_password_is_never_shown(client, world):
    client.force_login(world.admin)
    r = client.post("/helpdesk/email/mailboxes/new/", {**FORM, "organization": world.acme.pk})
    box = Mailbox.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/helpdesk/email/mailboxes/{box.pk}/"
    assert box.password == "s3cret"
    page = client.get(r["Location"]).content.decode()
    assert "s3cret" not in page
    assert "leave empty to keep it" in page
    assert "help@acme.test" in client.get("/helpdesk/email/").content.decode()


def test_saving_with_an_empty_password_keeps_it(client, world, acme_box):
    client.force_login(world.admin)
    form = {**FORM, "organization": world.acme.pk, "password": "", "folder": "Support"}
    r = client.post(f"/helpdesk/email/mailboxes/{acme_box.pk}/", form)
    assert r.status_code == 302
    acme_box.refresh_from_db()
    assert (acme_box.folder, acme_box.password) == ("Support", "s3cret")


def test_a_bad_ca_is_shown_on_the_form(client, world):
    client.force_login(world.admin)
    r = client.post(
        "/helpdesk/email/mailboxes/new/",
        {**FORM, "organization": world.acme.pk, "ca_certificates": "junk"},
    )
    assert r.status_code == 200
    assert "ca_certificates: not usable PEM certificates" in r.content.decode()
    assert not Mailbox.objects.exists()


def test_the_connection_test_shows_its_result(client, world, acme_box):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    Mailbox.objects.filter(pk=acme_box.pk).update(host="127.0.0.1", port=port, timeout=2)
    client.force_login(world.admin)
    r = client.post(f"/helpdesk/email/mailboxes/{acme_box.pk}/test/")
    page = r.content.decode()
    assert r.status_code == 200
    assert "Connection failed." in page and "imap: " in page
    assert 'value="127.0.0.1"' in page  # the saved settings, ready to fix


def test_another_organizations_mailbox_is_not_found(client, world, acme_box):
    client.force_login(world.outsider)
    assert client.get(f"/helpdesk/email/mailboxes/{acme_box.pk}/").status_code == 404
    assert client.post(f"/helpdesk/email/mailboxes/{acme_box.pk}/test/").status_code == 404
    assert client.post(f"/helpdesk/email/mailboxes/{acme_box.pk}/delete/").status_code == 404
    assert client.get(f"/helpdesk/email/settings/{world.acme.pk}/").status_code == 404
    assert Mailbox.objects.filter(pk=acme_box.pk).exists()


def test_an_admin_chooses_the_email_channel(client, world):
    channel = Channel.objects.create(organization=world.acme, name="Acme mail", kind="email")
    Channel.objects.create(organization=world.globex, name="Globex mail", kind="email")
    client.force_login(world.admin)
    page = client.get(f"/helpdesk/email/settings/{world.acme.pk}/").content.decode()
    assert "Acme mail" in page and "Globex mail" not in page
    r = client.post(
        f"/helpdesk/email/settings/{world.acme.pk}/",
        {"channel": channel.pk, "from_address": "help@acme.test", "enabled": "on"},
    )
    assert r.status_code == 302
    saved = HelpdeskEmailSettings.objects.get(organization=world.acme)
    assert (saved.channel_id, saved.from_address, saved.enabled) == (
        channel.pk,
        "help@acme.test",
        True,
    )
