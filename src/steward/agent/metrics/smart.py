"""Disk health from SMART: ``smartctl --json`` (smartmontools 7.0+) read in the background.

Devices are found with ``smartctl --scan-open``; each is then read with ``smartctl --json=c
-a -n standby -d <type> <device>`` every ``REFRESH_SECONDS`` (SMART counters move over
hours and days, and a read costs several ATA/NVMe commands and up to seconds on a USB
bridge). The reads run on their own thread: ``collect()`` only returns what the last
refresh found, so a slow or hung smartctl never holds up a metrics round, and a refresh is
not started again while one is still running. ``-n standby`` keeps a spun-down disk asleep:
its previous values are reported until it wakes (the values cannot change while it sleeps).

Names follow prometheus-community/smartctl_exporter where it has the metric; labels are
bounded: one series per attribute that the drive's own attribute table lists (about 30)
and per value kind (raw, value, worst, thresh). Raw values are smartctl's ``raw.value``,
a number; for a few attributes vendors pack several counters into it (Seagate's 188,
temperatures' min/max), which the server-side scoring knows (``steward.intel.smart``).
SAS/SCSI disks add their grown defect list, the read, write and verify errors they could
not correct, and (SSDs) the endurance used, under smartctl_exporter's names
(``smartctl_scsi_grown_defect_list``, ``smartctl_read_total_uncorrected_errors``, ...).

Where smartctl is absent the collector reports nothing and says so once in the log; where
it lacks the privileges to open disks (it needs root, or CAP_SYS_RAWIO and CAP_SYS_ADMIN),
likewise once. Exit statuses are decoded as the bitmask smartctl(8) § EXIT STATUS defines.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from steward.agent.metrics.collectors import Sample

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 600.0  # how often smartctl reads every disk
REPORT_SECONDS = 60.0  # how often the cached values are reported (keeps series fresh)
SMARTCTL_TIMEOUT = 60.0  # per smartctl call; USB bridges can take tens of seconds
# Where distributions install smartctl; a service's PATH often lacks the sbin directories.
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
_PERMISSION_HINTS = ("Permission denied", "Operation not permitted")
_LOW_POWER_HINT = "Device is in "  # "Device is in STANDBY mode, exit(2)"

# (exit status, stdout) of ``smartctl <args>``; FileNotFoundError when smartctl is absent.
Runner = Callable[[Sequence[str]], tuple[int, str]]


class ExitStatus(enum.IntFlag):
    """smartctl's exit status, a bitmask (smartctl(8) § EXIT STATUS).

    Bits 0 and 1 mean smartctl read nothing (bad command line; device open or IDENTIFY
    failed, or the device is in a low-power mode with ``-n``). Bit 2 means some command
    failed or a SMART structure had a bad checksum: what was read is still reported.
    Bits 3 to 7 describe the disk, not the command.
    """

    COMMAND_LINE = 1  # bit 0: the command line did not parse
    DEVICE_OPEN = 2  # bit 1: open/IDENTIFY failed, or low-power mode (-n)
    COMMAND_FAILED = 4  # bit 2: a SMART or other command failed, or a checksum error
    DISK_FAILING = 8  # bit 3: SMART status "DISK FAILING" (NVMe: a critical warning)
    PREFAIL_BELOW_THRESHOLD = 16  # bit 4: prefail attributes <= threshold now
    PAST_BELOW_THRESHOLD = 32  # bit 5: attributes were <= threshold in the past
    ERROR_LOG = 64  # bit 6: the device error log has records
    SELF_TEST_ERRORS = 128  # bit 7: the self-test log has errors

    @property
    def no_data(self) -> bool:
        """True when smartctl could not read the device at all (bits 0 and 1)."""
        return bool(self & (ExitStatus.COMMAND_LINE | ExitStatus.DEVICE_OPEN))

    @property
    def disk_conditions(self) -> ExitStatus:
        """Only the bits (3 to 7) that report the disk's condition."""
        return self & ExitStatus(0xF8)


