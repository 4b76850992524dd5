"""A filesystem that was grown is forecast at its new size, not from the old levels."""

from __future__ import annotations

import random

import pytest

from steward.insights import forecasting, services
from steward.intel import ForecastStatus
from tests.insights.conftest import NOW_MS
from tests.insights.data import gauge

pytestmark = pytest.mark.django_db
HOUR = 3_600_000
DAY_S = 86_400.0
GIB = 2.0**30


def test_a_grown_filesystem_is_not_forecast_full_from_its_old_size(store, world):
    # /var fills by 8 GiB a day and a nightly job frees 3 GiB; it was nearly full, so 6 hours
    # ago it was grown from 100 to 400 GiB. The jump in free space is not a clean-up.
    end_s, start_ms = NOW_MS / 1000, NOW_MS - 72 * HOUR
    rng = random.Random(3)
    resized_at = end_s - 6 * 3600

    def used(t: float) -> float:
        days = (t - start_ms / 1000) / DAY_S
        return 70 * GIB + 8 * GIB * days - 3 * GIB * int(days + 0.5) + 0.02 * GIB * rng.random()

    def size(t: float) -> float:
        return (400 if t >= resized_at else 100) * GIB

    labels = {"mountpoint": "/var", "device": "/dev/sdv", "fstype": "ext4"}
    for name, value in (
        ("node_filesystem_size_bytes", size),
        ("node_filesystem_avail_bytes", lambda t: size(t) - used(t)),
    ):
        samples = list(gauge(world.acme_device, name, start_ms, NOW_MS, value, **labels))
        store.append(world.acme_device.organization_id, samples[::6])  # one a minute
    forecasting.forecast_organization(store, world.acme.pk, NOW_MS)

    fc = services.forecast_for(world.acme_device.pk, "filesystem /var")
    # About 315 GiB free, filling by a net 5 GiB a day. Taken as a clean-up, the resize made
    # the levels before each clean-up fall: "no trend" for the three days of the window.
    assert fc is not None and fc.capacity == 400 * GIB
    assert fc.status == ForecastStatus.CROSSING
    assert fc.seconds == pytest.approx(fc.current / (5 * GIB) * DAY_S, rel=0.15)
    assert fc.lower <= fc.seconds <= (fc.upper or float("inf"))
    assert not services.forecast_within(fc, 14 * 86_400, now=fc.as_of)
