"""A filesystem with a non-finite sample does not stop the organization's forecasts.

``time_to_threshold`` refuses non-finite values (ValueError). The job resampled the
stored series skipping NaN only, so one +Inf sample (a stray exporter's, a collector's
bug) in one filesystem's free bytes made every run raise for the whole organization
for the three days the sample stays in the window: no forecast of any of its devices
was refreshed, and those of organizations after it neither.
"""

from __future__ import annotations

import random

import pytest

from steward.insights import forecasting, services
from steward.intel import ForecastStatus
from steward.tsdb.types import Sample
from tests.insights.conftest import NOW_MS
from tests.insights.data import device_labels
from tests.insights.test_forecasts import GIB, HOUR, filesystems

pytestmark = pytest.mark.django_db


def test_a_non_finite_sample_is_left_out_of_the_fit(store, world):
    end_s = NOW_MS / 1000
    rng = random.Random(7)

    def var(t):
        return 30.0 * GIB + (end_s - t) / 3600 * GIB + 0.05 * GIB * rng.random()

    def data(t):
        return 60.0 * GIB + 0.05 * GIB * rng.random()

    device = world.acme_device
    filesystems(store, device, NOW_MS - 48 * HOUR, var, data)
    labels = {
        **device_labels(device),
        "__name__": "node_filesystem_avail_bytes",
        "mountpoint": "/data",
        "device": "/dev/sdd",
        "fstype": "ext4",
    }
    inf = Sample(labels, NOW_MS - 5 * HOUR + 10_000, float("inf"))
    assert store.append(device.organization_id, [inf]).accepted == 1

    forecasting.forecast_organization(store, world.acme.pk, NOW_MS)

    var_fc = services.forecast_for(device.pk, "filesystem /var")
    assert var_fc is not None and var_fc.status == ForecastStatus.CROSSING
    data_fc = services.forecast_for(device.pk, "filesystem /data")
    assert data_fc is not None and data_fc.status != ForecastStatus.CROSSING