class SmartctlError(Exception):
    """smartctl ran but its output is not what smartctl 7.x prints with ``--json``."""


@dataclass(frozen=True, slots=True)
class ScanEntry:
    """One device of ``smartctl --scan-open``: its path and the ``-d`` type to read it."""

    name: str  # "/dev/sda", "/dev/nvme0", "/dev/bus/0"
    type: str  # "sat", "nvme", "scsi", "megaraid,0", ...
    protocol: str  # "ATA", "NVMe", "SCSI"
    open_error: str = ""

    @property
    def label(self) -> str:
        """The ``device`` label: the path without ``/dev/`` (as smartctl_exporter), plus
        the type where several disks share one path behind a RAID controller."""
        label = self.name.removeprefix("/dev/")
        if "," in self.type:  # "megaraid,0", "sat+megaraid,1", "cciss,2"
            label += "_" + self.type.replace(",", "_").replace("+", "_")
        return label


@dataclass(frozen=True, slots=True)
class Attribute:
    """One row of the ATA SMART attribute table."""

    id: int
    name: str
    value: int  # normalised, vendor-defined (usually 100 or 200 = new, falling)
    worst: int
    thresh: int  # the vendor's failure threshold for ``value`` (0: never fails)
    raw: int


@dataclass(frozen=True, slots=True)
class NvmeHealth:
    """The NVMe SMART / Health Information log (log page 02h), as smartctl names it."""

    critical_warning: int | None
    available_spare: int | None  # percent
    available_spare_threshold: int | None  # percent
    percentage_used: int | None  # percent of rated endurance; may exceed 100
    media_errors: int | None
    num_err_log_entries: int | None


@dataclass(frozen=True, slots=True)
class ScsiHealth:
    """The SAS/SCSI health fields of ``smartctl -a`` (log pages the drive supports)."""

    grown_defect_list: int | None  # blocks remapped since the factory (ATA's attribute 5)
    read_uncorrected: int | None  # scsi_error_counter_log.<op>.total_uncorrected_errors
    write_uncorrected: int | None
    verify_uncorrected: int | None
    percentage_used: int | None  # SSDs: scsi_percentage_used_endurance_indicator


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """What one ``smartctl -a`` said about one device."""

    device: str  # the label
    exit_status: ExitStatus
    model: str = ""
    serial: str = ""
    firmware: str = ""
    interface: str = ""  # smartctl's device type: "sat", "nvme", "scsi", ...
    rotational: bool | None = None  # None: unknown (not reported)
    smart_passed: bool | None = None  # None: no overall-health result
    temperature_celsius: float | None = None
    power_on_seconds: float | None = None
    attributes: tuple[Attribute, ...] = ()
    nvme: NvmeHealth | None = None
    scsi: ScsiHealth | None = None
    messages: tuple[str, ...] = field(default=())

    @property
    def has_data(self) -> bool:
        return not self.exit_status.no_data


