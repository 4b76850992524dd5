from __future__ import annotations

from datetime import UTC, datetime

import pytest

from steward.tenancy.scoping import Principal
from tests.server.conftest import *  # noqa: F403

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(autouse=True)
def _helpdesk_home(settings, tmp_path):
    """Attachments are stored under STEWARD_HOME: a throw-away one per test."""
    settings.STEWARD_HOME = tmp_path / "home"


def who(user, role=None) -> Principal:
    return Principal(user=user, token_role=role)


@pytest.fixture
def ticket_of(world):
    """Open a ticket in Acme as ``user`` (default: the requester)."""

    def make(user=None, subject="Printer jammed", now=T0, **kw):
        from steward.helpdesk import services

        user = user or world.requester
        return services.create_ticket(who(user), world.acme.pk, subject=subject, now=now, **kw)

    return make
