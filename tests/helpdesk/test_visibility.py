"""Requesters see their own tickets and public replies only; outsiders see nothing."""

from __future__ import annotations

import pytest

from steward.helpdesk import services
from steward.helpdesk.visibility import visible_tickets
from tests.helpdesk.conftest import T0, who
from tests.server.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_requester(world):
    from steward.tenancy.roles import Role

    return make_user("other@acme.test", world.acme, Role.REQUESTER)


def test_a_requester_sees_only_their_own_tickets(world, ticket_of, other_requester, api):
    mine = ticket_of()
    theirs = ticket_of(user=other_requester, subject="VPN down")
    assert list(visible_tickets(who(world.requester))) == [mine]
    client = api.as_(world.requester)
    assert [t["id"] for t in client.get("tickets").json()["items"]] == [mine.pk]
    assert client.get(f"tickets/{theirs.pk}").status_code == 404
    assert client.post(f"tickets/{theirs.pk}/replies", {"body": "hi"}).status_code == 404
    assert client.get("helpdesk/search?q=vpn").json() == []


def test_the_organization_setting_opens_the_organizations_tickets(
    world, ticket_of, other_requester
):
    theirs = ticket_of(user=other_requester)
    settings = services.settings_for(world.acme.pk)
    settings.requesters_see_org_tickets = True
    settings.save()
    assert list(visible_tickets(who(world.requester))) == [theirs]


def test_internal_notes_and_time_are_hidden_from_requesters(world, ticket_of, api):
    t = ticket_of()
    services.add_reply(who(world.technician), t, "secret root password hint", public=False, now=T0)
    services.add_reply(who(world.technician), t, "we are on it", now=T0)
    services.add_time_entry(who(world.technician), t, 30)
    body = api.as_(world.requester).get(f"tickets/{t.pk}").json()
    assert [r["body"] for r in body["replies"]] == ["we are on it"]
    assert body["time_spent_minutes"] is None
    assert api.as_(world.requester).get(f"tickets/{t.pk}/time-entries").status_code == 403
    assert api.as_(world.requester).get("helpdesk/search?q=secret").json() == []
    staff = api.as_(world.viewer).get(f"tickets/{t.pk}").json()
    assert len(staff["replies"]) == 2 and staff["time_spent_minutes"] == 30
    hits = api.as_(world.technician).get("helpdesk/search?q=secret").json()
    assert [h["kind"] for h in hits] == ["reply"]


def test_a_requester_token_ceiling_applies_the_requester_rule(world, ticket_of):
    from steward.tenancy.roles import Role

    ticket_of()
    assert not visible_tickets(who(world.owner, Role.REQUESTER)).exists()
    assert visible_tickets(who(world.owner)).count() == 1


def test_another_organization_gets_404_everywhere(world, ticket_of, api):
    t = ticket_of()
    client = api.as_(world.outsider)
    assert client.get("tickets").json()["count"] == 0
    for method, path, body in [
        ("GET", f"tickets/{t.pk}", None),
        ("PATCH", f"tickets/{t.pk}", {"status": "closed"}),
        ("POST", f"tickets/{t.pk}/replies", {"body": "x"}),
        ("POST", f"tickets/{t.pk}/assign", {"me": True}),
        ("POST", f"tickets/{t.pk}/close", {}),
        ("POST", f"tickets/{t.pk}/follow", {}),
        ("GET", f"tickets/{t.pk}/attachments", None),
        ("POST", "tickets", {"organization_id": world.acme.pk, "subject": "x"}),
    ]:
        assert client.call(method, path, body).status_code == 404, (method, path)
    t.refresh_from_db()
    assert t.status == "new" and not t.replies.exists()


def test_viewers_read_but_cannot_reply(world, ticket_of, api):
    t = ticket_of()
    client = api.as_(world.viewer)
    assert client.get(f"tickets/{t.pk}").status_code == 200
    assert client.post(f"tickets/{t.pk}/replies", {"body": "x"}).status_code == 403
    assert client.patch(f"tickets/{t.pk}", {"status": "open"}).status_code == 403
