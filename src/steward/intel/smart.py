"""Disk failure risk from SMART data: a heuristic score with reasons in plain language.

This is a heuristic, not a failure predictor with a measured accuracy: it ranks the SMART
signals that field studies found to precede failures and says which ones a disk shows. A
disk with no finding can still fail: in Google's study 36 % of the failed drives had no
count on any SMART variable, and 56 % none on the four strongest.

Evidence behind the weights
---------------------------
* Pinheiro, Weber, Barroso, "Failure Trends in a Large Disk Drive Population", FAST 2007
  (Google, over 100,000 consumer HDDs): after the *first* reallocation a drive was about
  14 times more likely to fail within 60 days, after the first offline reallocation about
  21 times, after the first pending ("probational") sector about 16 times, after the first
  scan error about 39 times. Hence: any non-zero count of these matters, a *new* one more.
* Backblaze, "What SMART Stats Tell Us About Hard Drives" (2016) and its drive-stats data:
  SMART 5 (reallocated sectors), 187 (reported uncorrectable), 188 (command timeout), 197
  (current pending) and 198 (offline uncorrectable) are the ones to watch; one or more was
  non-zero on 76.7 % of failed drives and 4.2 % of working ones. SMART 199 (UDMA CRC
  errors) counts transfer errors on the SATA link: a cable, connector or backplane issue
  more than a media issue, so it is a "watch", and its advice names the cable.
* NVM Express Base Specification, SMART / Health Information log (log page 02h): the
  critical-warning bits, available spare against its threshold, percentage used (a vendor
  estimate of rated endurance used; 100 and more means past it) and media errors. The
  error-information log count is deliberately not scored: drives log harmless errors for
  commands the host probes them with, and counts in the thousands on healthy drives are
  common.
* smartctl(8) § EXIT STATUS: the drive's own overall-health verdict and "attribute at or
  below its vendor threshold" bits.

Scoring
-------
Each finding carries a weight in (0, 1); the score combines them as independent
hazards (``1 - prod(1 - w)``, a noisy-OR), so two moderate signals make a high one, which
matches Google's observation that the signals compound. The level follows from the score:
``watch`` from 0.1, ``warning`` from 0.3, ``critical`` from 0.6. A disk without SMART data
(not supported, or smartctl could not open it) is ``unknown`` with score 0.

Inputs come from either side of the pipeline: a ``smartctl --json -a`` document (the
agent's view, or a file) through :func:`assess`, or the stored ``smartctl_*`` metric
series of one disk (the server's view) through :func:`assess_metrics`. Trends over stored
history come from :func:`assess_trend`.

Plain Python: no Django and no imports from other steward packages.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DiskHealth",
    "DiskSnapshot",
    "Finding",
    "Level",
    "assess",
    "assess_metrics",
    "assess_snapshot",
    "assess_trend",
    "snapshot_from_json",
    "snapshot_from_metrics",
]

WEEK = 7 * 86400.0

# Level boundaries on the score.
WATCH_AT = 0.1
WARNING_AT = 0.3
CRITICAL_AT = 0.6

# ATA attribute ids (smartmontools' drivedb names vary by vendor; the ids do not).
REALLOCATED = 5
SPIN_RETRY = 10
END_TO_END = 184
REPORTED_UNCORRECT = 187
COMMAND_TIMEOUT = 188
PENDING = 197
OFFLINE_UNCORRECTABLE = 198
CRC_ERRORS = 199
# Normalised value = percent of rated life left, on the SSDs that report them.
SSD_LIFE = {
    177: "Wear_Leveling_Count",
    202: "Percent_Lifetime_Remain",
    231: "SSD_Life_Left",
    233: "Media_Wearout_Indicator",
}
TEMPERATURE_ATTRIBUTES = (190, 194)
HOT_HDD_CELSIUS = 55  # Google saw failure rates rise above ~45-50 °C only in older drives

# smartctl exit-status bits that describe the disk (smartctl(8) § EXIT STATUS).
EXIT_NO_DATA = 0x03  # bits 0, 1: nothing was read
EXIT_DISK_FAILING = 0x08
EXIT_PREFAIL_BELOW = 0x10
EXIT_PAST_BELOW = 0x20
EXIT_SELF_TEST_ERRORS = 0x80

# NVMe critical-warning bits (NVMe Base Specification, SMART / Health log, byte 0):
# (bit, weight, text)
NVME_WARNINGS = (
    (0, 0.35, "available spare below its threshold"),
    (1, 0.15, "temperature outside its thresholds"),
    (2, 0.7, "reliability degraded by media or internal errors"),
    (3, 0.9, "media placed in read-only mode"),
    (4, 0.4, "volatile memory backup device failed"),
    (5, 0.4, "persistent memory region read-only"),
)

# Counters whose growth is flagged by the trend view: key -> (weight, text).
# Keys are ATA attribute ids or the NVMe health log field names.
_GROWTH: dict[int | str, tuple[float, str]] = {
    REALLOCATED: (0.3, "new reallocated sectors"),
    PENDING: (0.3, "new pending sectors"),
    OFFLINE_UNCORRECTABLE: (0.3, "new offline-uncorrectable sectors"),
    REPORTED_UNCORRECT: (0.25, "new uncorrectable errors reported"),
    COMMAND_TIMEOUT: (0.15, "new command timeouts"),
    CRC_ERRORS: (0.2, "CRC errors rising: cable or connector"),
    "media_errors": (0.3, "new NVMe media errors"),
}


class Level(enum.StrEnum):
    UNKNOWN = "unknown"  # no SMART data to judge
    OK = "ok"
    WATCH = "watch"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason: ``code`` is stable (for tests and alert deduplication), ``text`` is for
    people, ``weight`` its share of the score."""

    code: str
    text: str
    weight: float


