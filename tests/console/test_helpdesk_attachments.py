"""Attachments on the staff ticket page: upload with limits, download only through the
scoped view, always as a download."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from tests.console.test_helpdesk_views import open_ticket, who

from steward.helpdesk import attachments, services
from steward.helpdesk.models import Attachment, Reply

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _home(settings, tmp_path):
    settings.STEWARD_HOME = tmp_path / "home"


def test_technician_uploads_and_downloads(client, world):
    ticket = open_ticket(world)
    client.force_login(world.technician)
    response = client.post(
        f"/tickets/{ticket.pk}/attachments/",
        {
            "files": [
                SimpleUploadedFile("dmesg.txt", b"kernel: oops"),
                SimpleUploadedFile("a.png", b"\x89PNG"),
            ]
        },
    )
    assert response.status_code == 302
    att = Attachment.objects.get(filename="dmesg.txt")
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert f"/tickets/{ticket.pk}/attachments/{att.pk}/" in page
    download = client.get(f"/tickets/{ticket.pk}/attachments/{att.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"kernel: oops"
    assert download["Content-Disposition"].startswith('attachment; filename="dmesg.txt"')
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download["Content-Security-Policy"]


def test_reply_with_attachment_belongs_to_the_reply(client, world):
    ticket = open_ticket(world)
    client.force_login(world.technician)
    client.post(
        f"/tickets/{ticket.pk}/reply/",
        {
            "body": "Log attached",
            "visibility": "internal",
            "files": SimpleUploadedFile("trace.log", b"trace"),
        },
    )
    att = Attachment.objects.get()
    assert att.reply == Reply.objects.get(ticket=ticket)


def test_too_large_files_are_refused(client, world, settings):
    settings.STEWARD = {**settings.STEWARD, "attachment_max_bytes": 1024 * 1024}
    ticket = open_ticket(world)
    client.force_login(world.technician)
    response = client.post(
        f"/tickets/{ticket.pk}/attachments/",
        {"files": SimpleUploadedFile("big.txt", b"x" * (1024 * 1024 + 1))},
        follow=True,
    )
    assert "Not attached: big.txt" in response.content.decode()
    assert not Attachment.objects.exists()


def test_executables_are_refused(client, world):
    ticket = open_ticket(world)
    client.force_login(world.technician)
    client.post(
        f"/tickets/{ticket.pk}/attachments/",
        {"files": SimpleUploadedFile("setup.txt", b"\x7fELF\x02\x01")},
    )
    assert not Attachment.objects.exists()


def test_download_is_scoped_to_the_ticket_and_the_organization(client, world):
    ticket, other = open_ticket(world, "One"), open_ticket(world, "Two")
    att = attachments.save_attachment(
        who(world.requester), ticket, SimpleUploadedFile("x.txt", b"x")
    )
    client.force_login(world.technician)
    # the right attachment under the wrong ticket's path
    assert client.get(f"/tickets/{other.pk}/attachments/{att.pk}/").status_code == 404
    client.force_login(world.outsider)
    assert client.get(f"/tickets/{ticket.pk}/attachments/{att.pk}/").status_code == 404
    client.force_login(world.requester)  # the portal has its own, public-only, door
    assert client.get(f"/tickets/{ticket.pk}/attachments/{att.pk}/").status_code == 404


def test_viewer_may_download_but_not_upload(client, world):
    ticket = open_ticket(world)
    note = services.add_reply(who(world.technician), ticket, "n", public=False)
    att = attachments.save_attachment(
        who(world.technician), ticket, SimpleUploadedFile("n.txt", b"n"), reply=note
    )
    client.force_login(world.viewer)
    assert client.get(f"/tickets/{ticket.pk}/attachments/{att.pk}/").status_code == 200
    response = client.post(
        f"/tickets/{ticket.pk}/attachments/", {"files": SimpleUploadedFile("v.txt", b"v")}
    )
    assert response.status_code == 403
