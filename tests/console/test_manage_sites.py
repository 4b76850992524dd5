"""Sites page: list with device counts, create, edit, delete."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages

from steward.tenancy.models import Site

pytestmark = pytest.mark.django_db


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_viewer_sees_sites_with_device_counts_but_no_buttons(client, world):
    client.force_login(world.viewer)
    response = client.get("/settings/sites/")
    assert response.status_code == 200
    [hq] = response.context["page"].object_list
    assert (hq.name, hq.device_count) == ("HQ", 1)
    assert "/settings/sites/new/" not in response.text
    assert f"/settings/sites/{hq.pk}/edit/" not in response.text
    assert f"/settings/sites/{hq.pk}/delete/" not in response.text


def test_admin_gets_the_buttons(client, world):
    client.force_login(world.admin)
    response = client.get("/settings/sites/")
    assert "/settings/sites/new/" in response.text
    assert f"/settings/sites/{world.acme_hq.pk}/edit/" in response.text
    assert f"/settings/sites/{world.acme_hq.pk}/delete/" in response.text


def test_outsider_sees_no_acme_site(client, world):
    client.force_login(world.outsider)
    response = client.get("/settings/sites/")
    assert [s.name for s in response.context["page"].object_list] == ["Plant"]
    # As a whole word: a random CSRF token on the page may contain the letters "HQ".
    assert not re.search(r"\bHQ\b", response.text)


def test_requester_sees_no_site(client, world):
    client.force_login(world.requester)
    assert list(client.get("/settings/sites/").context["page"].object_list) == []


def test_admin_creates_a_site(client, world):
    client.force_login(world.admin)
    assert client.get("/settings/sites/new/").status_code == 200
    response = client.post(
        "/settings/sites/new/",
        {
            "organization": world.acme.pk,
            "name": "Branch",
            "description": "2nd floor",
        },
    )
    assert response.status_code == 302
    assert Site.objects.get(organization=world.acme, name="Branch").description == "2nd floor"


def test_a_duplicate_site_name_is_a_form_error(client, world):
    client.force_login(world.admin)
    response = client.post("/settings/sites/new/", {"organization": world.acme.pk, "name": "HQ"})
    assert response.status_code == 200
    assert "already" in response.text
    assert Site.objects.filter(organization=world.acme).count() == 1


def test_admin_cannot_create_a_site_in_another_organization(client, world):
    client.force_login(world.admin)
    response = client.post(
        "/settings/sites/new/", {"organization": world.globex.pk, "name": "Sneaky"}
    )
    assert response.status_code == 200  # not a choice: the form refuses it
    assert not Site.objects.filter(name="Sneaky").exists()


@pytest.mark.parametrize("persona", ["technician", "viewer", "requester"])
def test_below_admin_cannot_create_sites(client, world, persona):
    client.force_login(getattr(world, persona))
    assert client.get("/settings/sites/new/").status_code == 403
    response = client.post("/settings/sites/new/", {"organization": world.acme.pk, "name": "Nope"})
    assert response.status_code == 403
    assert not Site.objects.filter(name="Nope").exists()


def test_admin_edits_a_site(client, world):
    client.force_login(world.admin)
    url = f"/settings/sites/{world.acme_hq.pk}/edit/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"name": "Head office", "description": ""}).status_code == 302
    world.acme_hq.refresh_from_db()
    assert world.acme_hq.name == "Head office"


def test_renaming_a_site_onto_another_is_a_form_error(client, world):
    Site.objects.create(organization=world.acme, name="Branch")
    client.force_login(world.admin)
    response = client.post(f"/settings/sites/{world.acme_hq.pk}/edit/", {"name": "Branch"})
    assert response.status_code == 200
    assert "already" in response.text


def test_technician_cannot_edit_or_delete_a_site(client, world):
    client.force_login(world.technician)
    pk = world.acme_hq.pk
    assert client.get(f"/settings/sites/{pk}/edit/").status_code == 403
    assert client.post(f"/settings/sites/{pk}/edit/", {"name": "X"}).status_code == 403
    assert client.post(f"/settings/sites/{pk}/delete/").status_code == 403
    world.acme_hq.refresh_from_db()
    assert world.acme_hq.name == "HQ"


def test_deleting_a_site_with_devices_is_refused_with_a_reason(client, world):
    client.force_login(world.admin)
    url = f"/settings/sites/{world.acme_hq.pk}/delete/"
    page = client.get(url)
    assert "still has 1 device" in page.text
    assert "Delete site</button>" not in page.text
    response = client.post(url)
    assert response.status_code == 302
    assert Site.objects.filter(pk=world.acme_hq.pk).exists()
    assert any("still has 1 device" in m for m in flashes(response))


def test_admin_deletes_an_empty_site(client, world):
    empty = Site.objects.create(organization=world.acme, name="Closed branch")
    client.force_login(world.admin)
    assert client.get(f"/settings/sites/{empty.pk}/delete/").status_code == 200
    response = client.post(f"/settings/sites/{empty.pk}/delete/")
    assert response.status_code == 302
    assert not Site.objects.filter(pk=empty.pk).exists()
