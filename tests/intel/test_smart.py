"""Disk failure risk from SMART (steward.intel.smart) on the recorded smartctl outputs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from steward.intel.smart import (
    DiskHealth,
    Level,
    assess,
    assess_metrics,
    assess_trend,
    snapshot_from_json,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "smart"
DAY = 86400.0


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def with_attribute(doc: dict[str, Any], attribute_id: int, raw: int) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for row in doc["ata_smart_attributes"]["table"]:
        if row["id"] == attribute_id:
            row["raw"] = {"value": raw, "string": str(raw)}
    return doc


def as_metrics(doc: dict[str, Any]) -> list[tuple[str, dict[str, str], float]]:
    """What the server stores for a document: the agent's own samples, labels named."""
    from steward.agent.metrics.families import BY_NAME
    from steward.agent.metrics.smart import parse_device, samples_of

    device = doc.get("device", {}).get("name", "/dev/sdx").removeprefix("/dev/")
    return [
        (name, dict(zip(BY_NAME[name].labels, labels, strict=True)), value)
        for name, labels, value in samples_of(parse_device(doc, device))
    ]


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("sata_ssd_healthy.json", Level.OK),
        ("hdd_healthy.json", Level.OK),
        ("nvme_healthy.json", Level.OK),  # 1532 error-log entries are not a failure sign
        ("hdd_crc_errors.json", Level.WATCH),
        ("hdd_reallocated_pending.json", Level.CRITICAL),
        ("hdd_smart_failed.json", Level.CRITICAL),
        ("nvme_failing.json", Level.CRITICAL),
        ("usb_bridge_unsupported.json", Level.UNKNOWN),
        ("permission_denied.json", Level.UNKNOWN),
        ("hdd_standby.json", Level.UNKNOWN),
        ("hdd_seagate_healthy.json", Level.OK),
        ("nvme_hot.json", Level.WATCH),
        ("sas_hdd_healthy.json", Level.OK),
        ("sas_hdd_grown_defects.json", Level.CRITICAL),
        ("qemu_no_smart.json", Level.UNKNOWN),
        ("usb_bridge_partial.json", Level.UNKNOWN),
    ],
)
def test_each_recorded_disk_gets_its_level(name: str, level: Level) -> None:
    health = assess(load(name))
    assert health.level == level
    assert 0.0 <= health.score <= 1.0
    if level in (Level.OK, Level.UNKNOWN):
        assert health.score == 0.0
    else:
        assert health.reasons


@pytest.mark.parametrize(
    "name", [p.name for p in sorted(FIXTURES.glob("*.json")) if "scan" not in p.name]
)
def test_the_stored_metrics_give_the_same_verdict_as_the_document(name: str) -> None:
    doc = load(name)
    from_json, from_metrics = assess(doc), assess_metrics(as_metrics(doc))
    assert from_metrics.level == from_json.level
    assert from_metrics.score == from_json.score
    if from_json.level != Level.UNKNOWN:
        assert from_metrics.reasons == from_json.reasons


def test_healthy_disks_have_no_reasons() -> None:
    assert assess(load("hdd_healthy.json")).reasons == []
    assert assess(load("hdd_healthy.json")).alert_text.endswith("no SMART warning signs")


def test_reallocated_and_pending_sectors_are_named_with_their_counts() -> None:
    health = assess(load("hdd_reallocated_pending.json"))
    assert health.reasons == ["12 pending sectors", "3 reallocated sectors"]
    assert health.alert_text == (
        "sdc (ST4000DM000-1F2168, Z302ABCD): disk health critical — "
        "12 pending sectors; 3 reallocated sectors"
    )


def test_a_few_reallocated_sectors_alone_are_a_warning() -> None:
    doc = with_attribute(load("hdd_healthy.json"), 5, 3)
    health = assess(doc)
    assert health.level == Level.WARNING and health.reasons == ["3 reallocated sectors"]
    one = assess(with_attribute(load("hdd_healthy.json"), 5, 1))
    assert one.reasons == ["1 reallocated sector"]
    many = assess(with_attribute(load("hdd_healthy.json"), 5, 250))
    assert many.score > health.score  # more sectors, more risk


