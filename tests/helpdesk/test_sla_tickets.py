"""SLA on real tickets: events once each, pauses, priority changes, API state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from steward.helpdesk import services, slaclock
from steward.helpdesk.models import Notification, SlaEvent, SlaPolicy
from tests.helpdesk.conftest import T0, who

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture
def policy(world):
    return SlaPolicy.objects.create(
        organization=world.acme,
        name="24x7",
        is_default=True,
        weekly_hours={},
        targets={"P3": {"first_response": 60, "resolution": 240}, "P1": {"resolution": 60}},
    )


def test_check_sla_warns_then_breaches_once(world, ticket_of, policy):
    t = ticket_of()
    assert t.sla_policy == policy
    assert slaclock.check_sla(T0 + 30 * timedelta(minutes=1)) == 0
    assert slaclock.check_sla(T0 + 50 * timedelta(minutes=1)) == 1  # 83 % of first response
    assert slaclock.check_sla(T0 + 55 * timedelta(minutes=1)) == 0
    assert slaclock.check_sla(T0 + 61 * timedelta(minutes=1)) == 1  # breach
    assert slaclock.check_sla(T0 + 62 * timedelta(minutes=1)) == 0
    kinds = list(SlaEvent.objects.values_list("target", "kind"))
    assert kinds == [("first_response", "warning"), ("first_response", "breach")]
    assert Notification.objects.filter(kind="sla_breach").count() == 1


def test_pending_tickets_do_not_breach(world, ticket_of, policy):
    t = ticket_of()
    services.add_reply(who(world.technician), t, "need info", now=T0 + timedelta(minutes=10))
    services.set_status(who(world.technician), t, "pending", T0 + timedelta(minutes=10))
    assert slaclock.check_sla(T0 + 48 * HOUR) == 0
    assert t.sla_next_due_at is None
    services.add_reply(who(world.requester), t, "here", now=T0 + 48 * HOUR)
    t.refresh_from_db()
    # 10 minutes used before the pause: 230 minutes left from the requester's answer.
    assert t.sla_next_due_at == T0 + 48 * HOUR + timedelta(minutes=230)


def test_priority_change_mid_flight_honours_the_pause(world, ticket_of, policy):
    t = ticket_of(user=world.technician)
    services.set_status(who(world.technician), t, "pending", T0 + timedelta(minutes=20))
    services.set_status(who(world.technician), t, "open", T0 + 2 * HOUR)
    services.update_ticket(
        who(world.technician),
        t,
        {"priority_override": "P1"},
        now=T0 + 2 * HOUR + timedelta(minutes=10),
    )
    # P1: 60 minutes; used 20 + 10: due 30 minutes after the change.
    assert t.sla_next_due_at == T0 + 2 * HOUR + timedelta(minutes=40)


def test_breach_is_recorded_when_resolved_late(world, ticket_of, policy):
    t = ticket_of()
    services.add_reply(who(world.technician), t, "hi", now=T0 + timedelta(minutes=5))
    services.set_status(who(world.technician), t, "resolved", T0 + 5 * HOUR)
    assert SlaEvent.objects.filter(ticket=t, target="resolution", kind="breach").exists()


def test_policy_change_recomputes_active_tickets(world, ticket_of, policy):
    t = ticket_of()
    policy.targets = {"P3": {"resolution": 480}}
    policy.save()
    slaclock.refresh_policy(policy, T0 + HOUR)
    t.refresh_from_db()
    assert t.sla_next_due_at == T0 + 8 * HOUR


def test_api_exposes_the_sla_and_filters_breaching_soon(world, ticket_of, policy, api):
    soon = ticket_of(user=world.technician, priority_override="P1")
    later = ticket_of(user=world.technician)
    services.add_reply(who(world.technician), later, "hi", now=T0)
    client = api.as_(world.technician)
    body = client.get(f"tickets/{soon.pk}").json()
    assert body["sla"]["policy"] == "24x7"
    assert body["sla"]["resolution"]["target_seconds"] == 3600
    assert body["sla"]["state"] in ("ok", "warning", "breached")
    assert soon.sla_next_due_at == T0 + HOUR
    # Filter semantics are checked against stored deadlines, with "now" = T0 + 30 min.
    from steward.helpdesk.filters import TicketFilter
    from steward.helpdesk.models import Ticket

    ids = TicketFilter(breaching_soon=True).apply(
        Ticket.objects.all(), who(world.technician), T0 + timedelta(minutes=30)
    )
    assert list(ids) == [soon]
    r = client.get("tickets?breaching_soon=true")
    assert r.status_code == 200


def test_api_filters_tickets_with_a_recorded_breach(world, ticket_of, policy, api):
    late = ticket_of(subject="Printer on fire")
    very_late = ticket_of(subject="Printer still on fire")
    for target in ("first_response", "resolution"):  # listed once
        SlaEvent.objects.create(ticket=very_late, target=target, kind=SlaEvent.BREACH)
    SlaEvent.objects.create(ticket=late, target="resolution", kind=SlaEvent.BREACH)
    warned = ticket_of(subject="Printer warm")
    SlaEvent.objects.create(ticket=warned, target="resolution", kind=SlaEvent.WARNING)
    ticket_of(subject="Printer fine")
    closed = ticket_of(subject="Printer replaced")
    SlaEvent.objects.create(ticket=closed, target="resolution", kind=SlaEvent.BREACH)
    services.set_status(who(world.technician), closed, "closed", T0 + HOUR)
    globex = services.create_ticket(who(world.outsider), world.globex.pk, subject="Printer gx")
    SlaEvent.objects.create(ticket=globex, target="resolution", kind=SlaEvent.BREACH)

    def ids(user, query: str) -> list[int]:
        response = api.as_(user).get(f"tickets?{query}")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["count"] == len(body["items"])
        return sorted(t["id"] for t in body["items"])

    breached = sorted([late.pk, very_late.pk, closed.pk])
    assert ids(world.technician, "breached=true") == breached
    # status=active: the console's "SLA breached" view and the dashboard's tile.
    assert ids(world.technician, "breached=true&status=active") == [late.pk, very_late.pk]
    # Through full-text search too (its conditions are moved onto search documents).
    assert ids(world.technician, "breached=true&status=active&q=fire") == [late.pk, very_late.pk]
    assert ids(world.technician, "breached=true&q=replaced") == [closed.pk]
    assert len(ids(world.technician, "breached=false")) == 5
    assert ids(world.outsider, "breached=true") == [globex.pk]
