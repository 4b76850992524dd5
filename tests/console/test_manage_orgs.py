"""Organizations page: who sees, creates and edits organizations."""

from __future__ import annotations

import pytest

from steward.tenancy.models import Membership, Organization
from steward.tenancy.roles import Role

pytestmark = pytest.mark.django_db


def test_members_see_their_organizations_with_role_and_counts(client, world):
    client.force_login(world.admin)
    response = client.get("/settings/organizations/")
    assert response.status_code == 200
    orgs = response.context["organizations"]
    assert [o.name for o in orgs] == ["Acme"]
    acme = orgs[0]
    assert (acme.my_role, acme.site_count, acme.device_count, acme.member_count) == (
        Role.ADMIN,
        1,
        1,
        5,
    )
    assert "Globex" not in response.text


def test_outsider_does_not_see_acme(client, world):
    client.force_login(world.outsider)
    response = client.get("/settings/organizations/")
    assert "Acme" not in response.text
    assert "Globex" in response.text


def test_only_owners_get_the_edit_button(client, world):
    client.force_login(world.admin)
    assert (
        f"/settings/organizations/{world.acme.pk}/edit/"
        not in client.get("/settings/organizations/").text
    )
    client.force_login(world.owner)
    assert (
        f"/settings/organizations/{world.acme.pk}/edit/"
        in client.get("/settings/organizations/").text
    )


def test_it_anonymous_is_sent_to_sign_in(client, world):
    response = client.get("/settings/organizations/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_non_superusers_cannot_create_organizations(client, world):
    client.force_login(world.owner)
    assert client.get("/settings/organizations/new/").status_code == 403
    assert client.post("/settings/organizations/new/", {"name": "Initech"}).status_code == 403
    assert not Organization.objects.filter(name="Initech").exists()
    assert "/settings/organizations/new/" not in client.get("/settings/organizations/").text


def test_superuser_creates_an_organization_and_owns_it(client, world):
    client.force_login(world.superuser)
    response = client.post("/settings/organizations/new/", {"name": "Initech"})
    assert response.status_code == 302
    org = Organization.objects.get(name="Initech")
    assert Membership.objects.get(organization=org, user=world.superuser).role == Role.OWNER


def test_duplicate_organization_name_is_a_form_error(client, world):
    client.force_login(world.superuser)
    response = client.post("/settings/organizations/new/", {"name": "acme"})
    assert response.status_code == 200
    assert "exists already" in response.text
    assert Organization.objects.count() == 2


def test_owner_renames_and_requires_two_factor(client, world):
    client.force_login(world.owner)
    url = f"/settings/organizations/{world.acme.pk}/edit/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"name": "Acme Corp", "require_2fa": "on"})
    assert response.status_code == 302
    world.acme.refresh_from_db()
    assert (world.acme.name, world.acme.require_2fa) == ("Acme Corp", True)


def test_owner_cannot_take_another_organizations_name(client, world):
    client.force_login(world.owner)
    response = client.post(f"/settings/organizations/{world.acme.pk}/edit/", {"name": "Globex"})
    assert response.status_code == 200
    world.acme.refresh_from_db()
    assert world.acme.name == "Acme"


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin", 403),
        ("technician", 403),
        ("viewer", 403),
        ("requester", 404),  # requesters cannot even view the organization (scoping.get_for)
    ],
)
def test_non_owners_cannot_edit_the_organization(client, world, persona, status):
    client.force_login(getattr(world, persona))
    url = f"/settings/organizations/{world.acme.pk}/edit/"
    assert client.get(url).status_code == status
    assert client.post(url, {"name": "Pwned"}).status_code == status
    world.acme.refresh_from_db()
    assert world.acme.name == "Acme"


def test_outsider_gets_404_on_acme_edit(client, world):
    client.force_login(world.outsider)
    url = f"/settings/organizations/{world.acme.pk}/edit/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "Pwned"}).status_code == 404