@dataclass(frozen=True, slots=True)
class DiskHealth:
    level: Level
    score: float  # in [0, 1]
    findings: tuple[Finding, ...] = ()
    device: str = ""
    model: str = ""
    serial: str = ""

    @property
    def reasons(self) -> list[str]:
        return [f.text for f in self.findings]

    @property
    def alert_text(self) -> str:
        """One line for an alert: "sdc (ST4000DM000, Z302ABCD): warning — 3 reallocated
        sectors; 12 pending sectors"."""
        who = self.device or "disk"
        ident = ", ".join(part for part in (self.model, self.serial) if part)
        if ident:
            who += f" ({ident})"
        body = "; ".join(self.reasons) or "no SMART warning signs"
        return f"{who}: disk health {self.level.value} — {body}"


@dataclass(slots=True)
class DiskSnapshot:
    """The SMART values the scoring reads, from either a smartctl document or metrics.

    ``attributes`` maps ATA attribute id to ``(value, worst, thresh, raw)``; any part may be
    None when the source lacks it.
    """

    device: str = ""
    model: str = ""
    serial: str = ""
    exit_status: int = 0
    smart_passed: bool | None = None
    rotational: bool | None = None
    temperature: float | None = None
    attributes: dict[int, tuple[float | None, float | None, float | None, float | None]] = field(
        default_factory=dict
    )
    names: dict[int, str] = field(default_factory=dict)  # attribute id -> smartctl's name
    nvme: dict[str, float] = field(default_factory=dict)
    # SAS/SCSI: grown_defects (the grown defect list), uncorrected (read + write + verify
    # errors the drive could not correct), endurance_used (SSDs: percent of rated life)
    scsi: dict[str, float] = field(default_factory=dict)
    has_data: bool = True
    unavailable_reason: str = ""

    def raw(self, attribute_id: int) -> float | None:
        row = self.attributes.get(attribute_id)
        return None if row is None else row[3]

    def counters(self) -> dict[int | str, float]:
        """The values the trend view compares: raw ATA counters by id, NVMe fields by name
        (the shape :func:`assess_trend` takes for each point of history)."""
        out: dict[int | str, float] = {}
        for key in _GROWTH:
            if isinstance(key, int):
                raw = self.raw(key)
                if raw is not None:
                    out[key] = _counter(key, raw)
            elif key in self.nvme:
                out[key] = self.nvme[key]
        for key in ("available_spare", "percentage_used"):
            if key in self.nvme:
                out[key] = self.nvme[key]
        return out


