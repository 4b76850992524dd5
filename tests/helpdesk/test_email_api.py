"""The email gateway's settings through the API: mailboxes and per-organization settings."""

from __future__ import annotations

import socket

import pytest

from steward.helpdesk.email.models import Mailbox
from steward.helpdesk.models import Queue
from steward.notify.models import Channel

pytestmark = pytest.mark.django_db

BOX = {"address": "help@acme.test", "host": "imap.acme.test", "username": "help"}


def new_mailbox(api, world, user=None, **fields):
    body = {"organization_id": world.acme.pk, **BOX, "password": "s3cret", **fields}
    return api.as_(user or world.admin).post("helpdesk/mailboxes", body)


def test_an_admin_creates_a_mailbox_and_never_sees_its_password_again(api, world):
    queue = Queue.objects.create(organization=world.acme, name="Service desk")
    r = new_mailbox(api, world, queue_id=queue.pk, security="starttls", port=143)
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["password_set"] is True
    assert "password" not in data and b"s3cret" not in r.content
    assert (data["security"], data["port"], data["queue_id"]) == ("starttls", 143, queue.pk)
    assert Mailbox.objects.get().password == "s3cret"

    listed = api.as_(world.admin).get("helpdesk/mailboxes").json()
    assert [m["address"] for m in listed["items"]] == ["help@acme.test"]
    assert b"s3cret" not in api.as_(world.admin).get(f"helpdesk/mailboxes/{data['id']}").content


def test_a_patch_without_password_keeps_it_and_a_new_one_replaces_it(api, world):
    mailbox_id = new_mailbox(api, world).json()["id"]
    r = api.as_(world.admin).patch(f"helpdesk/mailboxes/{mailbox_id}", {"folder": "Support"})
    assert r.json()["folder"] == "Support"
    assert Mailbox.objects.get().password == "s3cret"
    api.as_(world.admin).patch(f"helpdesk/mailboxes/{mailbox_id}", {"password": "n3w"})
    assert Mailbox.objects.get().password == "n3w"
    r = api.as_(world.admin).patch(f"helpdesk/mailboxes/{mailbox_id}", {"password": ""})
    assert r.json()["password_set"] is False


def test_mailboxes_need_manage_in_the_organization(api, world):
    assert new_mailbox(api, world, world.technician).status_code == 403
    mailbox_id = new_mailbox(api, world).json()["id"]
    for user in (world.technician, world.viewer):
        client = api.as_(user)
        assert client.get("helpdesk/mailboxes").json()["count"] == 0
        assert client.get(f"helpdesk/mailboxes/{mailbox_id}").status_code == 403
        assert client.post(f"helpdesk/mailboxes/{mailbox_id}/test").status_code == 403
        assert client.get(f"helpdesk/email-settings/{world.acme.pk}").status_code == 403
    assert api.as_(world.outsider).get(f"helpdesk/mailboxes/{mailbox_id}").status_code == 404
    assert api.as_(world.owner).delete(f"helpdesk/mailboxes/{mailbox_id}").status_code == 204
    assert not Mailbox.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"address": "not an address"}, "address: Enter a valid email address."),
        ({"ca_certificates": "-----BEGIN CERTIFICATE-----\nnope"}, "ca_certificates: not"),
        ({"poll_interval": 1}, "poll_interval"),
        ({"security": "plain"}, "security"),
    ],
)
def test_invalid_settings_are_refused_with_a_readable_message(api, world, fields, message):
    r = new_mailbox(api, world, **fields)
    assert r.status_code in (400, 422)  # 422: refused by the schema already
    assert r.json()["detail"].startswith(message), r.json()


def test_a_queue_of_another_organization_is_refused(api, world):
    theirs = Queue.objects.create(organization=world.globex, name="Globex queue")
    r = new_mailbox(api, world, triage_queue_id=theirs.pk, unknown_sender="triage")
    assert (r.status_code, r.json()["detail"]) == (
        400,
        "triage_queue_id: no such queue in the organization",
    )


def test_a_second_mailbox_with_the_same_address_conflicts(api, world):
    assert new_mailbox(api, world).status_code == 201
    assert new_mailbox(api, world).status_code == 409


def test_the_connection_test_reports_a_refused_connection_without_failing(api, world):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mailbox_id = new_mailbox(api, world, host="127.0.0.1", port=port, timeout=2).json()["id"]
    r = api.as_(world.admin).post(f"helpdesk/mailboxes/{mailbox_id}/test")
    assert r.status_code == 200
    assert r.json()["ok"] is False
    assert r.json()["message"].startswith("imap: ")
    assert Mailbox.objects.get().last_error == ""  # a test changes nothing


def email_channel(org, name="Mail"):
    return Channel.objects.create(
        organization=org, name=name, kind="email", config={"from_address": "n@x.test"}
    )


def test_email_settings_default_then_saved(api, world):
    url = f"helpdesk/email-settings/{world.acme.pk}"
    assert api.as_(world.admin).get(url).json() == {
        "organization_id": world.acme.pk,
        "configured": False,
        "channel_id": None,
        "from_address": "",
        "from_name": "",
        "enabled": True,
    }
    channel = email_channel(world.acme)
    body = {"channel_id": channel.pk, "from_address": "help@acme.test", "from_name": "Acme IT"}
    r = api.as_(world.admin).call("PUT", url, body)
    assert r.status_code == 200, r.content
    assert r.json()["configured"] is True
    assert api.as_(world.admin).get(url).json()["from_name"] == "Acme IT"


@pytest.mark.parametrize("whose", ["globex", "webhook"])
def test_email_settings_need_an_email_channel_of_the_organization(api, world, whose):
    if whose == "globex":
        channel = email_channel(world.globex)
    else:
        channel = Channel.objects.create(organization=world.acme, name="Hook", kind="webhook")
    r = api.as_(world.admin).call(
        "PUT", f"helpdesk/email-settings/{world.acme.pk}", {"channel_id": channel.pk}
    )
    assert (r.status_code, r.json()["detail"]) == (
        400,
        "channel_id: no such email channel in the organization",
    )


def test_email_settings_refuse_a_bad_from_address(api, world):
    r = api.as_(world.admin).call(
        "PUT", f"helpdesk/email-settings/{world.acme.pk}", {"from_address": "nope"}
    )
    assert r.status_code == 400
    assert r.json()["detail"].startswith("from_address")
