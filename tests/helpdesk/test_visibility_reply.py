"""Who may reply publicly: the same rule as who may read."""

from __future__ import annotations

import pytest

from steward.helpdesk import services
from steward.helpdesk.models import HelpdeskSettings
from steward.helpdesk.visibility import may_reply_publicly
from steward.tenancy.models import Membership
from steward.tenancy.roles import Role
from steward.tenancy.scoping import Principal
from tests.server.conftest import make_user

pytestmark = pytest.mark.django_db


def test_another_requester_may_not_reply_unless_the_org_shares_tickets(world):
    ticket = services.create_ticket(
        Principal(world.requester), world.acme.pk, subject="Printer", description="x"
    )
    colleague = make_user("colleague@acme.test", world.acme, Role.REQUESTER)
    assert not may_reply_publicly(Principal(colleague), ticket)
    HelpdeskSettings.objects.update_or_create(
        organization=world.acme, defaults={"requesters_see_org_tickets": True}
    )
    assert may_reply_publicly(Principal(colleague), ticket)
    assert Membership.objects.filter(user=colleague).exists()
