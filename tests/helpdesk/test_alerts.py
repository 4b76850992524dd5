"""The alert hook, through synthetic events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from steward.helpdesk import services
from steward.helpdesk.alerts import AlertEvent, on_alert_event, open_alert_tickets
from steward.helpdesk.models import AlertTicketPolicy, Ticket
from tests.helpdesk.conftest import T0, who

pytestmark = pytest.mark.django_db


def event(world, state="firing", fp="disk-full-acme-ws-01", **kw):
    fields = {
        "organization_id": world.acme.pk,
        "fingerprint": fp,
        "rule_name": "disk_full",
        "severity": "critical",
        "state": state,
        "title": "Disk / is 97% full",
        "device_id": world.acme_device.pk,
        "labels": {"mount": "/"},
        **kw,
    }
    return AlertEvent(**fields)


@pytest.fixture
def policy(world):
    return AlertTicketPolicy.objects.create(
        organization=world.acme, severity="critical", priority="P1"
    )


def test_one_ticket_per_fingerprint(world, policy):
    first = on_alert_event(event(world), now=T0)
    again = on_alert_event(event(world), now=T0 + timedelta(minutes=5))
    assert first is not None and again == first
    assert Ticket.objects.count() == 1
    assert first.priority == "P1" and first.source == "alert"
    assert list(first.devices.all()) == [world.acme_device]
    assert first.linked_alerts.get().fingerprint == "disk-full-acme-ws-01"
    other = on_alert_event(event(world, fp="cpu-hot"), now=T0)
    assert other != first and Ticket.objects.count() == 2


def test_state_changes_add_internal_notes_and_resolve(world, policy):
    t = on_alert_event(event(world), now=T0)
    on_alert_event(event(world, state="acknowledged"), now=T0 + timedelta(minutes=1))
    on_alert_event(event(world, state="resolved"), now=T0 + timedelta(minutes=2))
    t.refresh_from_db()
    assert t.status == "resolved"
    notes = list(t.replies.values_list("public", "body"))
    assert [p for p, _ in notes] == [False, False]
    assert "acknowledged" in notes[0][1] and "resolved" in notes[1][1]


def test_a_human_reply_keeps_the_ticket_open(world, policy):
    t = on_alert_event(event(world), now=T0)
    services.add_reply(who(world.technician), t, "Looking into it", now=T0 + timedelta(minutes=1))
    on_alert_event(event(world, state="resolved"), now=T0 + timedelta(minutes=2))
    t.refresh_from_db()
    assert t.status == "open"


def test_a_new_firing_after_resolution_opens_a_new_ticket(world, policy):
    t = on_alert_event(event(world), now=T0)
    on_alert_event(event(world, state="resolved"), now=T0 + timedelta(minutes=2))
    t2 = on_alert_event(event(world), now=T0 + timedelta(hours=1))
    assert t2 is not None and t2 != t


def test_without_a_policy_nothing_opens(world):
    assert on_alert_event(event(world, severity="info"), now=T0) is None
    assert not Ticket.objects.exists()


def test_rule_policies_win_over_severity_policies(world, policy):
    AlertTicketPolicy.objects.create(organization=world.acme, rule_name="disk_full", priority="P3")
    assert on_alert_event(event(world), now=T0).priority == "P3"


def test_open_after_minutes_waits_for_the_job(world):
    AlertTicketPolicy.objects.create(organization=world.acme, open_after_minutes=15)
    assert on_alert_event(event(world), now=T0) is None
    assert open_alert_tickets(T0 + timedelta(minutes=10)) == 0
    assert open_alert_tickets(T0 + timedelta(minutes=15)) == 1
    assert open_alert_tickets(T0 + timedelta(minutes=20)) == 0
    assert Ticket.objects.count() == 1


def test_an_alert_resolved_before_the_delay_opens_nothing(world):
    AlertTicketPolicy.objects.create(organization=world.acme, open_after_minutes=15)
    on_alert_event(event(world), now=T0)
    on_alert_event(event(world, state="resolved"), now=T0 + timedelta(minutes=5))
    assert open_alert_tickets(T0 + timedelta(minutes=30)) == 0


def test_another_organizations_device_is_never_linked(world, policy):
    t = on_alert_event(event(world, device_id=world.globex_device.pk), now=T0)
    assert not t.devices.exists()