def _counter(attribute_id: int, raw: float) -> float:
    """The event count in an attribute's raw value. Seagate packs three 16-bit counters
    into 188's 48-bit raw value (smartctl prints "1 1 1" for 4295032833); the lowest word
    is the total."""
    if attribute_id == COMMAND_TIMEOUT and raw > 0xFFFF:
        return float(int(raw) & 0xFFFF)
    return raw


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def snapshot_from_json(document: Mapping[str, Any]) -> DiskSnapshot:
    """A ``smartctl --json -a`` (or ``-x``) document, smartctl 7.x structure."""
    meta = document.get("smartctl", {})
    status = int(meta.get("exit_status", 0)) & 0xFF
    device = document.get("device", {})
    snap = DiskSnapshot(
        device=str(device.get("name", "")).removeprefix("/dev/"),
        model=str(document.get("model_name") or document.get("scsi_model_name") or ""),
        serial=str(document.get("serial_number", "")),
        exit_status=status,
    )
    if status & EXIT_NO_DATA:
        snap.has_data = False
        notes = [str(m.get("string", "")) for m in meta.get("messages", [])]
        snap.unavailable_reason = "; ".join(n for n in notes if n) or f"exit status {status}"
        return snap
    passed = document.get("smart_status", {}).get("passed")
    snap.smart_passed = passed if isinstance(passed, bool) else None
    rotation = document.get("rotation_rate")
    if isinstance(rotation, int):
        snap.rotational = rotation > 0
    elif device.get("protocol") == "NVMe":
        snap.rotational = False
    snap.temperature = _num(document.get("temperature", {}).get("current"))
    for row in document.get("ata_smart_attributes", {}).get("table", []):
        if not isinstance(row, dict) or _num(row.get("id")) is None:
            continue
        snap.names[int(row["id"])] = str(row.get("name", ""))
        snap.attributes[int(row["id"])] = (
            _num(row.get("value")),
            _num(row.get("worst")),
            _num(row.get("thresh")),
            _num(row.get("raw", {}).get("value")),
        )
    log = document.get("nvme_smart_health_information_log")
    if isinstance(log, dict):
        for key in (
            "critical_warning",
            "available_spare",
            "available_spare_threshold",
            "percentage_used",
            "media_errors",
            "num_err_log_entries",
        ):
            value = _num(log.get(key))
            if value is not None:
                snap.nvme[key] = value
    snap.scsi = _scsi_fields(document)
    if not snap.attributes and not snap.nvme and not snap.scsi and snap.smart_passed is None:
        snap.has_data = False
        notes = [
            str(m.get("string", ""))
            for m in meta.get("messages", [])
            if isinstance(m, dict) and m.get("severity") in ("error", "warning")
        ]
        snap.unavailable_reason = "; ".join(
            ["the device reports no SMART data", *(n for n in notes if n)]
        )
    return snap


def _scsi_fields(document: Mapping[str, Any]) -> dict[str, float]:
    """The SAS/SCSI health fields of a smartctl 7.x document (``-a`` on a SCSI disk)."""
    out: dict[str, float] = {}
    defects = _num(document.get("scsi_grown_defect_list"))
    if defects is not None:
        out["grown_defects"] = defects
    log = document.get("scsi_error_counter_log")
    if isinstance(log, dict):
        totals = [
            _num(log[kind].get("total_uncorrected_errors"))
            for kind in ("read", "write", "verify")
            if isinstance(log.get(kind), dict)
        ]
        if any(t is not None for t in totals):
            out["uncorrected"] = sum(t for t in totals if t is not None)
    used = _num(document.get("scsi_percentage_used_endurance_indicator"))
    if used is not None:
        out["endurance_used"] = used
    return out


_TYPES = {"value": 0, "worst": 1, "thresh": 2, "raw": 3}
_NVME_METRICS = {
    f"smartctl_device_{key}": key
    for key in (
        "critical_warning",
        "available_spare",
        "available_spare_threshold",
        "percentage_used",
        "media_errors",
        "num_err_log_entries",
    )
}
# SAS/SCSI, smartctl_exporter's names. The read, write and verify uncorrected counters add
# up to ``uncorrected``, as in _scsi_fields.
_SCSI_METRICS = {
    "smartctl_scsi_grown_defect_list": "grown_defects",
    "smartctl_scsi_percentage_used_endurance_indicator": "endurance_used",
}
_SCSI_UNCORRECTED = frozenset(
    f"smartctl_{operation}_total_uncorrected_errors" for operation in ("read", "write", "verify")
)


