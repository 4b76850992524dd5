"""Attachments: stored under STEWARD_HOME, limits by size, extension and content."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from steward.helpdesk import attachments, services
from steward.helpdesk.errors import AttachmentRejected
from tests.helpdesk.conftest import T0, who

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


def upload(api, user, ticket, name, content, **extra):
    client = api.as_(user)
    return client.client.post(
        f"/api/v1/tickets/{ticket.pk}/attachments",
        data={"file": SimpleUploadedFile(name, content), **extra},
        **client.headers,
    )


def test_upload_list_and_download(world, ticket_of, api, settings):
    t = ticket_of()
    r = upload(api, world.requester, t, "screen.png", PNG)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["content_type"] == "image/png" and body["size"] == len(PNG)
    att = t.attachments.get()
    stored = Path(settings.STEWARD_HOME) / "attachments" / str(world.acme.pk) / str(att.uuid)
    assert stored.read_bytes() == PNG
    listed = api.as_(world.technician).get(f"tickets/{t.pk}/attachments").json()
    assert [a["filename"] for a in listed] == ["screen.png"]
    r = api.as_(world.requester).get(f"tickets/{t.pk}/attachments/{att.pk}")
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == PNG
    assert "attachment" in r["Content-Disposition"]
    assert api.as_(world.outsider).get(f"tickets/{t.pk}/attachments/{att.pk}").status_code == 404


def test_too_large_files_are_refused(world, ticket_of, api, settings):
    settings.STEWARD = {**settings.STEWARD, "attachment_max_bytes": 1000}
    t = ticket_of()
    r = upload(api, world.requester, t, "big.txt", b"x" * 1001)
    assert r.status_code == 400 and "larger than" in r.json()["detail"]
    assert not list((Path(settings.STEWARD_HOME) / "attachments").rglob("*"))[1:]


def test_default_limit_is_20_mib():
    assert attachments.MAX_BYTES == 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("setup.exe", b"hello"),
        ("run.sh", b"echo hi"),
        ("invoice.pdf", b"MZ\x90\x00" + b"\x00" * 60),
        ("photo.jpg", b"\x7fELF\x02\x01"),
        ("notes.txt", b"#!/bin/sh\nrm -rf /"),
    ],
)
def test_executables_are_refused_by_name_or_content(world, ticket_of, name, content):
    t = ticket_of()
    with pytest.raises(AttachmentRejected):
        attachments.save_attachment(who(world.requester), t, SimpleUploadedFile(name, content))
    assert not t.attachments.exists()


def test_attachments_of_internal_notes_stay_internal(world, ticket_of, api):
    t = ticket_of()
    note = services.add_reply(who(world.technician), t, "log", public=False, now=T0)
    r = upload(api, world.technician, t, "log.txt", b"internal log", reply_id=str(note.pk))
    assert r.status_code == 201, r.content
    att_id = r.json()["id"]
    assert api.as_(world.requester).get(f"tickets/{t.pk}/attachments").json() == []
    assert api.as_(world.requester).get(f"tickets/{t.pk}/attachments/{att_id}").status_code == 404
    r = upload(api, world.requester, t, "x.txt", b"x", reply_id=str(note.pk))
    assert r.status_code == 400


def test_file_names_cannot_escape(world, ticket_of):
    t = ticket_of()
    att = attachments.save_attachment(
        who(world.requester), t, SimpleUploadedFile("../../etc/passwd.txt", b"root")
    )
    assert att.filename == "passwd.txt"
    assert attachments.path_of(att).parent.name == str(world.acme.pk)
