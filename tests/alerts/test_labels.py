"""The engine's label cache (``alerts.labels``): the labels contract, and a device enrolled
after the cache was loaded is read alone, not by reloading the organization."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from steward.alerts import labels
from steward.inventory.models import Tag
from tests.server.conftest import make_device

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    labels.forget()
    yield
    labels.forget()


def test_labels_follow_the_contract(world):
    device = world.acme_device
    device.tags.add(
        Tag.objects.create(organization=world.acme, name="web"),
        Tag.objects.create(organization=world.acme, name="db"),
    )
    info = labels.device(world.acme.pk, device.pk)
    assert info is not None
    assert (info.id, info.organization_id, info.site_id) == (
        device.pk,
        world.acme.pk,
        world.acme_hq.pk,
    )
    assert info.labels == {
        "organization": world.acme.slug,
        "site": "HQ",
        "device": "acme-ws-01",
        "tags": ",db,web,",
    }
    assert labels.by_hostname(world.acme.pk, "acme-ws-01") == info
    assert labels.device(world.acme.pk, world.globex_device.pk) is None  # another tenant's


def test_a_new_device_is_loaded_alone(world):
    for n in range(20):
        make_device(world.acme_hq, f"acme-ws-{n + 10}")
    assert labels.device(world.acme.pk, world.acme_device.pk) is not None
    late = make_device(world.acme_hq, "acme-late")
    late.tags.add(Tag.objects.create(organization=world.acme, name="new"))
    with CaptureQueriesContext(connection) as queries:
        info = labels.device(world.acme.pk, late.pk)
    assert info is not None and info.labels["tags"] == ",new,"
    assert labels.by_hostname(world.acme.pk, "acme-late") == info
    # Only the new device's row and tags were read, not the organization's 22 devices.
    device_reads = [q["sql"] for q in queries.captured_queries if "inventory_device" in q["sql"]]
    assert len(device_reads) == 2  # its row, its tags
    assert all(re.search(rf'"(id|device_id)" = {late.pk}\)', sql) for sql in device_reads)
    with CaptureQueriesContext(connection) as queries:
        assert labels.device(world.acme.pk, world.acme_device.pk) is not None
        assert labels.device(world.acme.pk, late.pk) == info
    assert queries.captured_queries == []  # both cached now
