"""The staff help desk pages: queues, the ticket page and what each persona may do there.

Personas from tests/server/conftest.py: Acme's technician works tickets, its viewer reads
them, its requester only has the portal (404 here), Globex's owner (the outsider) sees
nothing of Acme.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from tests.server.conftest import make_device

from steward.console.helpdesk import device_lookup
from steward.helpdesk import services
from steward.helpdesk.models import (
    CannedResponse,
    Queue,
    Reply,
    SlaEvent,
    SlaPolicy,
    Status,
    Ticket,
    TimeEntry,
)
from steward.tenancy.scoping import Principal

pytestmark = pytest.mark.django_db


def who(user) -> Principal:
    return Principal(user=user)


STAFF_FIELDS = {"assignee_id", "queue_id", "priority_override", "tags"}


def open_ticket(world, subject="Printer jammed on floor 2", user=None, **kw) -> Ticket:
    """A ticket of Acme's requester; opened by the technician when staff fields are set."""
    if user is None and STAFF_FIELDS & set(kw):
        user, kw = world.technician, {"requester_id": world.requester.pk, **kw}
    kw.setdefault("description", "It **blinks** red.")
    return services.create_ticket(
        who(user or world.requester), world.acme.pk, subject=subject, **kw
    )


@pytest.fixture
def ticket(world) -> Ticket:
    return open_ticket(world)


@pytest.fixture
def globex_ticket(world) -> Ticket:
    return services.create_ticket(
        who(world.outsider), world.globex.pk, subject="Globex secret outage"
    )


# ---------------------------------------------------------------- who gets in


def test_technician_sees_the_open_queue(client, world, ticket):
    client.force_login(world.technician)
    response = client.get("/tickets/")
    assert response.status_code == 200
    assert b"Printer jammed on floor 2" in response.content
    assert b"Assign to me" in response.content  # bulk actions for technicians


def test_viewer_reads_the_queue_without_bulk_actions(client, world, ticket):
    client.force_login(world.viewer)
    response = client.get("/tickets/")
    assert response.status_code == 200
    assert b"Printer jammed on floor 2" in response.content
    assert b"Assign to me" not in response.content
    page = client.get(f"/tickets/{ticket.pk}/")
    assert page.status_code == 200
    assert b'action="/tickets/%d/reply/"' % ticket.pk not in page.content


def test_viewer_cannot_post_replies(client, world, ticket):
    client.force_login(world.viewer)
    response = client.post(f"/tickets/{ticket.pk}/reply/", {"body": "hi", "visibility": "public"})
    assert response.status_code == 403
    assert not Reply.objects.filter(ticket=ticket).exists()


@pytest.mark.parametrize(
    "url",
    [
        "/tickets/",
        "/tickets/mine/",
        "/tickets/new/",
        "/knowledge-base/",
        "/reports/helpdesk/",
        "/reports/helpdesk/time.csv",
    ],
)
def test_requester_gets_404_on_staff_pages(client, world, url):
    client.force_login(world.requester)
    assert client.get(url).status_code == 404


def test_requester_gets_404_on_their_own_ticket_in_the_console(client, world, ticket):
    client.force_login(world.requester)
    assert client.get(f"/tickets/{ticket.pk}/").status_code == 404


def test_outsider_gets_404_on_acme_tickets(client, world, ticket):
    client.force_login(world.outsider)
    assert client.get(f"/tickets/{ticket.pk}/").status_code == 404
    assert client.post(f"/tickets/{ticket.pk}/reply/", {"body": "x"}).status_code == 404
    assert client.post(f"/tickets/{ticket.pk}/update/", {"status": "closed"}).status_code == 404
    listing = client.get("/tickets/all/")
    assert listing.status_code == 200
    assert b"Printer jammed" not in listing.content


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/tickets/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# ---------------------------------------------------------------- views and filters


def test_views_split_mine_and_unassigned(client, world):
    mine = open_ticket(world, "Mine to fix", assignee_id=world.technician.pk)
    loose = open_ticket(world, "Nobody on it yet")
    client.force_login(world.technician)
    page = client.get("/tickets/mine/").content.decode()
    assert mine.subject in page and loose.subject not in page
    page = client.get("/tickets/unassigned/").content.decode()
    assert loose.subject in page and mine.subject not in page