def snapshot_from_metrics(series: Iterable[tuple[str, Mapping[str, str], float]]) -> DiskSnapshot:
    """The latest value of each stored ``smartctl_*`` series of **one** disk, as
    ``(metric name, labels, value)`` (the agent's families: docs/disk-health.md)."""
    snap = DiskSnapshot()
    rows: dict[int, list[float | None]] = {}
    uncorrected: dict[str, float] = {}  # by metric name: a repeated series counts once
    seen = False
    for name, labels, value in series:
        seen = True
        snap.device = snap.device or labels.get("device", "")
        if name == "smartctl_device_smartctl_exit_status":
            snap.exit_status = int(value) & 0xFF
        elif name == "smartctl_device_smart_status":
            snap.smart_passed = value >= 1
            snap.model = labels.get("model", snap.model)
            snap.serial = labels.get("serial", snap.serial)
        elif name == "smartctl_device_info":
            snap.model = labels.get("model", snap.model)
            snap.serial = labels.get("serial", snap.serial)
            rotational = labels.get("rotational", "")
            snap.rotational = None if rotational == "" else rotational == "1"
        elif name == "smartctl_device_temperature_celsius":
            snap.temperature = value
        elif name == "smartctl_device_attribute":
            kind = _TYPES.get(labels.get("attribute_value_type", ""))
            attribute_id = labels.get("attribute_id", "")
            if kind is not None and attribute_id.isdigit():
                snap.names[int(attribute_id)] = labels.get("attribute_name", "")
                rows.setdefault(int(attribute_id), [None] * 4)[kind] = value
        elif name in _NVME_METRICS:
            snap.nvme[_NVME_METRICS[name]] = value
        elif name in _SCSI_METRICS:
            snap.scsi[_SCSI_METRICS[name]] = value
        elif name in _SCSI_UNCORRECTED:
            uncorrected[name] = value
    snap.attributes = {k: (r[0], r[1], r[2], r[3]) for k, r in rows.items()}
    if uncorrected:
        snap.scsi["uncorrected"] = sum(uncorrected.values())
    if not seen or (snap.exit_status & EXIT_NO_DATA):
        snap.has_data = False
        snap.unavailable_reason = (
            f"smartctl exit status {snap.exit_status}" if seen else "no SMART metrics"
        )
    elif not snap.attributes and not snap.nvme and not snap.scsi and snap.smart_passed is None:
        # Identity only (a virtual disk, a USB bridge that passes no SMART commands): as
        # snapshot_from_json says for the same document, there is nothing to judge.
        snap.has_data = False
        snap.unavailable_reason = "the device reports no SMART data"
    return snap


def _plural(count: float, one: str, many: str | None = None) -> str:
    n = int(count)
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _ago(seconds: float) -> str:
    days = seconds / 86400
    if days >= 6.5:
        return "a week ago" if days < 7.5 else f"{round(days)} days ago"
    if days >= 1.5:
        return f"{round(days)} days ago"
    if days >= 0.75:
        return "a day ago"
    return f"{max(1, round(seconds / 3600))} hours ago"


def _sector_weight(count: float, base: float) -> float:
    # More sectors, more risk, with diminishing steps (Google: the first one matters most).
    if count >= 100:
        return min(0.85, base + 0.25)
    if count >= 10:
        return base + 0.1
    return base


Baselines = Mapping[int | str, tuple[float, float]]  # key -> (timestamp, value) at window start


def _counter_finding(
    key: int | str,
    code: str,
    text: str,
    weight: float,
    count: float,
    baselines: Baselines,
    now: float | None,
) -> Finding:
    """A counter's finding; when it grew since its baseline, say what it was and add the
    growth's weight (a *new* reallocation is the strongest signal in FAST 2007)."""
    base = baselines.get(key)
    if base is not None and now is not None and count > base[1]:
        growth_weight, growth_text = _GROWTH[key]
        was = f"was {base[1]:g} {_ago(now - base[0])}"
        text = f"{growth_text} ({text}, {was})" if key == CRC_ERRORS else f"{text} ({was})"
        weight = 1 - (1 - weight) * (1 - growth_weight)
    return Finding(code, text, round(weight, 4))


