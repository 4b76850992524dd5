"""Query-count baselines: the list pages cost the same whatever the number of rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.server.conftest import make_device, make_user

from steward.accounts.models import ApiToken
from steward.inventory.models import EnrollmentToken
from steward.tenancy.models import Site
from steward.tenancy.roles import Role

pytestmark = pytest.mark.django_db


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def grow(world, n: int) -> None:
    for i in range(n):
        site = Site.objects.create(organization=world.acme, name=f"grow-{n}-{i}")
        make_device(site, f"dev-{n}-{i}")
        make_user(f"user-{n}-{i}@acme.test", world.acme, Role.VIEWER)
        EnrollmentToken.issue(site, f"t-{n}-{i}", timedelta(hours=1), created_by=world.admin)
        ApiToken.issue(world.admin, f"api-{n}-{i}")


@pytest.mark.parametrize(
    "url",
    [
        "/settings/organizations/",
        "/settings/sites/",
        "/settings/users/",
        "/settings/enrollment-tokens/",
        "/settings/api-tokens/",
        "/settings/audit/",
    ],
)
def test_list_pages_do_not_grow_with_rows(client, world, url):
    client.force_login(world.admin)
    grow(world, 2)
    few = queries(client, url)
    grow(world, 10)
    assert queries(client, url) == few
