"""Audit log page: console changes are recorded and shown to admins of the organization."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from steward.audit.models import AuditEntry
from steward.tenancy.models import Site

pytestmark = pytest.mark.django_db


def test_a_console_change_is_audited_with_actor_and_source(client, world):
    client.force_login(world.admin)
    client.post("/settings/sites/new/", {"organization": world.acme.pk, "name": "Branch"})
    site = Site.objects.get(name="Branch")
    entry = AuditEntry.objects.get(object_type="tenancy.site", object_id=str(site.pk))
    assert (entry.action, entry.actor_label, entry.source, entry.organization_id) == (
        "create",
        "admin@acme.test",
        "console",
        world.acme.pk,
    )


def test_admin_sees_changes_as_old_and_new_values(client, world):
    client.force_login(world.admin)
    client.post(f"/settings/sites/{world.acme_hq.pk}/edit/", {"name": "Head office"})
    response = client.get("/settings/audit/")
    assert response.status_code == 200
    [entry] = [e for e in response.context["page"] if e.action == "update"]
    assert ("name", "HQ → Head office") in entry.change_lines
    assert "HQ → Head office" in response.text


@pytest.mark.parametrize("persona", ["technician", "viewer", "requester"])
def test_below_admin_cannot_read_the_audit_log(client, world, persona):
    client.force_login(getattr(world, persona))
    assert client.get("/settings/audit/").status_code == 403


def test_outsider_sees_no_acme_entry(client, world):
    client.force_login(world.admin)
    client.post("/settings/sites/new/", {"organization": world.acme.pk, "name": "Secret lab"})
    outsider = Client()  # a browser of its own: not the admin's pending flash message
    outsider.force_login(world.outsider)
    response = outsider.get("/settings/audit/")
    assert response.status_code == 200
    assert all(e.organization_id == world.globex.pk for e in response.context["page"])
    assert "Secret lab" not in response.text


def test_filters_by_object_type_actor_and_date(client, world):
    client.force_login(world.owner)
    client.post("/settings/sites/new/", {"organization": world.acme.pk, "name": "By owner"})
    client.force_login(world.admin)
    client.post("/settings/sites/new/", {"organization": world.acme.pk, "name": "By admin"})

    def shown(query: str) -> set[str]:
        page = client.get(f"/settings/audit/?{query}").context["page"]
        return {e.object_repr for e in page}

    assert shown("object_type=tenancy.site&actor=owner@") == {"By owner"}
    assert shown("actor=ADMIN@acme") == {"By admin"}
    assert "Acme" not in shown("object_type=tenancy.site")  # organizations filtered out
    today = timezone.now().date()
    assert {"By owner", "By admin"} <= shown(f"since={today}&until={today}")
    assert shown(f"since={today + timedelta(days=1)}") == set()


def test_the_log_is_paged(client, world):
    client.force_login(world.admin)
    for n in range(55):
        client.post("/settings/sites/new/", {"organization": world.acme.pk, "name": f"S{n}"})
    first = client.get("/settings/audit/?object_type=tenancy.site")
    assert len(first.context["page"].object_list) == 50
    assert 'href="?object_type=tenancy.site&amp;page=2"' in first.text
    second = client.get("/settings/audit/?object_type=tenancy.site&page=2")
    total = AuditEntry.objects.filter(object_type="tenancy.site", organization=world.acme).count()
    assert len(second.context["page"].object_list) == total - 50