def _current_findings(snap: DiskSnapshot, baselines: Baselines, now: float | None) -> list[Finding]:
    found: list[Finding] = []
    add = found.append
    status = snap.exit_status
    # On NVMe, smartctl's "FAILED" (and exit bit 3) only restates a non-zero critical-warning
    # byte, whichever bit: the bits are scored on their own below (a drive that is merely
    # hot is not failing), so the verdict is not counted twice.
    nvme_warning = snap.nvme.get("critical_warning")
    verdict_from_bits = nvme_warning is not None and int(nvme_warning) != 0
    if (snap.smart_passed is False or status & EXIT_DISK_FAILING) and not verdict_from_bits:
        add(Finding("smart_failed", "SMART overall-health self-assessment FAILED", 0.9))
    for attribute_id, (value, _worst, thresh, _raw) in sorted(snap.attributes.items()):
        if value is not None and thresh and value <= thresh:
            add(
                Finding(
                    f"below_threshold_{attribute_id}",
                    f"SMART attribute {attribute_id} {snap.names.get(attribute_id, '')}".rstrip()
                    + " at or below its failure threshold "
                    f"(value {value:g}, threshold {thresh:g})",
                    # Airflow/drive temperature "fails" when hot, which is not wear-out.
                    0.15 if attribute_id in TEMPERATURE_ATTRIBUTES else 0.7,
                )
            )
    if status & EXIT_PREFAIL_BELOW and not any(f.code.startswith("below_") for f in found):
        add(Finding("below_threshold", "a pre-failure attribute is at or below its threshold", 0.7))
    elif status & EXIT_PAST_BELOW:
        add(
            Finding(
                "past_below_threshold",
                "an attribute was at or below its failure threshold in the past",
                0.15,
            )
        )
    if status & EXIT_SELF_TEST_ERRORS:
        add(Finding("self_test_failed", "the self-test log records a failed self-test", 0.4))

    counters = snap.counters()
    # (id, weight, text): FAST 2007's first-event multipliers and Backblaze's five
    rules: list[tuple[int | str, float, str]] = []
    for attribute_id, base, one, many in (
        (REALLOCATED, 0.35, "reallocated sector", None),
        (PENDING, 0.4, "pending sector", None),
        (OFFLINE_UNCORRECTABLE, 0.45, "offline-uncorrectable sector", None),
        (
            REPORTED_UNCORRECT,
            0.35,
            "uncorrectable error reported to the host",
            "uncorrectable errors reported to the host",
        ),
    ):
        count = counters.get(attribute_id)
        if count:
            rules.append((attribute_id, _sector_weight(count, base), _plural(count, one, many)))
    timeouts = counters.get(COMMAND_TIMEOUT)
    if timeouts:
        # Backblaze lists 188, but timeouts also come from power and cabling: a watch.
        rules.append(
            (COMMAND_TIMEOUT, 0.3 if timeouts >= 10 else 0.15, _plural(timeouts, "command timeout"))
        )
    crc = counters.get(CRC_ERRORS)
    if crc:
        rules.append(
            (
                CRC_ERRORS,
                0.12,
                f"{_plural(crc, 'CRC error')} on the SATA link: "
                "check the cable or connector, not the disk",
            )
        )
    media = counters.get("media_errors")
    if media:
        rules.append(
            (
                "media_errors",
                _sector_weight(media, 0.35),
                _plural(media, "NVMe media error") + " (unrecovered data integrity)",
            )
        )
    for key, weight, text in rules:
        add(_counter_finding(key, f"counter_{key}", text, weight, counters[key], baselines, now))

    end_to_end = snap.raw(END_TO_END)
    if end_to_end:
        add(
            Finding(
                f"counter_{END_TO_END}", _plural(end_to_end, "end-to-end data path error"), 0.35
            )
        )
    spin = snap.raw(SPIN_RETRY)
    if spin and snap.rotational is not False:
        add(
            Finding(
                f"counter_{SPIN_RETRY}", _plural(spin, "spin-up retry", "spin-up retries"), 0.15
            )
        )
    for attribute_id, name in SSD_LIFE.items():
        row = snap.attributes.get(attribute_id)
        # On these the normalised value is the percentage of rated life left.
        if row and row[0] is not None and row[0] <= 10:
            add(
                Finding(
                    f"ssd_life_{attribute_id}",
                    f"SSD wear: {name} says {row[0]:g} % of rated life left",
                    0.3,
                )
            )
    if snap.rotational and snap.temperature is not None and snap.temperature >= HOT_HDD_CELSIUS:
        add(Finding("hot", f"running hot: {snap.temperature:g} °C", 0.1))
    found.extend(_nvme_findings(snap.nvme))
    found.extend(_scsi_findings(snap.scsi))
    return found