def parse_json(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as error:
        # smartctl before 7.0 answers "UNRECOGNIZED OPTION: json" in plain text.
        raise SmartctlError(f"smartctl did not print JSON (needs smartctl 7.0+): {error}") from None
    if not isinstance(document, dict) or "json_format_version" not in document:
        raise SmartctlError("smartctl printed JSON without json_format_version")
    return document


def messages(document: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(m.get("string", ""))
        for m in document.get("smartctl", {}).get("messages", [])
        if isinstance(m, dict)
    )


def exit_status(document: dict[str, Any], returncode: int) -> ExitStatus:
    """The document's own ``smartctl.exit_status`` (the same as the process's), else the
    process's return code; only the low eight bits are defined."""
    status = document.get("smartctl", {}).get("exit_status", returncode)
    return ExitStatus(int(status) & 0xFF)


def parse_scan(document: dict[str, Any]) -> list[ScanEntry]:
    """The devices of ``smartctl --json --scan`` or ``--scan-open`` (no ``devices`` key
    when there are none)."""
    entries = []
    for device in document.get("devices", []):
        if not isinstance(device, dict) or not device.get("name"):
            continue
        entries.append(
            ScanEntry(
                name=str(device["name"]),
                type=str(device.get("type", "auto")),
                protocol=str(device.get("protocol", "")),
                open_error=str(device.get("open_error", "")),
            )
        )
    return entries


def _int(value: Any) -> int | None:
    """An integer field, or None for anything else (a bool, a string, a non-finite float:
    ``int(inf)`` would raise and stop the refresh of every disk)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def _attribute(row: Any) -> Attribute | None:
    """One attribute-table row, or None when a field is not a number (a row smartctl could
    not decode is left out; the rest of the disk is still reported)."""
    if not isinstance(row, dict):
        return None
    raw = row.get("raw", {})
    numbers = [
        _int(row.get("id")),
        _int(row.get("value", 0)),
        _int(row.get("worst", 0)),
        _int(row.get("thresh", 0)),
        _int(raw.get("value", 0) if isinstance(raw, dict) else None),
    ]
    if any(n is None for n in numbers):
        return None
    id_, value, worst, thresh, raw_value = (int(n) for n in numbers if n is not None)
    return Attribute(id_, str(row.get("name", "")), value, worst, thresh, raw_value)


def parse_device(document: dict[str, Any], label: str, returncode: int = 0) -> DeviceReport:
    """One device's ``smartctl --json -a`` document as a typed report."""
    status = exit_status(document, returncode)
    notes = messages(document)
    if status.no_data:
        return DeviceReport(label, status, messages=notes)
    device = document.get("device", {})
    rotation = document.get("rotation_rate")
    protocol = str(device.get("protocol", ""))
    rotational: bool | None = None
    if isinstance(rotation, int):
        rotational = rotation > 0  # 0: "Solid State Device"
    elif protocol == "NVMe":
        rotational = False
    passed = document.get("smart_status", {}).get("passed")
    temperature = _int(document.get("temperature", {}).get("current"))
    power_on = document.get("power_on_time", {})
    hours, minutes = _int(power_on.get("hours")), _int(power_on.get("minutes")) or 0
    attributes = tuple(
        attribute
        for row in document.get("ata_smart_attributes", {}).get("table", [])
        if (attribute := _attribute(row)) is not None
    )
    log = document.get("nvme_smart_health_information_log")
    nvme = None
    if isinstance(log, dict):
        nvme = NvmeHealth(
            critical_warning=_int(log.get("critical_warning")),
            available_spare=_int(log.get("available_spare")),
            available_spare_threshold=_int(log.get("available_spare_threshold")),
            percentage_used=_int(log.get("percentage_used")),
            media_errors=_int(log.get("media_errors")),
            num_err_log_entries=_int(log.get("num_err_log_entries")),
        )
    scsi = _scsi_health(document)
    return DeviceReport(
        device=label,
        exit_status=status,
        model=str(document.get("model_name") or document.get("scsi_model_name") or ""),
        serial=str(document.get("serial_number", "")),
        firmware=str(document.get("firmware_version") or document.get("scsi_revision") or ""),
        interface=str(device.get("type", "")),
        rotational=rotational,
        smart_passed=passed if isinstance(passed, bool) else None,
        temperature_celsius=temperature,
        power_on_seconds=None if hours is None else hours * 3600 + minutes * 60,
        attributes=attributes,
        nvme=nvme,
        scsi=scsi,
        messages=notes,
    )


def _scsi_health(document: dict[str, Any]) -> ScsiHealth | None:
    """The SAS/SCSI health fields, or None when the document has none (ATA, NVMe)."""
    log = document.get("scsi_error_counter_log")
    log = log if isinstance(log, dict) else {}

    def uncorrected(operation: str) -> int | None:
        counters = log.get(operation)
        if not isinstance(counters, dict):
            return None
        return _int(counters.get("total_uncorrected_errors"))

    health = ScsiHealth(
        grown_defect_list=_int(document.get("scsi_grown_defect_list")),
        read_uncorrected=uncorrected("read"),
        write_uncorrected=uncorrected("write"),
        verify_uncorrected=uncorrected("verify"),
        percentage_used=_int(document.get("scsi_percentage_used_endurance_indicator")),
    )
    return None if health == ScsiHealth(None, None, None, None, None) else health


def samples_of(report: DeviceReport) -> list[Sample]:
    """The metric samples of one device (only the exit status when nothing was read)."""
    dev = report.device
    samples: list[Sample] = [
        ("smartctl_device_smartctl_exit_status", (dev,), int(report.exit_status))
    ]
    if not report.has_data:
        return samples
    rotational = "" if report.rotational is None else str(int(report.rotational))
    samples.append(
        ("smartctl_device_info",
         (dev, report.model, report.serial, report.firmware, report.interface, rotational), 1)
    )  # fmt: skip
    if report.smart_passed is not None:
        samples.append(
            ("smartctl_device_smart_status", (dev, report.model, report.serial),
             int(report.smart_passed))
        )  # fmt: skip
    if report.temperature_celsius is not None:
        samples.append(("smartctl_device_temperature_celsius", (dev,), report.temperature_celsius))
    if report.power_on_seconds is not None:
        samples.append(("smartctl_device_power_on_seconds", (dev,), report.power_on_seconds))
    for attr in report.attributes:
        for kind, value in (("raw", attr.raw), ("value", attr.value), ("worst", attr.worst),
                            ("thresh", attr.thresh)):  # fmt: skip
            samples.append(
                ("smartctl_device_attribute", (dev, str(attr.id), attr.name, kind), value)
            )
    if report.nvme is not None:
        for name, value in (
            ("smartctl_device_critical_warning", report.nvme.critical_warning),
            ("smartctl_device_available_spare", report.nvme.available_spare),
            ("smartctl_device_available_spare_threshold", report.nvme.available_spare_threshold),
            ("smartctl_device_percentage_used", report.nvme.percentage_used),
            ("smartctl_device_media_errors", report.nvme.media_errors),
            ("smartctl_device_num_err_log_entries", report.nvme.num_err_log_entries),
        ):
            if value is not None:
                samples.append((name, (dev,), value))
    if report.scsi is not None:
        for name, value in (
            ("smartctl_scsi_grown_defect_list", report.scsi.grown_defect_list),
            ("smartctl_read_total_uncorrected_errors", report.scsi.read_uncorrected),
            ("smartctl_write_total_uncorrected_errors", report.scsi.write_uncorrected),
            ("smartctl_verify_total_uncorrected_errors", report.scsi.verify_uncorrected),
            ("smartctl_scsi_percentage_used_endurance_indicator", report.scsi.percentage_used),
        ):
            if value is not None:
                samples.append((name, (dev,), value))
    return samples


def find_smartctl() -> str | None:
    path = os.environ.get("PATH", os.defpath) + os.pathsep + os.pathsep.join(_SBIN)
    return shutil.which("smartctl", path=path)


def run_smartctl(args: Sequence[str]) -> tuple[int, str]:
    """The default runner: the real smartctl, with a timeout; FileNotFoundError if absent."""
    binary = find_smartctl()
    if binary is None:
        raise FileNotFoundError("smartctl")
    done = subprocess.run(  # argument list, no shell; the device names come from smartctl
        [binary, *args],
        capture_output=True,
        text=True,
        timeout=SMARTCTL_TIMEOUT,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    return done.returncode, done.stdout


class SmartCollector:
    """SMART metrics of every disk smartctl finds, refreshed on a background thread."""

    name = "smart"

    def __init__(
        self,
        runner: Runner = run_smartctl,
        *,
        refresh: float = REFRESH_SECONDS,
        report_period: float = REPORT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runner = runner
        self.refresh_seconds = refresh
        self.report_period = report_period
        self._clock = clock
        # Every round until the first refresh has finished (so the first values go out as
        # soon as they exist), then once per report_period (the engine reads this each round).
        self.period = 0.0
        self._lock = threading.Lock()
        self._by_device: dict[str, list[Sample]] = {}
        self._started_at: float | None = None
        self._thread: threading.Thread | None = None
        self._said: set[str] = set()

    @property
    def refreshing(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def collect(self) -> list[Sample]:
        """The samples of the last refresh; starts a refresh when one is due. Never waits
        for smartctl."""
        now = self._clock()
        with self._lock:
            due = self._started_at is None or now - self._started_at >= self.refresh_seconds
            if due and not self.refreshing:
                self._started_at = now
                self._thread = threading.Thread(
                    target=self._refresh_safely, name="steward-smartctl", daemon=True
                )
                self._thread.start()
            return [s for samples in self._by_device.values() for s in samples]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running refresh (tests, the one-shot CLI); True when none is left."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.refreshing

    def _refresh_safely(self) -> None:
        try:
            self.refresh()
        except Exception as error:  # on our own thread: nobody else would see it
            self._say_once(
                f"error:{type(error).__name__}", logging.WARNING,
                "SMART refresh failed: %s", error, exc_info=True,
            )  # fmt: skip
        finally:
            self.period = self.report_period

    def refresh(self) -> None:
        """Scan and read every device now, on the calling thread, and replace the cache."""
        try:
            returncode, text = self._runner(["--json=c", "--scan-open"])
        except FileNotFoundError:
            self._say_once(
                "absent", logging.INFO,
                "smartctl not found: no SMART (disk health) metrics; install smartmontools",
            )  # fmt: skip
            with self._lock:
                self._by_device = {}
            return
        scan = parse_json(text)
        if exit_status(scan, returncode) & ExitStatus.COMMAND_LINE:
            raise SmartctlError("smartctl --scan-open failed: " + "; ".join(messages(scan)))
        entries = parse_scan(scan)
        with self._lock:
            previous = dict(self._by_device)
        found: dict[str, list[Sample]] = {}
        for entry in entries:
            try:
                samples = self._read(entry)
            except (SmartctlError, ValueError, TypeError, AttributeError, KeyError) as error:
                # One device whose output smartctl garbled (a crashing USB bridge, a
                # truncated document) must not cost every other disk its refresh.
                self._say_once(f"bad:{entry.label}", logging.WARNING,
                               "cannot read SMART data of %s: %s", entry.name, error)  # fmt: skip
                samples = None
            if samples is None:  # asleep (SMART data cannot change while spun down) or unreadable
                samples = previous.get(entry.label, [])
            found[entry.label] = samples
        with self._lock:
            self._by_device = found

    def _read(self, entry: ScanEntry) -> list[Sample] | None:
        args = ["--json=c", "-a", "-n", "standby", "-d", entry.type, entry.name]
        try:
            returncode, text = self._runner(args)
        except subprocess.TimeoutExpired:
            self._say_once(f"timeout:{entry.label}", logging.WARNING,
                           "smartctl timed out reading %s", entry.name)  # fmt: skip
            return None
        report = parse_device(parse_json(text), entry.label, returncode)
        if report.exit_status.no_data:
            notes = "; ".join(report.messages) or f"exit status {int(report.exit_status)}"
            if any(_LOW_POWER_HINT in note for note in report.messages):
                return None
            if any(hint in notes for hint in _PERMISSION_HINTS):
                self._say_once("permission", logging.WARNING,
                               "smartctl cannot open disks without root (%s): no SMART "
                               "metrics until the agent runs as root", notes)  # fmt: skip
            else:
                self._say_once(f"nodata:{entry.label}", logging.INFO,
                               "no SMART data from %s: %s", entry.name, notes)  # fmt: skip
        elif report.exit_status & ExitStatus.COMMAND_FAILED:
            self._say_once(f"partial:{entry.label}", logging.DEBUG,
                           "smartctl: some commands to %s failed: %s", entry.name,
                           "; ".join(report.messages))  # fmt: skip
        return samples_of(report)

    def _say_once(self, key: str, level: int, message: str, *args: Any, **kw: Any) -> None:
        if key in self._said:
            return
        self._said.add(key)
        logger.log(level, message, *args, **kw)
