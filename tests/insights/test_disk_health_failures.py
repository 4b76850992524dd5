"""One disk whose SMART series cannot be assessed does not hide the others' health.

The job scores every disk of an organization in one pass; a disk whose stored series make
the assessment raise (an exit status of +Inf from a stray exporter, say: ``int(inf)``)
stopped the pass, so no disk of the organization was assessed, run after run.
"""

from __future__ import annotations

import logging

import pytest

from steward.insights import disk_health
from steward.tsdb.types import Sample
from tests.insights.conftest import NOW_MS
from tests.insights.data import device_labels
from tests.insights.test_alert_disk_health import send

pytestmark = pytest.mark.django_db


def test_a_disk_that_cannot_be_assessed_is_skipped_and_logged(store, world, caplog):
    send(store, world, "hdd_reallocated_pending.json", "sdb")
    send(store, world, "nvme_healthy.json", "nvme0")
    labels = {
        **device_labels(world.acme_device),
        "__name__": "smartctl_device_smartctl_exit_status",
        "device": "sdx",
    }
    result = store.append(world.acme.pk, [Sample(labels, NOW_MS, float("inf"))])
    assert result.accepted == 1
    with caplog.at_level(logging.ERROR, logger="steward.insights"):
        verdicts = disk_health.assess_organization(store, world.acme.pk, NOW_MS)
    assert {v.disk: v.health.level.value for v in verdicts} == {
        "sdb": "critical",
        "nvme0": "ok",
    }
    assert "sdx" in caplog.text


def test_a_sas_disk_with_grown_defects_is_critical_through_the_stored_series(store, world):
    # The agent sends smartctl_exporter's SAS families (smartctl_scsi_grown_defect_list,
    # smartctl_read_total_uncorrected_errors, ...), named without "device_": the job read
    # only smartctl_device_* and rated a disk with 212 grown defects "ok".
    send(store, world, "sas_hdd_grown_defects.json", "sdh")
    send(store, world, "sas_hdd_healthy.json", "sdi")
    verdicts = {
        v.disk: v.health for v in disk_health.assess_organization(store, world.acme.pk, NOW_MS)
    }
    assert verdicts["sdh"].level.value == "critical"
    assert any("grown defects" in reason for reason in verdicts["sdh"].reasons)
    assert verdicts["sdi"].level.value == "ok"
