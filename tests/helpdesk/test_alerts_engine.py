"""Alert -> ticket through the real alert engine: an agent posts check results, the alerts
app fires and resolves, and after each commit it calls ``helpdesk.alerts.on_alert_event``.

``transaction=True``: the hook runs in ``transaction.on_commit``, which a test wrapped in
one transaction would never reach.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from steward.alerts import runtime
from steward.alerts.models import Alert, CheckDefinition
from steward.helpdesk import services
from steward.helpdesk.models import AlertTicketPolicy, LinkedAlert, Reply, Status, Ticket, Via
from tests.alerts.conftest import device_auth
from tests.helpdesk.conftest import who

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sshd(world):
    AlertTicketPolicy.objects.create(organization=world.acme, open_after_minutes=0)
    check = CheckDefinition.objects.create(
        organization=world.acme, device=world.acme_device, name="sshd running",
        type="process", target="sshd", interval=1,
    )  # fmt: skip
    headers = device_auth(world.acme_device)
    client = Client()

    def post(status: str, message: str = "") -> None:
        now = datetime.now(UTC).isoformat()
        body = {"sent_at": now, "results": [{"check_id": check.pk, "status": status,
                "message": message, "observed_at": now, "perfdata": []}]}  # fmt: skip
        r = client.post("/api/v1/agent/check-results", body, content_type="application/json",
                        **headers)  # fmt: skip
        assert r.json()["accepted"] == 1

    return post


def notes(ticket: Ticket) -> list[str]:
    return list(
        Reply.objects.filter(ticket=ticket, public=False, via=Via.SYSTEM)
        .order_by("id")
        .values_list("body", flat=True)
    )


def test_a_firing_alert_opens_one_ticket_and_its_resolution_resolves_it(world, sshd):
    sshd("ok")
    assert not Ticket.objects.exists()

    sshd("critical", "no process named sshd")
    alert = Alert.objects.get(status="firing")
    ticket = Ticket.objects.get()
    assert ticket.source == "alert"
    assert ticket.status not in (Status.RESOLVED, Status.CLOSED)
    assert ticket.subject == "[critical] Check sshd running is critical"
    assert list(LinkedAlert.objects.values_list("ticket_id", "fingerprint")) == [
        (ticket.pk, alert.fingerprint)
    ]
    assert list(ticket.devices.values_list("pk", flat=True)) == [world.acme_device.pk]

    # Still failing: the same alert, no second ticket, no new note.
    sshd("critical", "no process named sshd")
    runtime.tick(world.acme.pk)
    assert (Alert.objects.count(), Ticket.objects.count()) == (1, 1)
    assert notes(ticket) == []

    sshd("ok", "1 process")
    alert.refresh_from_db()
    ticket.refresh_from_db()
    assert alert.status == "resolved"
    assert ticket.status == Status.RESOLVED  # nobody replied: the alert owned it
    assert len(notes(ticket)) == 1
    assert notes(ticket)[0].startswith("Alert **resolved**")


def test_a_ticket_a_technician_answered_stays_open_when_the_alert_resolves(world, sshd):
    sshd("critical", "no process named sshd")
    ticket = Ticket.objects.get()
    services.add_reply(
        who(world.technician), ticket, "Looking into it.", public=True, author=world.technician
    )
    sshd("ok", "1 process")
    ticket.refresh_from_db()
    assert Alert.objects.get().status == "resolved"
    assert ticket.status not in (Status.RESOLVED, Status.CLOSED)
    assert [n.split(":")[0] for n in notes(ticket)] == ["Alert **resolved**"]  # but told


def test_the_alert_firing_again_after_resolution_opens_a_new_ticket(world, sshd):
    sshd("critical")
    sshd("ok")
    first = Ticket.objects.get()
    assert first.status == Status.RESOLVED
    sshd("critical")
    assert Ticket.objects.count() == 2
    second = Ticket.objects.exclude(pk=first.pk).get()
    assert LinkedAlert.objects.get(ticket=second).fingerprint == Alert.objects.get().fingerprint