def test_pending_sectors_alone_are_a_warning() -> None:
    health = assess(with_attribute(load("hdd_healthy.json"), 197, 12))
    assert health.level == Level.WARNING and health.reasons == ["12 pending sectors"]


def test_crc_errors_point_at_the_cable_not_the_disk() -> None:
    health = assess(load("hdd_crc_errors.json"))
    assert health.reasons == [
        "57 CRC errors on the SATA link: check the cable or connector, not the disk"
    ]


def test_a_failed_self_assessment_is_critical_and_says_so_first() -> None:
    health = assess(load("hdd_smart_failed.json"))
    assert health.reasons[0] == "SMART overall-health self-assessment FAILED"
    assert (
        "SMART attribute 5 Reallocated_Sector_Ct at or below its failure threshold "
        "(value 5, threshold 10)" in health.reasons
    )
    assert "the self-test log records a failed self-test" in health.reasons
    assert "1734 uncorrectable errors reported to the host" in health.reasons
    # Seagate packs three counters into 188's raw value: "1 1 1" is one timeout, not 4e9.
    assert "1 command timeout" in health.reasons
    assert health.score > 0.99


def test_the_failed_status_alone_is_critical() -> None:
    doc = load("hdd_healthy.json")
    doc["smart_status"]["passed"] = False
    assert assess(doc).level == Level.CRITICAL


def test_a_hot_drive_attribute_below_threshold_is_only_a_watch() -> None:
    doc = copy.deepcopy(load("hdd_reallocated_pending.json"))
    doc["ata_smart_attributes"]["table"] = [
        {**row, "value": 44} if row["id"] == 190 else row
        for row in doc["ata_smart_attributes"]["table"]
        if row["id"] not in (5, 197)
    ]
    health = assess(doc)
    assert health.level == Level.WATCH
    assert health.reasons == [
        "SMART attribute 190 Airflow_Temperature_Cel at or below its failure threshold "
        "(value 44, threshold 45)"
    ]


def test_a_failing_nvme_names_spare_media_errors_wear_and_its_warning_bits() -> None:
    reasons = assess(load("nvme_failing.json")).reasons
    assert reasons == [  # smartctl's FAILED only restates the warning byte: said by its bits
        "NVMe critical warning: reliability degraded by media or internal errors",
        "NVMe available spare 4 % below threshold 10 %",
        "38 NVMe media errors (unrecovered data integrity)",
        "percentage used 103 %: past the rated endurance",
    ]


def test_nvme_wear_and_spare_near_threshold_alone_are_a_watch() -> None:
    doc = load("nvme_healthy.json")
    log = doc["nvme_smart_health_information_log"]
    log.update(available_spare=15, percentage_used=93)
    health = assess(doc)
    assert health.level == Level.WATCH
    assert health.reasons == [
        "NVMe available spare 15 % near threshold 10 %",
        "percentage used 93 %",
    ]


def test_a_read_only_nvme_is_critical_on_its_warning_bit_alone() -> None:
    doc = load("nvme_healthy.json")
    doc["nvme_smart_health_information_log"]["critical_warning"] = 0x08
    health = assess(doc)
    assert health.level == Level.CRITICAL
    assert health.reasons == ["NVMe critical warning: media placed in read-only mode"]


def test_a_disk_without_smart_data_is_unknown_and_says_why() -> None:
    health = assess(load("permission_denied.json"))
    assert health.reasons == [
        "no SMART data: Smartctl open device: /dev/sda [SAT] failed: Permission denied"
    ]
    usb = assess(load("usb_bridge_unsupported.json"))
    assert "Unknown USB bridge" in usb.reasons[0]
    assert assess_metrics([]).level == Level.UNKNOWN


