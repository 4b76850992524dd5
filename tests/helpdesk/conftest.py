from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.conf import settings as django_settings

from steward.tenancy.scoping import Principal
from tests.server.conftest import *  # noqa: F403

# Until the lead adds "steward.helpdesk" to INSTALLED_APPS (tests/helpdesk/LEAD_TODO.md),
# the help desk's models cannot load: skip collecting these tests instead of breaking the
# whole suite. Run them early with a settings module that adds the app.
INSTALLED = "steward.helpdesk" in django_settings.INSTALLED_APPS
collect_ignore_glob = [] if INSTALLED else ["test_*.py", "isolation.py", "urls.py"]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(autouse=True)
def _helpdesk_urls(settings, tmp_path):
    from tests.helpdesk import urls

    if not urls.MOUNTED:
        settings.ROOT_URLCONF = "tests.helpdesk.urls"
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
