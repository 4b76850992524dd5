from __future__ import annotations

import pytest

from steward.helpdesk import merge, services
from steward.helpdesk.errors import HelpdeskError, InvalidState
from tests.helpdesk.conftest import T0, who

pytestmark = pytest.mark.django_db


def test_merge_moves_everything_and_closes_the_source(world, ticket_of, api):
    target = ticket_of(subject="Printer on floor 2")
    source = ticket_of(user=world.admin, subject="printer again")
    services.add_reply(who(world.admin), source, "flickering screen", now=T0)
    services.add_time_entry(who(world.technician), source, 15)
    services.follow(who(world.viewer), source)
    r = api.as_(world.technician).post(f"tickets/{source.pk}/merge", {"target_id": target.pk})
    assert r.status_code == 200, r.content
    source.refresh_from_db()
    assert source.status == "closed" and source.merged_into == target
    assert target.replies.filter(body="flickering screen").exists()
    assert target.time_entries.count() == 1
    assert set(target.followers.all()) >= {world.viewer, world.admin}
    hits = api.as_(world.technician).get("helpdesk/search?q=flickering&kinds=reply").json()
    assert hits[0]["ticket_id"] == target.pk


def test_merge_refuses_nonsense(world, ticket_of):
    a, b = ticket_of(), ticket_of()
    tech = who(world.technician)
    with pytest.raises(HelpdeskError):
        merge.merge(tech, a, a)
    merge.merge(tech, a, b)
    with pytest.raises(InvalidState):
        merge.merge(tech, a, b)
    globex = services.create_ticket(None, world.globex.pk, subject="x", now=T0)
    with pytest.raises(HelpdeskError):
        merge.merge(None, b, globex)


def test_merge_across_organizations_is_404_for_the_caller(world, ticket_of, api):
    a = ticket_of()
    globex = services.create_ticket(None, world.globex.pk, subject="x", now=T0)
    r = api.as_(world.technician).post(f"tickets/{a.pk}/merge", {"target_id": globex.pk})
    assert r.status_code == 404
