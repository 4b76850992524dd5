"""Every Acme object URL of the management pages is a 404 for Globex's owner."""

from __future__ import annotations

from datetime import timedelta

import pytest

from steward.inventory.models import EnrollmentToken
from steward.tenancy.models import Membership

pytestmark = pytest.mark.django_db

URLS = [
    ("get", "/settings/organizations/{org}/edit/"),
    ("post", "/settings/organizations/{org}/edit/"),
    ("get", "/settings/sites/{site}/edit/"),
    ("post", "/settings/sites/{site}/edit/"),
    ("get", "/settings/sites/{site}/delete/"),
    ("post", "/settings/sites/{site}/delete/"),
    ("get", "/settings/memberships/{membership}/edit/"),
    ("post", "/settings/memberships/{membership}/edit/"),
    ("post", "/settings/memberships/{membership}/delete/"),
    ("post", "/settings/enrollment-tokens/{token}/revoke/"),
]


@pytest.mark.parametrize(("method", "url"), URLS)
def test_outsider_gets_404_on_acme_objects(client, world, method, url):
    token, _ = EnrollmentToken.issue(world.acme_hq, "t", timedelta(hours=1))
    ids = {
        "org": world.acme.pk,
        "site": world.acme_hq.pk,
        "membership": Membership.objects.get(user=world.viewer).pk,
        "token": token.pk,
    }
    client.force_login(world.outsider)
    response = getattr(client, method)(url.format(**ids), {"name": "x", "role": "owner"})
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "url"), URLS)
def test_unknown_ids_are_404_too(client, world, method, url):
    client.force_login(world.superuser)
    response = getattr(client, method)(url.format(org=999, site=999, membership=999, token=999))
    assert response.status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/settings/organizations/",
        "/settings/sites/",
        "/settings/users/",
        "/settings/enrollment-tokens/",
        "/settings/audit/",
    ],
)
def test_outsider_lists_show_nothing_of_acme(client, world, url):
    EnrollmentToken.issue(world.acme_hq, "acme-token", timedelta(hours=1))
    client.force_login(world.outsider)
    response = client.get(url)
    assert response.status_code == 200
    for acme_thing in ("acme.test", "acme-token", "acme-ws-01", ">HQ<", ">Acme<"):
        assert acme_thing not in response.text


def test_the_organization_switcher_narrows_the_lists(client, world):
    Membership.objects.create(user=world.outsider, organization=world.acme, role="admin")
    client.force_login(world.outsider)
    session = client.session
    session["steward_org_id"] = world.globex.pk
    session.save()
    sites = client.get("/settings/sites/").context["page"].object_list
    assert [s.name for s in sites] == ["Plant"]
    users = client.get("/settings/users/").context["page"].object_list
    assert {m.organization_id for m in users} == {world.globex.pk}