def test_queue_view_lists_only_that_queue(client, world):
    network = Queue.objects.create(organization=world.acme, name="Network")
    open_ticket(world, "Wi-Fi down", queue_id=network.pk)
    open_ticket(world, "Toner empty")
    client.force_login(world.technician)
    page = client.get(f"/tickets/queue/{network.pk}/").content.decode()
    assert "Wi-Fi down" in page and "Toner empty" not in page
    other = Queue.objects.create(organization=world.globex, name="Globex ops")
    assert client.get(f"/tickets/queue/{other.pk}/").status_code == 404


def test_breaching_soon_lists_tickets_with_a_near_deadline(client, world):
    SlaPolicy.objects.create(organization=world.acme, name="24x7", is_default=True, weekly_hours={})
    urgent = open_ticket(world, "Server room hot", impact="high", urgency="high")  # P1: 30 min
    calm = open_ticket(world, "New mouse please", impact="low", urgency="low")  # P4: 8 h
    client.force_login(world.technician)
    page = client.get("/tickets/breaching/").content.decode()
    assert urgent.subject in page and calm.subject not in page
    assert "left" in page  # the SLA badge tells the time left


def test_sla_breached_lists_open_tickets_with_a_missed_target(client, world, globex_ticket):
    late = open_ticket(world, "Late ticket")
    SlaEvent.objects.create(ticket=late, target="first_response", kind=SlaEvent.BREACH)
    very_late = open_ticket(world, "Very late ticket", assignee_id=world.technician.pk)
    for target in ("first_response", "resolution"):  # listed once, counted once
        SlaEvent.objects.create(ticket=very_late, target=target, kind=SlaEvent.BREACH)
    warned = open_ticket(world, "Only warned")
    SlaEvent.objects.create(ticket=warned, target="resolution", kind=SlaEvent.WARNING)
    open_ticket(world, "On time")
    closed = open_ticket(world, "Closed late")
    SlaEvent.objects.create(ticket=closed, target="resolution", kind=SlaEvent.BREACH)
    Ticket.objects.filter(pk=closed.pk).update(status=Status.CLOSED)
    SlaEvent.objects.create(ticket=globex_ticket, target="resolution", kind=SlaEvent.BREACH)
    client.force_login(world.technician)

    response = client.get("/tickets/breached/")

    assert response.status_code == 200
    # Same priority: the newest first.
    assert [r.ticket.pk for r in response.context["rows"]] == [very_late.pk, late.pk]
    assert response.context["page_obj"].paginator.count == 2
    assert response.context["hd_counts"]["breached"] == 2
    page = response.content.decode()
    assert "<h1>SLA breached</h1>" in page
    assert 'href="/tickets/breached/" aria-current="page"' in page
    for absent in ("Only warned", "On time", "Closed late", "Globex secret outage"):
        assert absent not in page, absent
    # The status filter still applies in the view: its closed tickets with a breach.
    closed_page = client.get("/tickets/breached/?status=closed")
    assert [r.ticket.pk for r in closed_page.context["rows"]] == [closed.pk]
    # Another organization's owner sees only theirs.
    client.force_login(world.outsider)
    response = client.get("/tickets/breached/")
    assert [r.ticket.pk for r in response.context["rows"]] == [globex_ticket.pk]
    assert response.context["hd_counts"]["breached"] == 1


def test_search_uses_the_help_desk_index(client, world):
    open_ticket(world, "Outlook keeps asking for a password")
    open_ticket(world, "Monitor flickers")
    client.force_login(world.technician)
    page = client.get("/tickets/?q=outlook").content.decode()
    assert "Outlook keeps asking" in page and "Monitor flickers" not in page


def test_status_and_priority_filters(client, world):
    open_ticket(world, "Pending one").status  # noqa: B018
    high = open_ticket(world, "Big problem", impact="high", urgency="high")
    client.force_login(world.technician)
    page = client.get("/tickets/?priority=P1").content.decode()
    assert high.subject in page and "Pending one" not in page


# ---------------------------------------------------------------- bulk actions


