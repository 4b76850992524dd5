"""Search and the ticket list's ``q`` under the bounded query shape: only the newest
``WINDOW`` visible matches are ranked, visibility is checked on every match before the
window is cut, and a list whose ``q`` overflows the window says its count is a floor."""

from __future__ import annotations

import pytest

from steward.helpdesk import search, services
from steward.helpdesk.models import Article, HelpdeskSettings, Ticket
from tests.helpdesk.conftest import T0, who

pytestmark = pytest.mark.django_db


def test_the_best_match_comes_first(world, ticket_of):
    weak = ticket_of(subject="Monitor", description="one mention of the scanner at the end")
    strong = ticket_of(subject="Scanner scanner", description="scanner offline, scanner dead")
    hits = search.search(who(world.technician), "scanner", kinds=["ticket"])
    assert [h.id for h in hits] == [strong.pk, weak.pk]


def test_a_requesters_own_old_ticket_is_found_behind_newer_matches_of_others(
    world, ticket_of, monkeypatch
):
    mine = ticket_of(subject="Scanner broken")
    for n in range(5):
        ticket_of(user=world.admin, subject=f"Scanner {n}")
    monkeypatch.setattr(search, "WINDOW", 3)
    hits = search.search(who(world.requester), "scanner")
    assert [h.id for h in hits] == [mine.pk]  # the window holds visible matches only


def test_over_the_window_the_newest_matches_are_ranked(world, ticket_of, monkeypatch):
    tickets = [ticket_of(user=world.admin, subject=f"Scanner {n}") for n in range(5)]
    monkeypatch.setattr(search, "WINDOW", 3)
    hits = search.search(who(world.technician), "scanner", kinds=["ticket"])
    assert sorted(h.id for h in hits) == sorted(t.pk for t in tickets[-3:])


def test_internal_notes_never_reach_a_requesters_snippets(world, ticket_of):
    ticket = ticket_of(subject="Laptop slow")
    services.add_reply(who(world.technician), ticket, "secret quarantine note", public=False)
    services.add_reply(who(world.technician), ticket, "public quarantine advice", now=T0)
    hits = search.search(who(world.requester), "quarantine")
    assert [h.kind for h in hits] == ["reply"]
    assert "secret" not in hits[0].snippet and "advice" in hits[0].snippet
    staff = search.search(who(world.technician), "quarantine")
    assert len(staff) == 2


def test_requesters_of_open_organizations_search_every_ticket_but_no_internal_note(
    world, ticket_of
):
    HelpdeskSettings.objects.update_or_create(
        organization=world.acme, defaults={"requesters_see_org_tickets": True}
    )
    other = ticket_of(user=world.admin, subject="Dock flickers")
    services.add_reply(who(world.technician), other, "dock firmware internal", public=False)
    hits = search.search(who(world.requester), "dock")
    assert [(h.kind, h.id) for h in hits] == [("ticket", other.pk)]


def test_drafts_and_private_articles_stay_with_staff(world):
    Article.objects.create(
        organization=world.acme, title="Dock draft", body="x", public=True, published=False
    )
    Article.objects.create(
        organization=world.acme, title="Dock guide", body="x", public=True, published=True
    )
    assert [h.title for h in search.search(who(world.requester), "dock")] == ["Dock guide"]
    assert len(search.search(who(world.technician), "dock")) == 2
    assert search.search(who(world.outsider), "dock") == []


def test_ticket_list_q_keeps_the_other_filters_inside_the_window(
    world, ticket_of, api, monkeypatch
):
    wanted = ticket_of(subject="Router down")
    for n in range(4):
        services.set_status(
            who(world.technician), ticket_of(subject=f"Router {n}"), "resolved", now=T0
        )
    monkeypatch.setattr(search, "WINDOW", 2)
    r = api.as_(world.technician).get("tickets?q=router&status=new")
    assert [t["id"] for t in r.json()["items"]] == [wanted.pk]
    assert r.json()["count"] == 1 and r.json()["count_complete"] is True


def test_ticket_list_q_says_when_its_count_is_a_floor(world, ticket_of, api, monkeypatch):
    for n in range(4):
        ticket_of(subject=f"Router {n}")
    monkeypatch.setattr(search, "WINDOW", 2)
    body = api.as_(world.technician).get("tickets?q=router").json()
    assert body["count"] == 2 and body["count_complete"] is False
    body = api.as_(world.technician).get("tickets?q=unmatched").json()
    assert body["count"] == 0 and body["count_complete"] is True


def test_ticket_list_q_for_a_requester_skips_internal_notes(world, ticket_of, api):
    ticket = ticket_of(subject="Laptop")
    services.add_reply(who(world.technician), ticket, "bitlocker recovery", public=False)
    assert api.as_(world.requester).get("tickets?q=bitlocker").json()["items"] == []
    items = api.as_(world.technician).get("tickets?q=bitlocker").json()["items"]
    assert [t["id"] for t in items] == [ticket.pk]


def test_ticket_list_q_never_crosses_organizations(world, api):
    services.create_ticket(None, world.globex.pk, subject="Globex router", now=T0)
    assert api.as_(world.technician).get("tickets?q=router").json()["items"] == []
    assert Ticket.objects.filter(subject="Globex router").exists()
