"""SMART data as the agent sends it, scored on the server: "Disk failing" with the reasons.

Recorded ``smartctl --json -a`` outputs (tests/fixtures/smart) go through the agent's own
parser and sample builder, are stored like every agent sample, and the disk-health job
scores them and feeds the alert engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client

from steward.agent.metrics.families import BY_NAME
from steward.agent.metrics.smart import parse_device, samples_of
from steward.alerts.models import Alert
from steward.insights import disk_health
from steward.tsdb.types import Sample
from tests.insights.conftest import NOW_MS
from tests.insights.data import device_labels
from tests.server.conftest import PASSWORD

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent.parent / "fixtures" / "smart"
MIN = 60_000


def agent_samples(device, fixture: str, disk: str, ts_ms: int) -> list[Sample]:
    """What the agent's SMART collector sends for one disk read from ``fixture``."""
    document = json.loads((FIXTURES / fixture).read_text())
    returncode = int(document.get("smartctl", {}).get("exit_status", 0))
    report = parse_device(document, disk, returncode)
    out = []
    for name, values, value in samples_of(report):
        names = BY_NAME[name].labels
        labels = {**device_labels(device), **dict(zip(names, values, strict=True))}
        out.append(Sample({**labels, "__name__": name}, ts_ms, float(value)))
    return out


def send(store, world, fixture: str, disk: str, ts_ms: int = NOW_MS) -> None:
    store.append(world.acme.pk, agent_samples(world.acme_device, fixture, disk, ts_ms))


def disk_alerts(world):
    return Alert.objects.filter(organization_id=world.acme.pk, rule_name="Disk failing")


def test_a_failing_disk_raises_one_alert_with_its_reasons_and_a_healthy_one_none(store, world):
    send(store, world, "hdd_reallocated_pending.json", "sdb")
    send(store, world, "nvme_healthy.json", "nvme0")
    verdicts = disk_health.run(store, world.acme.pk, NOW_MS)

    assert {v.disk: v.health.level.value for v in verdicts} == {
        "sdb": "critical",
        "nvme0": "ok",
    }
    alert = disk_alerts(world).get()
    assert alert.status == "firing" and alert.severity == "critical"
    assert alert.labels["disk"] == "sdb"
    assert alert.device_id == world.acme_device.pk
    assert alert.title == f"Disk sdb on {world.acme_device.hostname} shows signs of failure"
    assert "reallocated sectors" in alert.description
    assert "pending sectors" in alert.description
    assert alert.description.startswith("sdb (")


def test_crc_errors_alone_do_not_page_but_a_failed_self_assessment_does(store, world):
    send(store, world, "hdd_crc_errors.json", "sdc")
    disk_health.run(store, world.acme.pk, NOW_MS)
    assert not disk_alerts(world).exists()  # a cable to check, not a dying disk

    send(store, world, "hdd_smart_failed.json", "sdc", NOW_MS + MIN)
    disk_health.run(store, world.acme.pk, NOW_MS + MIN)
    alert = disk_alerts(world).get()
    assert "FAILED" in alert.description


def test_new_reallocations_over_the_week_are_reported_as_growth(store, world):
    week_ago = NOW_MS - 7 * 24 * 60 * MIN
    send(store, world, "hdd_healthy.json", "sda", week_ago)
    send(store, world, "hdd_reallocated_pending.json", "sda")
    (verdict,) = disk_health.run(store, world.acme.pk, NOW_MS)
    assert any("was 0" in reason for reason in verdict.health.reasons), verdict.health.reasons


def test_a_disk_that_stopped_reporting_is_not_judged_on_old_data(store, world):
    send(store, world, "hdd_reallocated_pending.json", "sdb", NOW_MS - 2 * 60 * MIN)
    assert disk_health.run(store, world.acme.pk, NOW_MS) == []
    assert not disk_alerts(world).exists()


def test_the_api_and_the_device_page_show_each_disks_health(store, world, api):
    send(store, world, "hdd_reallocated_pending.json", "sdb")
    send(store, world, "nvme_healthy.json", "nvme0")
    path = f"/api/v1/devices/{world.acme_device.pk}/disk-health"
    response = api.as_(world.viewer).get(path)
    assert response.status_code == 200
    by_disk = {d["disk"]: d for d in response.json()}
    assert by_disk["sdb"]["level"] == "critical"
    assert {f["code"] for f in by_disk["sdb"]["findings"]} >= {"counter_5", "counter_197"}
    assert by_disk["nvme0"]["level"] == "ok" and by_disk["nvme0"]["findings"] == []
    assert api.as_(world.outsider).get(path).status_code == 404

    client = Client()
    client.login(email=world.viewer.email, password=PASSWORD)
    page = client.get(f"/devices/{world.acme_device.pk}/").content.decode()
    assert 'id="disks-h"' in page
    assert 'data-disk-level="critical"' in page and "pending sectors" in page