def _scsi_findings(scsi: Mapping[str, float]) -> list[Finding]:
    """SAS/SCSI: grown defects are the remapped blocks (ATA's reallocated sectors), and
    uncorrected errors the reads and writes the drive gave up on (ATA's 187)."""
    found: list[Finding] = []
    defects = scsi.get("grown_defects")
    if defects:
        found.append(
            Finding(
                "scsi_grown_defects",
                _plural(defects, "grown defect") + " (remapped blocks)",
                round(_sector_weight(defects, 0.35), 4),
            )
        )
    uncorrected = scsi.get("uncorrected")
    if uncorrected:
        found.append(
            Finding(
                "scsi_uncorrected",
                _plural(uncorrected, "uncorrected read/write/verify error"),
                round(_sector_weight(uncorrected, 0.35), 4),
            )
        )
    found.extend(_endurance_findings("scsi", scsi.get("endurance_used")))
    return found


def _endurance_findings(kind: str, used: float | None) -> list[Finding]:
    """A solid-state disk's rated endurance used, in percent (NVMe, SCSI): past it or near."""
    if used is not None and used >= 100:
        text = f"percentage used {used:g} %: past the rated endurance"
        return [Finding(f"{kind}_worn_out", text, 0.35)]
    if used is not None and used >= 90:
        return [Finding(f"{kind}_wearing", f"percentage used {used:g} %", 0.12)]
    return []


def _nvme_findings(nvme: Mapping[str, float]) -> list[Finding]:
    found: list[Finding] = []
    warning = int(nvme.get("critical_warning", 0))
    spare, spare_min = nvme.get("available_spare"), nvme.get("available_spare_threshold")
    spare_low = spare is not None and spare_min is not None and spare < spare_min
    for bit, weight, text in NVME_WARNINGS:
        if warning & (1 << bit) and not (bit == 0 and spare_low):  # said below, with values
            found.append(
                Finding(f"nvme_critical_warning_{bit}", f"NVMe critical warning: {text}", weight)
            )
    if spare_low:
        found.append(
            Finding(
                "nvme_spare_low",
                f"NVMe available spare {spare:g} % below threshold {spare_min:g} %",
                0.65,
            )
        )
    elif spare is not None and spare_min is not None and spare < spare_min + 10:
        found.append(
            Finding(
                "nvme_spare_near",
                f"NVMe available spare {spare:g} % near threshold {spare_min:g} %",
                0.15,
            )
        )
    found.extend(_endurance_findings("nvme", nvme.get("percentage_used")))
    return found


def _combine(findings: Sequence[Finding]) -> float:
    survive = 1.0
    for finding in findings:
        survive *= 1.0 - finding.weight
    return round(1.0 - survive, 4)


def _level(score: float) -> Level:
    if score >= CRITICAL_AT:
        return Level.CRITICAL
    if score >= WARNING_AT:
        return Level.WARNING
    if score >= WATCH_AT:
        return Level.WATCH
    return Level.OK


def _health(findings: Sequence[Finding], snap: DiskSnapshot) -> DiskHealth:
    ordered = tuple(sorted(findings, key=lambda f: -f.weight))
    score = _combine(ordered)
    return DiskHealth(_level(score), score, ordered, snap.device, snap.model, snap.serial)


History = Sequence[tuple[float, Mapping[int | str, float]]]


def _normalise(history: History) -> list[tuple[float, dict[int | str, float]]]:
    points = []
    for ts, values in history:
        clean: dict[int | str, float] = {}
        for key, value in values.items():
            k: int | str = int(key) if isinstance(key, str) and key.isdigit() else key
            clean[k] = _counter(k, value) if isinstance(k, int) else value
        points.append((float(ts), clean))
    points.sort(key=lambda p: p[0])
    return points


def _baseline(
    points: Sequence[tuple[float, Mapping[int | str, float]]],
    key: int | str,
    now: float,
    window: float,
) -> tuple[float, float] | None:
    """(timestamp, value) of ``key`` at the window's start: the last point at or before
    ``now - window``, else the earliest point inside the window."""
    start = now - window
    before = [(ts, v[key]) for ts, v in points if ts <= start and key in v]
    if before:
        return before[-1]
    inside = [(ts, v[key]) for ts, v in points if start < ts < now and key in v]
    return inside[0] if inside else None


