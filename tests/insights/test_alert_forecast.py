"""An injected fill raises the default pack's "Filesystem predicted full" alert in time.

The test writes a real file steadily and reports the filesystem's free space as the agent's
filesystem collector would (``node_filesystem_avail_bytes`` = capacity - used), into the real
store; the real forecast job and the real alert engine run on it. Time is compressed: each
write stands for one minute and the forecast job runs every ten "minutes", as the worker's
schedule does, so 17 hours of filling take a second.
"""

from __future__ import annotations

import pytest

from steward.alerts.models import Alert, AlertRule
from steward.insights import alerting, forecasting
from tests.insights.conftest import NOW_MS
from tests.insights.data import gauge

pytestmark = pytest.mark.django_db
MIN_MS = 60_000
MIB = 2**20
CAPACITY = 64 * MIB
ALREADY_USED = 30 * MIB
CHUNK = 32 * 1024  # written each "minute": 1.875 MiB an hour, full in about 18 h
MOUNT = {"mountpoint": "/srv/fill", "device": "/dev/vdb1", "fstype": "ext4"}


def report(store, device, ts_ms: int, used: int) -> None:
    """What the agent sends for the filesystem at ``ts_ms`` (one sample of each family)."""
    for name, value in (
        ("node_filesystem_size_bytes", CAPACITY),
        ("node_filesystem_avail_bytes", CAPACITY - ALREADY_USED - used),
    ):
        store.append(
            device.organization_id,
            gauge(device, name, ts_ms, ts_ms + 1, lambda t, v=value: float(v), **MOUNT),
        )


def predicted_full_alerts(org_id: int):
    return Alert.objects.filter(organization_id=org_id, rule_name="Filesystem predicted full")


def test_a_steady_fill_raises_the_forecast_alert_before_the_filesystem_is_full(
    store, clock, world, tmp_path
):
    device, org_id = world.acme_device, world.acme.pk
    fill = tmp_path / "fill.bin"
    start_ms = NOW_MS - 24 * 60 * MIN_MS
    alert = None
    minutes = 0
    with fill.open("wb") as out:
        while fill.stat().st_size + ALREADY_USED < CAPACITY:
            out.write(b"\0" * CHUNK)
            out.flush()
            now_ms = start_ms + minutes * MIN_MS
            report(store, device, now_ms, fill.stat().st_size)
            minutes += 1
            if minutes % 10:
                continue
            clock.now_ms = now_ms
            forecasting.forecast_organization(store, org_id, now_ms)
            alerting.feed_forecasts(org_id, now=now_ms / 1000.0)
            alert = predicted_full_alerts(org_id).filter(status="firing").first()
            if alert is not None:
                break
    assert alert is not None, "the filesystem filled up without a forecast alert"
    used = fill.stat().st_size + ALREADY_USED
    remaining_h = (CAPACITY - used) / CHUNK / 60
    assert remaining_h > 12  # it fired early, long before the disk was full
    assert minutes <= 3 * 60  # within three hours of data
    assert alert.labels["mountpoint"] == "/srv/fill"
    assert alert.device_id == device.pk
    assert alert.title == f"/srv/fill on {device.hostname} predicted full within 3 days"
    # The description is the forecast itself: "/srv/fill full in 16 h 40 min (...): ..."
    assert alert.description.startswith("/srv/fill full in ")
    hours = alert.description.removeprefix("/srv/fill full in ").split(" h")[0]
    assert float(hours) == pytest.approx(remaining_h, abs=2.5)
    assert "falling by" in alert.description
    # The value is the whole sentence too (it was cut at 100 characters, mid-number).
    assert len(alert.value) > 100 and alert.value == alert.description


def test_a_flat_filesystem_raises_nothing_and_a_stopped_fill_resolves(store, clock, world):
    device, org_id = world.acme_device, world.acme.pk
    start_ms = NOW_MS - 24 * 60 * MIN_MS
    used = 0
    # Four hours of filling at the same rate, then the writer stops for ten hours.
    for minute in range(14 * 60):
        if minute < 4 * 60:
            used += CHUNK
        now_ms = start_ms + minute * MIN_MS
        report(store, device, now_ms, used)
        if minute % 10 == 9:
            clock.now_ms = now_ms
            forecasting.forecast_organization(store, org_id, now_ms)
            alerting.feed_forecasts(org_id, now=now_ms / 1000.0)
    alert = predicted_full_alerts(org_id).get()
    assert alert.firing_since is not None  # it fired while the file grew
    assert alert.status == "resolved"  # and resolved once the trend was gone


def test_nothing_is_fed_when_no_rule_reads_forecasts(store, clock, world):
    org_id = world.acme.pk
    for minute in range(120):
        report(store, world.acme_device, NOW_MS - minute * MIN_MS, 0)
    forecasting.forecast_organization(store, org_id, NOW_MS)
    assert alerting.feed_forecasts(org_id, now=NOW_MS / 1000.0) == 1
    AlertRule.objects.filter(organization_id=org_id, condition__kind="forecast").delete()
    from steward.alerts import runtime

    runtime.forget()
    assert alerting.feed_forecasts(org_id, now=NOW_MS / 1000.0) == 0
