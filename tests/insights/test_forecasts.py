"""Forecasts from stored data: a filling disk, a flat one, a memory leak; API and page."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.test import Client

from steward.insights import forecasting, services
from steward.intel import ForecastStatus
from tests.insights.conftest import NOW_MS
from tests.insights.data import gauge
from tests.server.conftest import PASSWORD

pytestmark = pytest.mark.django_db
HOUR = 3_600_000
GIB = 2**30


def filesystems(store, device, start_ms, avail_var, avail_data, step=60_000):
    """/var and /data, 100 GiB each, sampled every minute (``avail_*``: f(t seconds))."""
    for mount, avail in (("/var", avail_var), ("/data", avail_data)):
        labels = {"mountpoint": mount, "device": f"/dev/sd{mount[1]}", "fstype": "ext4"}
        for name, value in (
            ("node_filesystem_size_bytes", lambda t: 100.0 * GIB),
            ("node_filesystem_avail_bytes", avail),
        ):
            samples = [
                s
                for i, s in enumerate(gauge(device, name, start_ms, NOW_MS, value, **labels))
                if i % (step // 10_000) == 0
            ]
            store.append(device.organization_id, samples)


@pytest.fixture
def filling(store, world):
    """/var loses 1 GiB an hour (with noise) and has 30 GiB left; /data is flat."""
    rng = random.Random(7)
    end_s = NOW_MS / 1000

    def var(t):
        return 30.0 * GIB + (end_s - t) / 3600 * GIB + 0.05 * GIB * rng.random()

    def data(t):
        return 60.0 * GIB + 0.05 * GIB * rng.random()

    filesystems(store, world.acme_device, NOW_MS - 48 * HOUR, var, data)
    forecasting.forecast_organization(store, world.acme.pk, NOW_MS)
    return store


def test_a_steadily_filling_filesystem_is_forecast_to_be_full(filling, world):
    fc = services.forecast_for(world.acme_device.pk, "filesystem /var")

    assert fc is not None and fc.status == ForecastStatus.CROSSING
    assert fc.seconds == pytest.approx(30 * 3600, rel=0.1)  # 30 GiB at 1 GiB/h
    assert fc.lower <= fc.seconds <= (fc.upper or float("inf"))
    assert fc.labels["mountpoint"] == "/var"
    assert "falling by" in fc.reason
    assert services.forecast_within(fc, 3 * 86_400, now=fc.as_of)
    assert not services.forecast_within(fc, 3600, now=fc.as_of)
    assert services.forecast_within(fc, 3600, now=fc.as_of + timedelta(hours=29.5))


def test_a_flat_filesystem_has_no_trend(filling, world):
    fc = services.forecast_for(world.acme_device.pk, "filesystem /data")

    assert fc is not None and fc.status == ForecastStatus.NO_TREND
    assert fc.seconds is None
    assert not services.forecast_within(fc, 365 * 86_400)


def test_memory_falling_steadily_for_hours_is_a_leak(store, world):
    rng = random.Random(9)
    end_s = NOW_MS / 1000
    device = world.acme_device
    store.append(
        world.acme.pk,
        gauge(device, "node_memory_MemTotal_bytes", NOW_MS - HOUR, NOW_MS, lambda t: 16.0 * GIB),
    )
    store.append(
        world.acme.pk,
        gauge(
            device,
            "node_memory_MemAvailable_bytes",
            NOW_MS - 7 * HOUR,
            NOW_MS,
            lambda t: 2.0 * GIB + (end_s - t) / 3600 * 0.5 * GIB + 0.02 * GIB * rng.random(),
        ),
    )

    forecasting.forecast_organization(store, world.acme.pk, NOW_MS)
    fc = services.forecast_for(device.pk, "memory")

    assert fc.status == ForecastStatus.CROSSING
    assert fc.seconds == pytest.approx(4 * 3600, rel=0.15)  # 2 GiB at 0.5 GiB/h
    assert fc.capacity == 16.0 * GIB


def test_the_api_lists_a_devices_forecasts(filling, world, api):
    response = api.as_(world.viewer).get(f"/api/v1/devices/{world.acme_device.pk}/forecasts")

    assert response.status_code == 200
    by_resource = {f["resource"]: f for f in response.json()}
    assert set(by_resource) == {"filesystem /var", "filesystem /data"}
    assert by_resource["filesystem /var"]["status"] == "crossing"
    assert by_resource["filesystem /var"]["summary"].startswith("/var full in 1 d 6 h")
    assert by_resource["filesystem /data"]["summary"] == "/data: no trend"


def test_an_outsider_gets_404_for_forecasts_and_anomalies(filling, world, api):
    for path in ("forecasts", "anomalies"):
        response = api.as_(world.outsider).get(f"/api/v1/devices/{world.acme_device.pk}/{path}")
        assert response.status_code == 404


def test_the_device_page_shows_the_forecasts_panel(filling, world):
    client = Client()
    client.login(email=world.viewer.email, password=PASSWORD)

    page = client.get(f"/devices/{world.acme_device.pk}/").content.decode()

    assert 'id="forecasts-h"' in page
    assert "/var full in 1 d 6 h" in page
    assert "/data: no trend" in page
    assert "steward_expected_low" in page and 'data-role="lower"' in page


def test_a_later_run_updates_every_field_as_a_first_run_would_store_it(filling, world):
    """The update path (one prepared UPDATE per forecast) stores what the insert path
    stores for the same data: every field, JSON labels and times included."""
    from django.forms.models import model_to_dict

    from steward.insights.models import Forecast

    def stored() -> dict[str, dict]:
        return {
            f.resource: model_to_dict(f, exclude=["id", "computed_at"])
            for f in Forecast.objects.filter(organization_id=world.acme.pk)
        }

    before = stored()
    later = NOW_MS + 2 * HOUR
    labels = {"mountpoint": "/var", "device": "/dev/sdv", "fstype": "ext4"}
    for name, value in (
        ("node_filesystem_size_bytes", lambda t: 100.0 * GIB),
        ("node_filesystem_avail_bytes", lambda t: 30.0 * GIB - (t - NOW_MS / 1000) / 1800 * GIB),
    ):
        samples = gauge(world.acme_device, name, NOW_MS + 60_000, later, value, **labels)
        filling.append(world.acme.pk, list(samples)[::6])
    forecasting.forecast_organization(filling, world.acme.pk, later)
    updated = stored()
    Forecast.objects.filter(organization_id=world.acme.pk).delete()
    forecasting.forecast_organization(filling, world.acme.pk, later)
    assert updated == stored()
    assert updated["filesystem /var"]["as_of"] > before["filesystem /var"]["as_of"]
    changed = {
        k for k, v in updated["filesystem /var"].items() if v != before["filesystem /var"][k]
    }
    assert {"as_of", "current", "points_used"} <= changed
    assert updated["filesystem /var"]["labels"] == labels
