"""The audit log: every change, with who, what, which fields, when and from where."""

from __future__ import annotations

import pytest

from steward.audit.models import AppendOnly, AuditEntry
from steward.tenancy.models import Site

pytestmark = pytest.mark.django_db


def latest(**filters) -> AuditEntry:
    return AuditEntry.objects.filter(**filters).order_by("-id").first()


def test_api_create_update_delete_are_recorded_with_fields(api, world):
    client = api.as_(world.admin)
    site = client.post("sites", {"organization_id": world.acme.pk, "name": "Depot"}).json()
    entry = latest(object_type="tenancy.site", action="create")
    assert entry.actor == world.admin and entry.source == "api"
    assert entry.address == "127.0.0.1"
    assert entry.organization == world.acme
    assert entry.changes["name"] == [None, "Depot"]

    client.patch(f"sites/{site['id']}", {"description": "north gate"})
    entry = latest(object_type="tenancy.site", action="update")
    assert entry.changes == {"description": ["", "north gate"]}

    client.delete(f"sites/{site['id']}")
    entry = latest(object_type="tenancy.site", action="delete")
    assert entry.object_repr == "Depot" and entry.object_id == str(site["id"])


def test_tag_changes_are_recorded(api, world):
    api.as_(world.technician).patch(f"devices/{world.acme_device.pk}", {"tags": ["db"]})
    entry = latest(object_type="inventory.device", action="update")
    assert entry.changes == {"tags": {"added": ["db"]}}
    assert "tech@acme.test" in entry.actor_label


def test_heartbeat_fields_are_not_audited(world):
    from django.utils import timezone

    count = AuditEntry.objects.count()
    world.acme_device.last_seen = timezone.now()
    world.acme_device.save()
    assert AuditEntry.objects.count() == count


def test_secrets_are_masked(api, world):
    api.as_(world.owner).post("tokens", {"name": "ci"})
    entry = latest(object_type="accounts.apitoken", action="create")
    assert entry.changes["token_hash"] == [None, "********"]


def test_entries_cannot_be_changed_or_deleted(world):
    entry = AuditEntry.objects.first()
    entry.action = "nothing happened"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()


def test_audit_log_is_for_admins_of_the_organization(api, world):
    Site.objects.create(organization=world.acme, name="Depot")
    assert api.as_(world.viewer).get("audit").json()["count"] == 0
    entries = api.as_(world.admin).get("audit").json()["items"]
    assert entries and all(e["organization_id"] == world.acme.pk for e in entries)
    outsider = api.as_(world.outsider).get("audit").json()["items"]
    assert all(e["organization_id"] == world.globex.pk for e in outsider)
