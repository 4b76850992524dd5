"""The device page's metrics collection interval, and the page that changes it (admins)."""

from __future__ import annotations

import pytest

from steward.metrics.models import MetricsSettings

pytestmark = pytest.mark.django_db


def page(client, device) -> str:
    return client.get(f"/devices/{device.pk}/").content.decode()


def test_the_device_page_says_how_often_and_from_where(client, world):
    device = world.acme_device
    client.force_login(world.viewer)
    assert 'every 10 s <span class="muted">(from the server default)</span>' in page(client, device)
    assert f"/devices/{device.pk}/collection/" not in page(client, device)  # viewers can't
    MetricsSettings.objects.create(organization=world.acme, site=world.acme_hq, metrics_interval=30)
    assert 'every 30 s <span class="muted">(from the site)</span>' in page(client, device)
    client.force_login(world.admin)
    assert f'href="/devices/{device.pk}/collection/">Change</a>' in page(client, device)


def test_an_admin_gives_the_device_its_own_interval_then_inherits_again(client, world):
    device = world.acme_device
    MetricsSettings.objects.create(organization=world.acme, metrics_interval=60)
    client.force_login(world.admin)
    url = f"/devices/{device.pk}/collection/"
    form = client.get(url).content.decode()
    assert "Inherit (60 s, from the organization)" in form
    response = client.post(url, {"mode": "own", "seconds": "5"}, follow=True)
    assert "now collects metrics every 5 s (from the device)" in response.content.decode()
    assert MetricsSettings.objects.get(device=device).metrics_interval == 5
    content = page(client, device)
    assert 'every 5 s <span class="muted">(its own interval)</span>' in content
    # The charts step and rate windows follow it (charts.js reads data-interval).
    assert 'data-interval="5"' in content and "collected by the agent every 5 s" in content
    client.post(url, {"mode": "inherit", "seconds": "5"})
    assert not MetricsSettings.objects.filter(device=device).exists()
    assert "every 60 s" in page(client, device)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"mode": "own", "seconds": ""}, "Give the seconds between collections."),
        ({"mode": "own", "seconds": "0"}, "greater than or equal to 1"),
        ({"mode": "own", "seconds": "3601"}, "less than or equal to 3600"),
        ({"mode": "sometimes"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_shown_and_nothing_changes(client, world, data, error):
    client.force_login(world.admin)
    response = client.post(f"/devices/{world.acme_device.pk}/collection/", data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not MetricsSettings.objects.exists()


def test_only_admins_may_change_it_and_only_in_their_organizations(client, world):
    url = f"/devices/{world.acme_device.pk}/collection/"
    client.force_login(world.technician)
    assert client.get(url).status_code == 403
    assert client.post(url, {"mode": "own", "seconds": "5"}).status_code == 403
    client.force_login(world.outsider)
    assert client.get(url).status_code == 404
    assert client.post(url, {"mode": "own", "seconds": "5"}).status_code == 404
    assert not MetricsSettings.objects.exists()