def assess_trend(history: History, *, window: float = WEEK, now: float | None = None) -> DiskHealth:
    """Increases over the last ``window`` seconds (default 7 days) of stored history.

    ``history`` is ``[(unix_ts, counters), ...]`` where ``counters`` maps an ATA attribute
    id (int, or its digits as a string) to its raw value, and NVMe fields by name
    (``media_errors``, ``available_spare``) — the shape of :meth:`DiskSnapshot.counters`.
    ``now`` defaults to the newest point. Flags new reallocated, pending and uncorrectable
    sectors, uncorrectable errors, command timeouts, rising CRC errors (a cable), new NVMe
    media errors, and a drop of 10 points or more in NVMe available spare.
    """
    points = _normalise(history)
    if len(points) < 2:
        return DiskHealth(Level.OK, 0.0)
    now = points[-1][0] if now is None else now
    latest = points[-1][1]
    found: list[Finding] = []
    for key, (weight, text) in _GROWTH.items():
        base = _baseline(points, key, now, window)
        if base is None or key not in latest:
            continue
        grown = latest[key] - base[1]
        if grown > 0:
            found.append(
                Finding(
                    f"trend_{key}",
                    f"{text}: +{grown:g} in {_window_text(window)} "
                    f"({latest[key]:g}, was {base[1]:g} {_ago(now - base[0])})",
                    weight,
                )
            )
    spare_drop = _spare_drop(points, latest.get("available_spare"), now, window)
    if spare_drop is not None:
        found.append(spare_drop)
    return _health(found, DiskSnapshot())


def _spare_drop(
    points: Sequence[tuple[float, Mapping[int | str, float]]],
    spare: float | None,
    now: float,
    window: float,
) -> Finding | None:
    base = _baseline(points, "available_spare", now, window)
    if base is None or spare is None or base[1] - spare < 10:
        return None
    return Finding(
        "trend_available_spare",
        f"NVMe available spare fell from {base[1]:g} % to {spare:g} % in {_window_text(window)}",
        0.3,
    )


def _window_text(window: float) -> str:
    days = window / 86400
    return "the last 7 days" if round(days) == 7 else f"the last {days:g} days"


def assess_snapshot(
    snap: DiskSnapshot,
    history: History | None = None,
    *,
    now: float | None = None,
    window: float = WEEK,
) -> DiskHealth:
    """Score one snapshot. With ``history`` (earlier points, shaped as for
    :func:`assess_trend`) a counter that grew within ``window`` says what it was then
    ("3 reallocated sectors (was 0 a week ago)") and weighs more. ``now`` is the snapshot's
    time (default: the newest history point)."""
    if not snap.has_data:
        reason = snap.unavailable_reason or "no SMART data"
        no_data = Finding("no_data", f"no SMART data: {reason}", 0.0)
        return DiskHealth(Level.UNKNOWN, 0.0, (no_data,), snap.device, snap.model, snap.serial)
    baselines: dict[int | str, tuple[float, float]] = {}
    extra: list[Finding] = []
    if history:
        points = _normalise(history)
        now = points[-1][0] if now is None else now
        for key in _GROWTH:
            base = _baseline(points, key, now, window)
            if base is not None:
                baselines[key] = base
        spare = snap.counters().get("available_spare")
        spare_drop = _spare_drop(points, spare, now, window)
        if spare_drop is not None:
            extra.append(spare_drop)
    return _health([*_current_findings(snap, baselines, now), *extra], snap)


def assess(
    smart_json: Mapping[str, Any], history: History | None = None, *, now: float | None = None
) -> DiskHealth:
    """Risk of one disk from its ``smartctl --json -a`` document (see the module doc).

    ``now`` defaults to the document's ``local_time.time_t`` where history is given.
    """
    snap = snapshot_from_json(smart_json)
    if now is None and history:
        now = _num(smart_json.get("local_time", {}).get("time_t"))
    return assess_snapshot(snap, history, now=now)


def assess_metrics(
    series: Iterable[tuple[str, Mapping[str, str], float]],
    history: History | None = None,
    *,
    now: float | None = None,
) -> DiskHealth:
    """Risk of one disk from the latest value of each of its stored ``smartctl_*`` series
    (``(name, labels, value)``), for the server; ``history`` as in :func:`assess`."""
    return assess_snapshot(snapshot_from_metrics(series), history, now=now)
