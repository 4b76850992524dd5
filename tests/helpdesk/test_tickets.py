"""Ticket rules: numbering, priority, who may set what, status effects of replies."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from steward.helpdesk import services
from steward.helpdesk.errors import HelpdeskError, InvalidState
from steward.helpdesk.models import DeviceAssignment, Mention, Notification, Ticket
from steward.tenancy.scoping import Forbidden
from tests.helpdesk.conftest import T0, who

pytestmark = pytest.mark.django_db


def test_numbers_are_sequential_per_organization(world, ticket_of):
    assert [ticket_of().number for _ in range(3)] == [1, 2, 3]
    globex = services.create_ticket(who(world.outsider), world.globex.pk, subject="x", now=T0)
    assert globex.number == 1


@pytest.mark.django_db(transaction=True)
def test_numbering_under_concurrency(world):
    """Threads on PostgreSQL (real row locks); SQLite serializes writers, so sequential."""
    results, errors = [], []

    def create(n):
        try:
            t = services.create_ticket(None, world.acme.pk, subject=f"t{n}", now=T0)
            results.append(t.number)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    if connection.vendor == "postgresql":
        threads = [threading.Thread(target=create, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for n in range(12):
            create(n)
    assert not errors
    assert sorted(results) == list(range(1, 13))


def test_priority_follows_the_itil_matrix_unless_overridden(world, ticket_of):
    assert ticket_of(impact="high", urgency="high").priority == "P1"
    assert ticket_of(impact="high", urgency="medium").priority == "P2"
    assert ticket_of(impact="low", urgency="high").priority == "P3"
    assert ticket_of(impact="low", urgency="low").priority == "P4"
    t = ticket_of(user=world.technician, impact="low", urgency="low", priority_override="P1")
    assert t.priority == "P1"
    services.update_ticket(who(world.technician), t, {"priority_override": None})
    assert t.priority == "P4"


def test_requesters_cannot_assign_queue_or_override(world, ticket_of):
    with pytest.raises(Forbidden):
        ticket_of(assignee_id=world.technician.pk)
    with pytest.raises(Forbidden):
        ticket_of(priority_override="P1")
    with pytest.raises(Forbidden):
        ticket_of(requester_id=world.viewer.pk)


def test_only_technicians_can_be_assignees(world, ticket_of):
    t = ticket_of()
    with pytest.raises(HelpdeskError):
        services.assign(who(world.technician), t, world.viewer.pk, T0)
    services.assign(who(world.technician), t, world.technician.pk, T0)
    assert t.assignee == world.technician and t.status == "open"


def test_requesters_link_only_their_own_devices(world, ticket_of):
    with pytest.raises(HelpdeskError):
        ticket_of(device_ids=[world.acme_device.pk])
    DeviceAssignment.objects.create(
        organization=world.acme, device=world.acme_device, user=world.requester
    )
    assert list(ticket_of(device_ids=[world.acme_device.pk]).devices.all()) == [world.acme_device]


def test_technicians_never_link_another_organizations_device(world, ticket_of):
    with pytest.raises(HelpdeskError):
        ticket_of(user=world.technician, device_ids=[world.globex_device.pk])


def test_first_public_reply_of_a_technician_is_the_first_response(world, ticket_of):
    t = ticket_of()
    services.add_reply(
        who(world.technician), t, "looking", public=False, now=T0 + timedelta(minutes=5)
    )
    assert t.first_response_at is None and t.status == "new"
    services.add_reply(who(world.technician), t, "on it", now=T0 + timedelta(minutes=9))
    assert t.first_response_at == T0 + timedelta(minutes=9)
    assert t.status == "open"


def test_requester_reply_reopens_a_resolved_ticket(world, ticket_of):
    t = ticket_of()
    services.set_status(who(world.technician), t, "resolved", T0 + timedelta(hours=1))
    assert t.resolved_at is not None
    services.add_reply(who(world.requester), t, "still broken", now=T0 + timedelta(hours=2))
    t.refresh_from_db()
    assert t.status == "open" and t.resolved_at is None
    assert list(t.status_changes.values_list("to_status", flat=True)) == ["new", "resolved", "open"]


def test_requester_reply_resumes_a_pending_ticket(world, ticket_of):
    t = ticket_of()
    services.set_status(who(world.technician), t, "pending", T0)
    services.add_reply(who(world.requester), t, "here is the info", now=T0 + timedelta(hours=1))
    assert t.status == "open"


def test_closed_tickets_refuse_requester_replies(world, ticket_of):
    t = ticket_of()
    services.set_status(who(world.requester), t, "closed", T0)
    with pytest.raises(InvalidState):
        services.add_reply(who(world.requester), t, "hello?", now=T0)
    with pytest.raises(InvalidState):
        services.set_status(who(world.technician), t, "pending", T0)
    services.reopen(who(world.technician), t, T0)
    assert t.status == "open"


def test_requesters_and_viewers_cannot_work_tickets(world, ticket_of):
    t = ticket_of()
    for user in (world.requester, world.viewer):
        with pytest.raises(Forbidden):
            services.set_status(who(user), t, "resolved", T0)
        with pytest.raises(Forbidden):
            services.add_reply(who(user), t, "note", public=False, now=T0)
        with pytest.raises(Forbidden):
            services.add_time_entry(who(user), t, 10)
    with pytest.raises(Forbidden):
        services.add_reply(who(world.viewer), t, "hello", now=T0)


def test_mentions_are_recorded_and_notified(world, ticket_of):
    world.admin.name = "Ada Admin"
    world.admin.save()
    t = ticket_of()
    reply = services.add_reply(
        who(world.technician), t, "@AdaAdmin and @viewer@acme.test, see this", public=False, now=T0
    )
    assert set(Mention.objects.filter(reply=reply).values_list("user", flat=True)) == {
        world.admin.pk,
        world.viewer.pk,
    }
    assert set(t.followers.all()) == {world.admin, world.viewer}
    note = Notification.objects.get(kind="mentioned")
    assert set(note.recipients) == {world.admin.pk, world.viewer.pk}


def test_internal_notes_never_mention_requesters(world, ticket_of):
    t = ticket_of()
    reply = services.add_reply(who(world.technician), t, "ask @requester", public=False, now=T0)
    assert not reply.mentions.exists()


def test_auto_close_after_the_organizations_delay(world, ticket_of):
    a, b = ticket_of(), ticket_of()
    services.set_status(who(world.technician), a, "resolved", T0)
    services.set_status(who(world.technician), b, "resolved", T0 + timedelta(days=3))
    assert services.auto_close_resolved(T0 + timedelta(days=6)) == 0
    assert services.auto_close_resolved(T0 + timedelta(days=7, minutes=1)) == 1
    a.refresh_from_db()
    assert a.status == "closed" and a.closed_at == T0 + timedelta(days=7, minutes=1)
    assert services.auto_close_resolved(T0 + timedelta(days=8)) == 0  # idempotent
    settings = services.settings_for(world.acme.pk)
    settings.auto_close_days = 0
    settings.save()
    assert services.auto_close_resolved(T0 + timedelta(days=30)) == 0
    assert Ticket.objects.get(pk=b.pk).status == "resolved"
