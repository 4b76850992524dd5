"""Full-text search (FTS5 on SQLite, tsvector on PostgreSQL: the suite runs on both)."""

from __future__ import annotations

import pytest

from steward.helpdesk import search, services
from steward.helpdesk.models import Article
from tests.helpdesk.conftest import T0, who

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(world, ticket_of):
    printer = ticket_of(subject="Printer on floor two", description="The printers jam daily")
    vpn = ticket_of(user=world.admin, subject="VPN drops", description="Tunnel resets at noon")
    services.add_reply(who(world.technician), vpn, "Replaced the firewall cable", now=T0)
    services.add_reply(who(world.technician), printer, "toner is low", public=False, now=T0)
    Article.objects.create(
        organization=world.acme,
        title="Fixing printer jams",
        body="Open tray B",
        public=True,
        published=True,
    )
    Article.objects.create(
        organization=world.acme,
        title="Printer admin passwords",
        body="internal",
        public=False,
        published=True,
    )
    services.create_ticket(None, world.globex.pk, subject="Globex printer fire", now=T0)
    return printer, vpn


def kinds(hits):
    return sorted((h.kind, h.title) for h in hits)


def test_staff_find_tickets_replies_and_articles(world, corpus):
    hits = search.search(who(world.technician), "printer")
    assert {h.kind for h in hits} == {"ticket", "article"}
    assert all(h.organization_id == world.acme.pk for h in hits)
    assert [h.ticket_id for h in search.search(who(world.technician), "firewall")] == [corpus[1].pk]
    assert search.search(who(world.technician), "toner")[0].kind == "reply"


def test_stemming_and_prefixes(world, corpus):
    assert search.search(who(world.technician), "jams", kinds=["ticket"])  # "jam" in text
    assert search.search(who(world.technician), "firew", kinds=["reply"])  # prefix


def test_requesters_find_only_what_they_may_read(world, corpus):
    hits = search.search(who(world.requester), "printer")
    assert kinds(hits) == [("article", "Fixing printer jams"), ("ticket", "Printer on floor two")]
    assert search.search(who(world.requester), "toner") == []  # internal note
    assert search.search(who(world.requester), "vpn") == []  # someone else's ticket


def test_outsiders_find_nothing_of_acme(world, corpus):
    hits = search.search(who(world.outsider), "printer")
    assert [h.title for h in hits] == ["Globex printer fire"]


def test_query_syntax_is_inert(world, corpus):
    for query in ['"', "printer OR", "NEAR(", "a:*", "-", "'; drop table x; --", "()"]:
        search.search(who(world.technician), query)


def test_suggested_articles_for_a_draft(world, corpus):
    found = search.suggest_articles(who(world.requester), "Hello, my printer keeps jamming!")
    assert [a.title for a in found] == ["Fixing printer jams"]
    assert search.suggest_articles(who(world.requester), "hello please thanks") == []


def test_ticket_list_q_filter(world, corpus, api):
    r = api.as_(world.technician).get("tickets?q=firewall")
    assert [t["id"] for t in r.json()["items"]] == [corpus[1].pk]
    r = api.as_(world.technician).get(f"tickets?q=%23{corpus[0].number}")
    assert [t["id"] for t in r.json()["items"]] == [corpus[0].pk]


def test_edits_and_deletes_reach_the_index(world, corpus):
    printer, _ = corpus
    printer.subject = "Scanner offline"
    printer.save()
    tech = who(world.technician)
    assert [h.id for h in search.search(tech, "scanner")] == [printer.pk]
    printer.delete()
    assert search.search(tech, "scanner") == []


def test_reindex_rebuilds(world, corpus):
    assert search.reindex() >= 6
    assert search.search(who(world.technician), "firewall")


def test_suggest_and_search_routes(world, corpus, api):
    r = api.as_(world.requester).get("kb/suggest?text=printer+jam")
    assert [a["title"] for a in r.json()] == ["Fixing printer jams"]
    r = api.as_(world.requester).get("helpdesk/search?q=printer&kinds=article")
    assert [h["title"] for h in r.json()] == ["Fixing printer jams"]