def test_bulk_assign_to_me(client, world):
    a, b = open_ticket(world, "One"), open_ticket(world, "Two")
    client.force_login(world.technician)
    response = client.post(
        "/tickets/bulk/",
        {"ticket": [a.pk, b.pk], "quick": "assign_me", "next": "/tickets/unassigned/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/tickets/unassigned/"
    assert set(Ticket.objects.values_list("assignee_id", flat=True)) == {world.technician.pk}
    assert set(Ticket.objects.values_list("status", flat=True)) == {Status.OPEN}


def test_bulk_status_priority_and_close(client, world):
    a, b = open_ticket(world, "One"), open_ticket(world, "Two")
    client.force_login(world.technician)
    client.post("/tickets/bulk/", {"ticket": [a.pk, b.pk], "action": "priority:P1"})
    assert set(Ticket.objects.values_list("priority", flat=True)) == {"P1"}
    client.post("/tickets/bulk/", {"ticket": [a.pk], "action": "status:pending"})
    a.refresh_from_db()
    assert a.status == Status.PENDING
    client.post("/tickets/bulk/", {"ticket": [a.pk, b.pk], "quick": "close"})
    assert set(Ticket.objects.values_list("status", flat=True)) == {Status.CLOSED}


def test_bulk_assign_to_a_colleague(client, world, ticket):
    client.force_login(world.technician)
    client.post("/tickets/bulk/", {"ticket": [ticket.pk], "action": f"assign:{world.admin.pk}"})
    ticket.refresh_from_db()
    assert ticket.assignee == world.admin


def test_bulk_refuses_a_requester_as_assignee_and_reports_it(client, world, ticket):
    client.force_login(world.technician)
    response = client.post(
        "/tickets/bulk/",
        {"ticket": [ticket.pk], "action": f"assign:{world.requester.pk}"},
        follow=True,
    )
    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert "Not changed" in response.content.decode()


def test_bulk_skips_other_organizations_tickets(client, world, ticket, globex_ticket):
    client.force_login(world.technician)
    client.post("/tickets/bulk/", {"ticket": [ticket.pk, globex_ticket.pk], "quick": "close"})
    ticket.refresh_from_db()
    globex_ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert globex_ticket.status == Status.NEW


def test_bulk_needs_csrf(world, ticket):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.technician)
    response = strict.post("/tickets/bulk/", {"ticket": [ticket.pk], "quick": "close"})
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_viewer_bulk_changes_nothing(client, world, ticket):
    client.force_login(world.viewer)
    client.post("/tickets/bulk/", {"ticket": [ticket.pk], "quick": "close"})
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


# ---------------------------------------------------------------- the ticket page


def test_ticket_page_shows_notes_and_replies_distinctly(client, world, ticket):
    services.add_reply(who(world.technician), ticket, "We are **on it**.", public=True)
    services.add_reply(who(world.technician), ticket, "Toner order #55 placed.", public=False)
    client.force_login(world.technician)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "<strong>on it</strong>" in page  # Markdown rendered
    assert "Toner order #55 placed." in page
    assert "msg-internal" in page and "Internal note" in page
    assert "msg-public" in page


def test_ticket_markdown_is_sanitized(client, world):
    t = open_ticket(world, "XSS", description="<script>alert(1)</script> [x](javascript:alert(1))")
    client.force_login(world.technician)
    page = client.get(f"/tickets/{t.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert 'href="javascript:' not in page


def test_technician_replies_publicly_and_sets_status(client, world, ticket):
    client.force_login(world.technician)
    response = client.post(
        f"/tickets/{ticket.pk}/reply/",
        {"body": "Please restart it.", "visibility": "public", "then_status": "pending"},
    )
    assert response.status_code == 302
    reply = Reply.objects.get(ticket=ticket)
    assert reply.public and reply.via == "console"
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert ticket.first_response_at is not None


def test_technician_adds_an_internal_note(client, world, ticket):
    client.force_login(world.technician)
    client.post(
        f"/tickets/{ticket.pk}/reply/", {"body": "Check the fuser.", "visibility": "internal"}
    )
    assert Reply.objects.get(ticket=ticket).public is False
    ticket.refresh_from_db()
    assert ticket.first_response_at is None  # a note is not a response


def test_empty_reply_shows_the_error_on_the_page(client, world, ticket):
    client.force_login(world.technician)
    response = client.post(f"/tickets/{ticket.pk}/reply/", {"body": "", "visibility": "public"})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_canned_response_fills_the_reply_without_javascript(client, world, ticket):
    canned = CannedResponse.objects.create(
        organization=world.acme, title="Restart", body="Have you tried turning it off and on?"
    )
    client.force_login(world.technician)
    page = client.get(f"/tickets/{ticket.pk}/?canned={canned.pk}").content.decode()
    assert "Have you tried turning it off and on?</textarea>" in page


def test_side_panel_updates_fields(client, world, ticket):
    queue = Queue.objects.create(organization=world.acme, name="Printers")
    client.force_login(world.technician)
    response = client.post(
        f"/tickets/{ticket.pk}/update/",
        {
            "status": "open",
            "assignee": str(world.technician.pk),
            "priority_override": "P2",
            "impact": "medium",
            "urgency": "medium",
            "queue": str(queue.pk),
            "category": "",
            "tags": "printer, Floor-2",
        },
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.assignee == world.technician
    assert ticket.priority == "P2"
    assert ticket.queue == queue
    assert sorted(t.name for t in ticket.tags.all()) == ["floor-2", "printer"]


def test_resolve_button(client, world, ticket):
    client.force_login(world.technician)
    client.post(f"/tickets/{ticket.pk}/update/", {"status": "resolved"})
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


def test_follow_and_unfollow(client, world, ticket):
    client.force_login(world.viewer)  # following is reading, viewers may
    client.post(f"/tickets/{ticket.pk}/follow/", {"on": "1"})
    assert ticket.followers.filter(pk=world.viewer.pk).exists()
    client.post(f"/tickets/{ticket.pk}/follow/", {"on": "0"})
    assert not ticket.followers.filter(pk=world.viewer.pk).exists()


def test_time_entries_are_added_and_listed(client, world, ticket):
    client.force_login(world.technician)
    client.post(
        f"/tickets/{ticket.pk}/time/", {"minutes": "25", "note": "Replaced fuser", "billable": "on"}
    )
    client.post(f"/tickets/{ticket.pk}/time/", {"minutes": "10", "note": "Travel"})
    entries = TimeEntry.objects.filter(ticket=ticket).order_by("id")
    assert [(e.minutes, e.billable) for e in entries] == [(25, True), (10, False)]
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "35 min" in page and "25 billable" in page and "Replaced fuser" in page


def test_time_entry_rejects_nonsense(client, world, ticket):
    client.force_login(world.technician)
    response = client.post(f"/tickets/{ticket.pk}/time/", {"minutes": "0"})
    assert response.status_code == 400
    assert not TimeEntry.objects.exists()


def test_link_and_unlink_a_device(client, world, ticket):
    client.force_login(world.technician)
    client.post(f"/tickets/{ticket.pk}/devices/", {"add": world.acme_device.pk})
    assert list(ticket.devices.all()) == [world.acme_device]
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert f'href="/devices/{world.acme_device.pk}/"' in page
    client.post(f"/tickets/{ticket.pk}/devices/", {"remove": world.acme_device.pk})
    assert not ticket.devices.exists()


def test_cannot_link_another_organizations_device(client, world, ticket):
    client.force_login(world.technician)
    client.post(f"/tickets/{ticket.pk}/devices/", {"add": world.globex_device.pk})
    assert not ticket.devices.exists()
    response = client.post(
        f"/tickets/{ticket.pk}/devices/", {"device": world.globex_device.hostname}, follow=True
    )
    assert not ticket.devices.exists()
    assert "No device named &#x27;globex-srv-01&#x27; that you can link here." in (
        response.content.decode()
    )


def test_any_device_is_linked_by_host_name_beyond_the_suggested_ones(
    client, world, ticket, monkeypatch
):
    """The page suggests the first names only; a device past them is typed and linked (a
    select of the first 300 used to leave the rest of a large organization unlinkable)."""
    monkeypatch.setattr(device_lookup, "SUGGESTIONS_MAX", 2)
    make_device(world.acme_hq, "acme-ws-02")
    late = make_device(world.acme_hq, "zz-warehouse-07", display_name="Warehouse scanner")
    client.force_login(world.technician)

    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert '<option value="acme-ws-02">' in page and "zz-warehouse-07" not in page

    client.post(f"/tickets/{ticket.pk}/devices/", {"device": " Warehouse Scanner "})
    assert list(ticket.devices.all()) == [late]
    client.post(f"/tickets/{ticket.pk}/devices/", {"device": "acme-ws-02"})
    assert ticket.devices.count() == 2


def test_a_new_ticket_with_an_unknown_device_keeps_the_form_and_says_so(client, world):
    client.force_login(world.technician)
    response = client.post(
        "/tickets/new/",
        {"organization": world.acme.pk, "requester": world.requester.pk, "subject": "Slow",
         "impact": "low", "urgency": "low", "device": world.globex_device.hostname},
    )  # fmt: skip
    assert response.status_code == 400
    assert "No device named &#x27;globex-srv-01&#x27;" in response.content.decode()
    assert not Ticket.objects.filter(subject="Slow").exists()


def test_merge_into_another_ticket(client, world):
    source, target = open_ticket(world, "Dup"), open_ticket(world, "Original")
    services.add_reply(who(world.requester), source, "More details here.")
    client.force_login(world.technician)
    response = client.post(f"/tickets/{source.pk}/merge/", {"target": f"#{target.number}"})
    assert response["Location"] == f"/tickets/{target.pk}/"
    source.refresh_from_db()
    assert source.merged_into == target and source.status == Status.CLOSED
    assert Reply.objects.filter(ticket=target, body="More details here.").exists()


def test_merge_into_unknown_number_changes_nothing(client, world, ticket, globex_ticket):
    client.force_login(world.technician)
    client.post(f"/tickets/{ticket.pk}/merge/", {"target": str(globex_ticket.number)})
    ticket.refresh_from_db()
    assert ticket.merged_into is None


def test_sla_panel_shows_targets(client, world):
    SlaPolicy.objects.create(organization=world.acme, name="Business hours", weekly_hours={})
    SlaPolicy.objects.filter(name="Business hours").update(is_default=True)
    t = open_ticket(world, "Slow VPN")
    client.force_login(world.technician)
    page = client.get(f"/tickets/{t.pk}/").content.decode()
    assert "Business hours" in page
    assert "First response" in page and "Resolution" in page
    assert "On track" in page


def test_sla_panel_shows_a_breach(client, world):
    SlaPolicy.objects.create(organization=world.acme, name="24x7", is_default=True, weekly_hours={})
    long_ago = timezone.now() - timedelta(hours=10)
    t = services.create_ticket(
        who(world.requester),
        world.acme.pk,
        subject="Down",
        impact="high",
        urgency="high",
        now=long_ago,
    )
    client.force_login(world.technician)
    page = client.get(f"/tickets/{t.pk}/").content.decode()
    assert "Breached" in page and "over" in page


# ---------------------------------------------------------------- create on behalf


def test_technician_opens_a_ticket_for_a_requester(client, world):
    client.force_login(world.technician)
    assert client.get("/tickets/new/").status_code == 200
    response = client.post(
        "/tickets/new/",
        {
            "organization": world.acme.pk,
            "requester": world.requester.pk,
            "subject": "Phone call: laptop won't boot",
            "description": "Called at 9:05.",
            "impact": "medium",
            "urgency": "high",
            "assignee": world.technician.pk,
            "device": "ACME-WS-01",  # a host name, any case
            "tags": "laptop",
        },
    )
    ticket = Ticket.objects.get(subject="Phone call: laptop won't boot")
    assert response["Location"] == f"/tickets/{ticket.pk}/"
    assert ticket.requester == world.requester and ticket.source == "console"
    assert ticket.assignee == world.technician and ticket.priority == "P2"
    assert list(ticket.devices.all()) == [world.acme_device]


def test_viewer_cannot_open_tickets_for_others(client, world):
    client.force_login(world.viewer)
    assert client.get("/tickets/new/").status_code == 403