def test_levels_follow_the_score() -> None:
    for name in ("hdd_crc_errors.json", "hdd_reallocated_pending.json", "nvme_failing.json"):
        health = assess(load(name))
        assert health.level == (
            Level.CRITICAL if health.score >= 0.6 else
            Level.WARNING if health.score >= 0.3 else
            Level.WATCH if health.score >= 0.1 else Level.OK
        )  # fmt: skip


# --- trends -----------------------------------------------------------------------------


NOW = 1764390600.0  # the fixtures' local_time


def test_new_reallocations_in_the_last_week_are_flagged() -> None:
    history = [
        (NOW - 10 * DAY, {5: 0, 197: 0}),
        (NOW - 7 * DAY, {5: 0, 197: 0}),
        (NOW - 3 * DAY, {5: 1, 197: 4}),
        (NOW, {5: 3, 197: 4}),
    ]
    trend = assess_trend(history)
    assert trend.reasons == [
        "new reallocated sectors: +3 in the last 7 days (3, was 0 a week ago)",
        "new pending sectors: +4 in the last 7 days (4, was 0 a week ago)",
    ]
    assert trend.level == Level.WARNING


def test_flat_counters_are_not_a_trend() -> None:
    history = [(NOW - 8 * DAY, {"5": 3, "199": 10}), (NOW, {"5": 3, "199": 10})]
    assert assess_trend(history) == DiskHealth(Level.OK, 0.0)
    assert assess_trend([(NOW, {5: 3})]).level == Level.OK


def test_old_increases_outside_the_window_are_not_a_trend() -> None:
    history = [(NOW - 30 * DAY, {5: 0}), (NOW - 9 * DAY, {5: 3}), (NOW, {5: 3})]
    assert assess_trend(history).reasons == []


def test_rising_crc_errors_point_at_the_cable() -> None:
    history = [(NOW - 7 * DAY, {199: 12}), (NOW, {199: 57})]
    trend = assess_trend(history)
    assert trend.reasons == [
        "CRC errors rising: cable or connector: +45 in the last 7 days (57, was 12 a week ago)"
    ]
    assert trend.level == Level.WATCH


def test_a_short_history_says_how_old_its_baseline_is() -> None:
    history = [(NOW - 2 * DAY, {"media_errors": 0}), (NOW, {"media_errors": 38})]
    assert assess_trend(history).reasons == [
        "new NVMe media errors: +38 in the last 7 days (38, was 0 2 days ago)"
    ]


def test_seagate_packed_command_timeouts_compare_by_their_total() -> None:
    history = [(NOW - 7 * DAY, {188: 0}), (NOW, {188: 4295032833})]  # "1 1 1"
    assert assess_trend(history).reasons == [
        "new command timeouts: +1 in the last 7 days (1, was 0 a week ago)"
    ]


def test_a_falling_nvme_spare_is_flagged() -> None:
    history = [(NOW - 6 * DAY, {"available_spare": 100}), (NOW, {"available_spare": 60})]
    assert assess_trend(history).reasons == [
        "NVMe available spare fell from 100 % to 60 % in the last 7 days"
    ]


def test_assess_with_history_says_what_a_growing_counter_was_a_week_ago() -> None:
    doc = load("hdd_reallocated_pending.json")
    history = [(NOW - 7 * DAY, {5: 0, 197: 12}), (NOW - DAY, {5: 2, 197: 12})]
    health = assess(doc, history)
    assert health.reasons == [
        "3 reallocated sectors (was 0 a week ago)",
        "12 pending sectors",  # unchanged for a week: no "was"
    ]
    assert health.score > assess(doc).score


def test_assess_metrics_with_history_as_the_server_would_call_it() -> None:
    doc = load("hdd_crc_errors.json")
    history = [(NOW - 7 * DAY, snapshot_from_json(with_attribute(doc, 199, 3)).counters())]
    health = assess_metrics(as_metrics(doc), history, now=NOW)
    assert health.reasons == [
        "CRC errors rising: cable or connector "
        "(57 CRC errors on the SATA link: check the cable or connector, not the disk, "
        "was 3 a week ago)"
    ]
    assert health.level == Level.WATCH


