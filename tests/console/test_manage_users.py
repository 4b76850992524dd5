"""Users page: members and their roles; creating users; changing and removing memberships."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from tests.server.conftest import PASSWORD, make_user

from steward.accounts.models import User
from steward.tenancy.models import Membership
from steward.tenancy.roles import Role

pytestmark = pytest.mark.django_db


def membership(user, org) -> Membership:
    return Membership.objects.get(user=user, organization=org)


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_admin_sees_the_members_of_acme_with_roles(client, world):
    client.force_login(world.admin)
    response = client.get("/settings/users/")
    assert response.status_code == 200
    rows = {(m.user.email, m.role) for m in response.context["page"].object_list}
    assert ("owner@acme.test", "owner") in rows
    assert ("viewer@acme.test", "viewer") in rows
    assert "owner@globex.test" not in response.text


def test_admin_gets_no_buttons_for_the_owner(client, world):
    client.force_login(world.admin)
    text = client.get("/settings/users/").text
    owner = membership(world.owner, world.acme)
    viewer = membership(world.viewer, world.acme)
    assert f"/settings/memberships/{owner.pk}/edit/" not in text
    assert f"/settings/memberships/{owner.pk}/delete/" not in text
    assert f"/settings/memberships/{viewer.pk}/edit/" in text


def test_outsider_sees_no_acme_member(client, world):
    client.force_login(world.outsider)
    response = client.get("/settings/users/")
    assert response.status_code == 200
    assert "acme.test" not in response.text


@pytest.mark.parametrize("persona", ["technician", "viewer", "requester"])
def test_below_admin_cannot_manage_users(client, world, persona):
    client.force_login(getattr(world, persona))
    assert client.get("/settings/users/").status_code == 403
    assert client.get("/settings/users/new/").status_code == 403
    response = client.post(
        "/settings/users/new/",
        {
            "email": "new@acme.test",
            "password": PASSWORD,
            "organization": world.acme.pk,
            "role": "viewer",
        },
    )
    assert response.status_code == 403
    assert not User.objects.filter(email="new@acme.test").exists()


def test_admin_creates_a_user_with_a_password_and_role(client, world):
    client.force_login(world.admin)
    response = client.post(
        "/settings/users/new/",
        {
            "email": "New@Acme.test",
            "name": "New Person",
            "password": PASSWORD,
            "organization": world.acme.pk,
            "role": "technician",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@acme.test")
    assert user.check_password(PASSWORD)
    assert membership(user, world.acme).role == Role.TECHNICIAN


def test_a_weak_password_is_refused(client, world):
    client.force_login(world.admin)
    response = client.post(
        "/settings/users/new/",
        {
            "email": "new@acme.test",
            "password": "short",
            "organization": world.acme.pk,
            "role": "viewer",
        },
    )
    assert response.status_code == 200
    assert "too short" in response.text
    assert not User.objects.filter(email="new@acme.test").exists()


def test_admin_adds_an_existing_user_by_email(client, world):
    client.force_login(world.admin)
    response = client.post(
        "/settings/users/new/",
        {
            "email": "owner@globex.test",
            "organization": world.acme.pk,
            "role": "viewer",
        },
    )
    assert response.status_code == 302
    assert membership(world.outsider, world.acme).role == Role.VIEWER
    assert world.outsider.check_password(PASSWORD)  # untouched


def test_adding_an_existing_user_never_sets_their_password(client, world):
    client.force_login(world.admin)
    response = client.post(
        "/settings/users/new/",
        {
            "email": "owner@globex.test",
            "password": "another long passphrase",
            "organization": world.acme.pk,
            "role": "viewer",
        },
    )
    assert response.status_code == 200
    assert "exists already" in response.text
    world.outsider.refresh_from_db()
    assert world.outsider.check_password(PASSWORD)
    assert not Membership.objects.filter(user=world.outsider, organization=world.acme).exists()


def test_adding_a_member_twice_is_a_form_error(client, world):
    client.force_login(world.admin)
    response = client.post(
        "/settings/users/new/",
        {
            "email": "viewer@acme.test",
            "organization": world.acme.pk,
            "role": "technician",
        },
    )
    assert response.status_code == 200
    assert membership(world.viewer, world.acme).role == Role.VIEWER


def test_admin_is_offered_no_owner_role_and_cannot_grant_it(client, world):
    client.force_login(world.admin)
    form = client.get("/settings/users/new/").context["form"]
    assert [value for value, _ in form.fields["role"].choices] == [
        "admin",
        "technician",
        "viewer",
        "requester",
    ]
    response = client.post(
        "/settings/users/new/",
        {
            "email": "new@acme.test",
            "password": PASSWORD,
            "organization": world.acme.pk,
            "role": "owner",
        },
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="new@acme.test").exists()

    viewer = membership(world.viewer, world.acme)
    response = client.post(f"/settings/memberships/{viewer.pk}/edit/", {"role": "owner"})
    assert response.status_code == 200
    viewer.refresh_from_db()
    assert viewer.role == Role.VIEWER


def test_admin_changes_a_role_and_removes_a_member(client, world):
    client.force_login(world.admin)
    viewer = membership(world.viewer, world.acme)
    assert client.get(f"/settings/memberships/{viewer.pk}/edit/").status_code == 200
    response = client.post(f"/settings/memberships/{viewer.pk}/edit/", {"role": "technician"})
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.role == Role.TECHNICIAN

    response = client.post(f"/settings/memberships/{viewer.pk}/delete/")
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=viewer.pk).exists()


def test_admin_cannot_change_or_remove_the_owner(client, world):
    client.force_login(world.admin)
    owner = membership(world.owner, world.acme)
    assert client.get(f"/settings/memberships/{owner.pk}/edit/").status_code == 403
    assert (
        client.post(f"/settings/memberships/{owner.pk}/edit/", {"role": "viewer"}).status_code
        == 403
    )
    assert client.post(f"/settings/memberships/{owner.pk}/delete/").status_code == 403
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_owner_makes_another_owner(client, world):
    client.force_login(world.owner)
    admin = membership(world.admin, world.acme)
    response = client.post(f"/settings/memberships/{admin.pk}/edit/", {"role": "owner"})
    assert response.status_code == 302
    admin.refresh_from_db()
    assert admin.role == Role.OWNER


def test_the_last_owner_cannot_be_removed(client, world):
    client.force_login(world.owner)
    owner = membership(world.owner, world.acme)
    response = client.post(f"/settings/memberships/{owner.pk}/delete/")
    assert response.status_code == 302
    assert Membership.objects.filter(pk=owner.pk).exists()
    assert any("at least one owner" in m for m in flashes(response))


def test_the_last_owner_cannot_be_demoted(client, world):
    client.force_login(world.owner)
    owner = membership(world.owner, world.acme)
    response = client.post(f"/settings/memberships/{owner.pk}/edit/", {"role": "admin"})
    assert response.status_code == 200
    assert "at least one owner" in response.text
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_an_owner_can_step_down_when_another_owner_remains(client, world):
    second = make_user("second@acme.test", world.acme, Role.OWNER)
    client.force_login(second)
    response = client.post(f"/settings/memberships/{membership(second, world.acme).pk}/delete/")
    assert response.status_code == 302
    assert not Membership.objects.filter(user=second).exists()


def test_removing_a_membership_requires_post(client, world):
    client.force_login(world.admin)
    viewer = membership(world.viewer, world.acme)
    assert client.get(f"/settings/memberships/{viewer.pk}/delete/").status_code == 405
    assert Membership.objects.filter(pk=viewer.pk).exists()


def test_outsider_gets_404_on_acme_memberships(client, world):
    client.force_login(world.outsider)
    viewer = membership(world.viewer, world.acme)
    assert client.get(f"/settings/memberships/{viewer.pk}/edit/").status_code == 404
    assert (
        client.post(f"/settings/memberships/{viewer.pk}/edit/", {"role": "owner"}).status_code
        == 404
    )
    assert client.post(f"/settings/memberships/{viewer.pk}/delete/").status_code == 404
    viewer.refresh_from_db()
    assert viewer.role == Role.VIEWER


def test_outsider_cannot_create_users_in_acme(client, world):
    client.force_login(world.outsider)
    response = client.post(
        "/settings/users/new/",
        {
            "email": "mole@globex.test",
            "password": PASSWORD,
            "organization": world.acme.pk,
            "role": "owner",
        },
    )
    assert response.status_code == 200  # Acme is not among the choices
    assert not User.objects.filter(email="mole@globex.test").exists()


def test_owner_elsewhere_still_cannot_grant_owner_where_they_are_admin(client, world):
    Membership.objects.create(user=world.outsider, organization=world.acme, role=Role.ADMIN)
    client.force_login(world.outsider)
    form = client.get("/settings/users/new/").context["form"]
    assert "owner" in [value for value, _ in form.fields["role"].choices]  # for Globex
    response = client.post(
        "/settings/users/new/",
        {
            "email": "new@acme.test",
            "password": PASSWORD,
            "organization": world.acme.pk,
            "role": "owner",
        },
    )
    assert response.status_code == 200
    assert "cannot grant" in response.text
    assert not User.objects.filter(email="new@acme.test").exists()
