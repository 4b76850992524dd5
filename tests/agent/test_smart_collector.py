"""The SMART collector on recorded ``smartctl --json`` outputs (tests/fixtures/smart), through
an injected runner: no smartctl and no disks needed, except in the last test."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from steward.agent.metrics.collectors import Sample
from steward.agent.metrics.engine import MetricsEngine
from steward.agent.metrics.families import BY_NAME, families_of
from steward.agent.metrics.smart import (
    DeviceReport,
    ExitStatus,
    ScanEntry,
    SmartCollector,
    SmartctlError,
    parse_device,
    parse_json,
    parse_scan,
    run_smartctl,
    samples_of,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "smart"
# The scan fixture's devices and the recorded output each one answers with.
BY_DEVICE = {
    "/dev/sda": "sata_ssd_healthy.json",
    "/dev/sdb": "hdd_healthy.json",
    "/dev/sdc": "hdd_reallocated_pending.json",
    "/dev/sdd": "hdd_crc_errors.json",
    "/dev/sde": "hdd_smart_failed.json",
    "/dev/sdf": "usb_bridge_unsupported.json",
    "/dev/nvme0": "nvme_healthy.json",
    "/dev/nvme1": "nvme_failing.json",
}


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def report(name: str, label: str = "sdx") -> DeviceReport:
    return parse_device(json.loads(fixture(name)), label)


class FakeSmartctl:
    """Answers like smartctl from the fixtures (or literal JSON text); ``delay`` makes every
    call slow."""

    def __init__(self, answers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        self.answers = BY_DEVICE if answers is None else answers
        self.delay = delay
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> tuple[int, str]:
        self.calls.append(list(args))
        time.sleep(self.delay)
        if "--scan-open" in args:
            return 0, fixture("scan_open.json")
        answer = self.answers[args[-1]]
        text = answer if answer.startswith("{") else fixture(answer)
        return json.loads(text)["smartctl"]["exit_status"], text


def absent(args: Sequence[str]) -> tuple[int, str]:
    raise FileNotFoundError("smartctl")


def by_name(samples: list[Sample], name: str) -> dict[tuple[str, ...], float]:
    return {labels: value for n, labels, value in samples if n == name}


# --- exit status ------------------------------------------------------------------------


def test_exit_status_bits_are_decoded_as_smartctl_8_defines_them() -> None:
    assert ExitStatus(2).no_data and ExitStatus(1).no_data and ExitStatus(3).no_data
    assert not ExitStatus(4).no_data  # a command failed: what was read is still good
    status = ExitStatus(216)  # 128 + 64 + 16 + 8
    assert not status.no_data
    assert ExitStatus.DISK_FAILING in status and ExitStatus.SELF_TEST_ERRORS in status
    assert ExitStatus.PREFAIL_BELOW_THRESHOLD in status and ExitStatus.ERROR_LOG in status
    assert ExitStatus.PAST_BELOW_THRESHOLD not in status
    assert ExitStatus(0x4A).disk_conditions == ExitStatus.DISK_FAILING | ExitStatus.ERROR_LOG


def test_the_exit_status_in_the_document_wins_and_only_eight_bits_count() -> None:
    doc = json.loads(fixture("permission_denied.json"))
    assert parse_device(doc, "sda", returncode=0).exit_status == ExitStatus.DEVICE_OPEN
    del doc["smartctl"]["exit_status"]
    assert parse_device(doc, "sda", returncode=256 + 2).exit_status == ExitStatus.DEVICE_OPEN


# --- parsing ----------------------------------------------------------------------------


def test_the_scan_lists_devices_with_their_type_and_label() -> None:
    entries = parse_scan(json.loads(fixture("scan_open.json")))
    assert [e.name for e in entries] == list(BY_DEVICE)
    assert entries[0] == ScanEntry("/dev/sda", "sat", "ATA")
    assert entries[0].label == "sda" and entries[6].label == "nvme0"
    assert entries[5].open_error.startswith("Unknown USB bridge")
    # Several disks behind one RAID controller path get one label each.
    assert ScanEntry("/dev/bus/0", "megaraid,3", "SCSI").label == "bus/0_megaraid_3"


def test_a_scan_without_devices_has_no_devices_key() -> None:
    scan = {"json_format_version": [1, 0], "smartctl": {"exit_status": 0}}
    assert parse_scan(scan) == []


def test_an_ata_disk_is_parsed_into_identity_health_and_attributes() -> None:
    r = report("hdd_reallocated_pending.json", "sdc")
    assert (r.model, r.serial, r.firmware, r.interface) == (
        "ST4000DM000-1F2168", "Z302ABCD", "CC54", "sat")  # fmt: skip
    assert r.rotational is True and r.smart_passed is True
    assert r.temperature_celsius == 36 and r.power_on_seconds == 34119 * 3600
    attrs = {a.id: a for a in r.attributes}
    assert (attrs[5].raw, attrs[5].value, attrs[5].thresh) == (3, 100, 10)
    assert attrs[197].raw == 12 and attrs[188].name == "Command_Timeout"
    assert r.exit_status == ExitStatus.ERROR_LOG and r.nvme is None


def test_an_ssd_is_not_rotational_and_an_nvme_reports_its_health_log() -> None:
    assert report("sata_ssd_healthy.json").rotational is False
    r = report("nvme_failing.json", "nvme1")
    assert r.rotational is False and r.smart_passed is False and r.attributes == ()
    assert r.nvme is not None
    assert (r.nvme.critical_warning, r.nvme.available_spare, r.nvme.available_spare_threshold,
            r.nvme.percentage_used, r.nvme.media_errors, r.nvme.num_err_log_entries) == (
        5, 4, 10, 103, 38, 212)  # fmt: skip


@pytest.mark.parametrize("name", ["permission_denied.json", "usb_bridge_unsupported.json"])
def test_a_device_smartctl_could_not_read_reports_only_its_exit_status(name: str) -> None:
    r = report(name, "sdf")
    assert not r.has_data and r.messages
    assert samples_of(r) == [("smartctl_device_smartctl_exit_status", ("sdf",), int(r.exit_status))]


def test_output_that_is_not_smartctl_json_is_a_typed_error() -> None:
    with pytest.raises(SmartctlError, match=r"7\.0"):
        parse_json("=======> UNRECOGNIZED OPTION: json\n")
    with pytest.raises(SmartctlError):
        parse_json("[]")


# --- metric names and labels ------------------------------------------------------------


def test_every_sample_belongs_to_a_smart_family_with_matching_labels() -> None:
    own = {f.name for f in families_of("smart")}
    for name in BY_DEVICE.values():
        samples = samples_of(report(name))
        for family, labels, value in samples:
            assert family in own, family
            assert len(labels) == len(BY_NAME[family].labels), family
            assert all(isinstance(v, str) for v in labels)
            assert isinstance(value, int | float) and not isinstance(value, bool)
        keys = [(n, labels) for n, labels, _ in samples]
        assert len(keys) == len(set(keys)), name


def test_ata_samples_follow_smartctl_exporter_names() -> None:
    samples = samples_of(report("hdd_reallocated_pending.json", "sdc"))
    info = by_name(samples, "smartctl_device_info")
    assert info == {("sdc", "ST4000DM000-1F2168", "Z302ABCD", "CC54", "sat", "1"): 1}
    assert by_name(samples, "smartctl_device_smart_status") == {
        ("sdc", "ST4000DM000-1F2168", "Z302ABCD"): 1}  # fmt: skip
    attrs = by_name(samples, "smartctl_device_attribute")
    assert attrs["sdc", "5", "Reallocated_Sector_Ct", "raw"] == 3
    assert attrs["sdc", "5", "Reallocated_Sector_Ct", "thresh"] == 10
    assert attrs["sdc", "197", "Current_Pending_Sector", "raw"] == 12
    assert attrs["sdc", "194", "Temperature_Celsius", "raw"] == 124554051620  # raw, as smartctl
    assert by_name(samples, "smartctl_device_temperature_celsius") == {("sdc",): 36}
    assert by_name(samples, "smartctl_device_power_on_seconds") == {("sdc",): 34119 * 3600}
    assert by_name(samples, "smartctl_device_smartctl_exit_status") == {("sdc",): 64}
    assert not by_name(samples, "smartctl_device_media_errors")


def test_attribute_series_are_bounded_by_the_drives_table() -> None:
    r = report("hdd_smart_failed.json")
    attrs = by_name(samples_of(r), "smartctl_device_attribute")
    assert len(attrs) == 4 * len(r.attributes) <= 4 * 30
    assert {labels[3] for labels in attrs} == {"raw", "value", "worst", "thresh"}


def test_nvme_samples() -> None:
    samples = samples_of(report("nvme_failing.json", "nvme1"))
    assert by_name(samples, "smartctl_device_smart_status") == {
        ("nvme1", "INTEL SSDPEKNW010T8", "BTNH9876543210AB"): 0}  # fmt: skip
    flat = {n: v for n, labels, v in samples if labels == ("nvme1",)}
    assert flat == {
        "smartctl_device_smartctl_exit_status": 72,
        "smartctl_device_temperature_celsius": 52,
        "smartctl_device_power_on_seconds": 29811 * 3600,
        "smartctl_device_critical_warning": 5,
        "smartctl_device_available_spare": 4,
        "smartctl_device_available_spare_threshold": 10,
        "smartctl_device_percentage_used": 103,
        "smartctl_device_media_errors": 38,
        "smartctl_device_num_err_log_entries": 212,
    }
    info = by_name(samples, "smartctl_device_info")
    assert list(info) == [("nvme1", "INTEL SSDPEKNW010T8", "BTNH9876543210AB", "002C", "nvme", "0")]


def test_sas_samples_follow_smartctl_exporter_names() -> None:
    samples = samples_of(report("sas_hdd_grown_defects.json", "sdh"))
    flat = {n: v for n, labels, v in samples if labels == ("sdh",)}
    assert flat["smartctl_scsi_grown_defect_list"] == 212
    assert flat["smartctl_read_total_uncorrected_errors"] == 3
    assert flat["smartctl_write_total_uncorrected_errors"] == 0
    assert flat["smartctl_verify_total_uncorrected_errors"] == 1
    assert "smartctl_scsi_percentage_used_endurance_indicator" not in flat  # an HDD
    assert not by_name(samples, "smartctl_device_attribute")
    info = by_name(samples, "smartctl_device_info")
    assert list(info) == [
        ("sdh", "SEAGATE ST4000NM0023", "Z1Z3QRST0000C521EFGH", "GS0F", "scsi", "1")
    ]


def test_a_sas_ssd_reports_its_endurance_and_ata_nvme_disks_no_scsi_series() -> None:
    doc = json.loads(fixture("sas_hdd_healthy.json"))
    doc["scsi_percentage_used_endurance_indicator"] = 7
    samples = samples_of(parse_device(doc, "sdg"))
    assert by_name(samples, "smartctl_scsi_percentage_used_endurance_indicator") == {("sdg",): 7}
    for name in ("hdd_healthy.json", "nvme_healthy.json", "qemu_no_smart.json"):
        assert report(name).scsi is None, name
        assert not [n for n, _, _ in samples_of(report(name)) if "scsi" in n or "uncorrected" in n]


# --- the collector ----------------------------------------------------------------------


def test_a_refresh_reads_every_scanned_device_without_waking_sleeping_disks() -> None:
    fake = FakeSmartctl()
    collector = SmartCollector(fake)
    collector.refresh()
    assert fake.calls[0] == ["--json=c", "--scan-open"]
    assert fake.calls[1] == ["--json=c", "-a", "-n", "standby", "-d", "sat", "/dev/sda"]
    assert len(fake.calls) == 1 + len(BY_DEVICE)
    samples = collector.collect()
    status = by_name(samples, "smartctl_device_smartctl_exit_status")
    assert {labels[0] for labels in status} == {p.removeprefix("/dev/") for p in BY_DEVICE}
    assert len(by_name(samples, "smartctl_device_info")) == len(BY_DEVICE) - 1  # not the USB
    collector.wait(5)


def test_collect_never_waits_for_a_slow_smartctl() -> None:
    fake = FakeSmartctl(delay=0.3)  # 9 calls: 2.7 s for a whole refresh
    collector = SmartCollector(fake)
    started = time.monotonic()
    assert collector.collect() == []  # nothing yet, and no waiting
    assert collector.collect() == []  # refresh still running: not started twice
    assert time.monotonic() - started < 0.2
    assert collector.period == 0.0  # asked again every round until the first values exist
    assert collector.wait(10)
    assert collector.collect() and collector.period == collector.report_period
    assert sum(1 for call in fake.calls if "--scan-open" in call) == 1


def test_an_engine_round_stays_within_budget_with_a_slow_smartctl() -> None:
    fake = FakeSmartctl(delay=1.0)
    collector = SmartCollector(fake)
    engine = MetricsEngine([collector], budget=0.5)
    started = time.monotonic()
    engine.collect()
    engine.collect()
    assert time.monotonic() - started < 0.5
    assert engine.stats.total_skipped == 0 and engine.stats.total_errors == 0
    engine.close()
    collector.wait(0)  # the daemon thread is left to finish on its own


def test_refresh_happens_at_the_slow_cadence() -> None:
    now = [1000.0]
    fake = FakeSmartctl()
    collector = SmartCollector(fake, refresh=600, clock=lambda: now[0])
    collector.collect()
    collector.wait(5)
    for step in range(1, 10):  # every minute for nine minutes: cached values
        now[0] = 1000.0 + 60 * step
        assert collector.collect()
    assert sum(1 for call in fake.calls if "--scan-open" in call) == 1
    now[0] = 1600.0
    collector.collect()
    collector.wait(5)
    assert sum(1 for call in fake.calls if "--scan-open" in call) == 2


def test_a_disk_in_standby_keeps_its_previous_values() -> None:
    answers = dict(BY_DEVICE)
    fake = FakeSmartctl(answers)
    collector = SmartCollector(fake)
    collector.refresh()
    before = by_name(collector.collect(), "smartctl_device_attribute")
    standby = {
        "json_format_version": [1, 0],
        "smartctl": {"messages": [{"string": "Device is in STANDBY mode, exit(2)",
                                   "severity": "information"}], "exit_status": 2},
    }  # fmt: skip
    answers["/dev/sdb"] = json.dumps(standby)
    collector.refresh()
    after = collector.collect()
    assert by_name(after, "smartctl_device_attribute") == before
    assert by_name(after, "smartctl_device_smartctl_exit_status")["sdb",] == 0


def test_absent_smartctl_means_no_metrics_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    collector = SmartCollector(absent)
    with caplog.at_level(logging.DEBUG, logger="steward.agent"):
        for _ in range(3):
            collector.refresh()
            assert collector.collect() == []
        collector.wait(5)
    lines = [r for r in caplog.records if "smartctl" in r.getMessage()]
    assert len(lines) == 1 and "install smartmontools" in lines[0].getMessage()


def test_missing_permissions_are_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeSmartctl(dict.fromkeys(BY_DEVICE, "permission_denied.json"))
    collector = SmartCollector(fake)
    with caplog.at_level(logging.INFO, logger="steward.agent"):
        collector.refresh()
        collector.refresh()
    root = [r for r in caplog.records if "without root" in r.getMessage()]
    assert len(root) == 1 and root[0].levelno == logging.WARNING
    samples = collector.collect()
    assert {n for n, _, _ in samples} == {"smartctl_device_smartctl_exit_status"}


def test_a_refresh_that_fails_is_logged_once_and_keeps_the_collector_alive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = []

    def broken(args: Sequence[str]) -> tuple[int, str]:
        calls.append(args)
        return 1, "smartctl 5.41: UNRECOGNIZED OPTION: json"

    now = [0.0]
    collector = SmartCollector(broken, refresh=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="steward.agent"):
        for step in range(3):
            now[0] = step * 10.0
            assert collector.collect() == []
            collector.wait(5)
    assert len(calls) == 3
    assert len([r for r in caplog.records if "SMART refresh failed" in r.getMessage()]) == 1


def test_a_hung_smartctl_does_not_stop_later_refreshes() -> None:
    release = threading.Event()
    calls = []

    def hanging(args: Sequence[str]) -> tuple[int, str]:
        calls.append(args)
        release.wait(5)
        return 0, fixture("scan_open.json").replace('"devices"', '"none"')

    now = [0.0]
    collector = SmartCollector(hanging, refresh=10, clock=lambda: now[0])
    collector.collect()
    now[0] = 100.0
    collector.collect()  # the first one is still running: not started twice
    assert len(calls) == 1
    release.set()
    assert collector.wait(5)
    collector.collect()
    collector.wait(5)
    assert len(calls) == 2


def test_the_default_runner_raises_file_not_found_without_smartctl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("steward.agent.metrics.smart.find_smartctl", lambda: None)
    with pytest.raises(FileNotFoundError):
        run_smartctl(["--scan"])


def test_the_real_smartctl_scan_output_is_accepted() -> None:
    # scripts/system-packages.sh installs smartmontools: on CI a missing smartctl is a bug.
    if shutil.which("smartctl", path="/usr/sbin:/usr/bin:/sbin") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("smartctl is missing: CI must install smartmontools")
        pytest.skip("smartctl not installed (apt-get install smartmontools)")
    returncode, text = run_smartctl(["--json", "--scan"])
    document = parse_json(text)
    assert document["json_format_version"][0] == 1
    assert not ExitStatus(returncode).no_data
    for entry in parse_scan(document):
        assert entry.name.startswith("/dev/") and entry.type


def test_one_device_with_garbled_output_does_not_cost_the_others_their_refresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeSmartctl()

    def runner(args: Sequence[str]) -> tuple[int, str]:
        if args[-1] == "/dev/sdd":  # smartctl died mid-document behind a flaky bridge
            return 4, fixture("hdd_crc_errors.json")[:300]
        return fake(args)

    collector = SmartCollector(runner)
    with caplog.at_level(logging.WARNING, logger="steward.agent"):
        collector.refresh()
        collector.refresh()
    exit_statuses = by_name(collector.collect(), "smartctl_device_smartctl_exit_status")
    assert set(exit_statuses) == {(p.removeprefix("/dev/"),) for p in BY_DEVICE} - {("sdd",)}
    bad = [r for r in caplog.records if "sdd" in r.getMessage()]
    assert len(bad) == 1 and bad[0].levelno == logging.WARNING


def test_an_attribute_row_smartctl_could_not_decode_is_left_out_not_the_disk() -> None:
    doc = json.loads(fixture("hdd_healthy.json"))
    doc["ata_smart_attributes"]["table"][0]["raw"] = {"value": "0/0", "string": "0/0"}
    parsed = parse_device(doc, "sdb")
    ids = [a.id for a in parsed.attributes]
    assert doc["ata_smart_attributes"]["table"][0]["id"] not in ids
    assert len(ids) == len(doc["ata_smart_attributes"]["table"]) - 1
    assert parsed.smart_passed is True


def test_a_non_finite_number_in_a_document_is_left_out_not_a_crash() -> None:
    # Python's json reads "Infinity"; int() of it raised OverflowError, which the refresh
    # does not catch, so every disk lost its refresh.
    doc = json.loads(fixture("hdd_healthy.json"))
    doc["power_on_time"] = {"hours": float("inf")}
    doc["ata_smart_attributes"]["table"][0]["raw"]["value"] = float("nan")
    parsed = parse_device(doc, "sdb")
    assert parsed.smart_passed is True