# --- smartctl outputs of kinds the first fixtures did not cover ---------------------------


def test_an_nvme_that_is_only_hot_is_a_watch_not_a_failed_disk() -> None:
    # smartctl prints "FAILED" (smart_status.passed false, exit bit 3) for any non-zero
    # critical-warning byte, here only the temperature bit: that is not the drive's verdict.
    doc = load("nvme_hot.json")
    assert doc["smart_status"]["passed"] is False and doc["smartctl"]["exit_status"] & 8
    for health in (assess(doc), assess_metrics(as_metrics(doc))):
        assert health.level == Level.WATCH
        assert health.reasons == ["NVMe critical warning: temperature outside its thresholds"]


def test_an_nvme_failed_status_without_its_warning_byte_is_still_failed() -> None:
    doc = load("nvme_healthy.json")
    doc["smart_status"] = {"passed": False}
    del doc["nvme_smart_health_information_log"]["critical_warning"]
    assert assess(doc).reasons[0] == "SMART overall-health self-assessment FAILED"


def test_sas_grown_defects_and_uncorrected_errors_are_scored() -> None:
    health = assess(load("sas_hdd_grown_defects.json"))
    assert health.level == Level.CRITICAL
    assert health.reasons == [
        "212 grown defects (remapped blocks)",
        "4 uncorrected read/write/verify errors",
    ]
    assert health.model == "SEAGATE ST4000NM0023"


def test_the_server_sees_sas_grown_defects_uncorrected_errors_and_endurance() -> None:
    metrics = as_metrics(load("sas_hdd_grown_defects.json"))
    health = assess_metrics(metrics)
    assert health.level == Level.CRITICAL
    assert health.reasons == [
        "212 grown defects (remapped blocks)",
        "4 uncorrected read/write/verify errors",  # read 3 + write 0 + verify 1
    ]
    # A series given twice (two points of one bucket) is not counted twice.
    assert assess_metrics([*metrics, *metrics]).reasons == health.reasons
    worn = [
        *as_metrics(load("sas_hdd_healthy.json")),
        ("smartctl_scsi_percentage_used_endurance_indicator", {"device": "sdg"}, 101.0),
    ]
    assert assess_metrics(worn).reasons == ["percentage used 101 %: past the rated endurance"]


def test_a_healthy_sas_disk_is_ok_despite_its_corrected_error_counts() -> None:
    health = assess(load("sas_hdd_healthy.json"))
    assert (health.level, health.reasons) == (Level.OK, [])


def test_a_virtual_disk_without_smart_is_unknown_on_both_paths() -> None:
    doc = load("qemu_no_smart.json")
    for health in (assess(doc), assess_metrics(as_metrics(doc))):
        assert health.level == Level.UNKNOWN
        assert health.reasons == ["no SMART data: the device reports no SMART data"]


def test_a_usb_bridge_that_passes_no_smart_commands_is_unknown_and_says_why() -> None:
    doc = load("usb_bridge_partial.json")
    health = assess(doc)
    assert health.level == Level.UNKNOWN
    assert "Read SMART Data failed" in health.reasons[0]
    assert assess_metrics(as_metrics(doc)).level == Level.UNKNOWN  # was "ok": identity only


def test_a_healthy_seagate_with_packed_raw_values_is_ok() -> None:
    # 1, 7 and 195 pack an error count with an operation count into 48 bits (raw values in
    # the hundreds of millions on a healthy drive); 188 packs three 16-bit counters.
    doc = load("hdd_seagate_healthy.json")
    raws = {r["id"]: r["raw"]["value"] for r in doc["ata_smart_attributes"]["table"]}
    assert raws[7] > 2**32 and raws[1] > 10**8 and raws[195] > 10**8
    for health in (assess(doc), assess_metrics(as_metrics(doc))):
        assert (health.level, health.reasons) == (Level.OK, [])
