"""Every metric family the agent reports, described once.

``FAMILIES`` is the single table of what the agent sends: name, type, unit, help, label
names and the collector that produces it. The wire body's family metadata, the contract
tests, ``steward agent metrics --families`` (the API documentation) and the default alert
thresholds all derive from it, the way Glances describes each plugin's fields.

Naming: node_exporter's exact names, labels and units wherever node_exporter has the metric
(so Grafana's node_exporter dashboards work unchanged); Prometheus conventions elsewhere
(``steward_`` prefix, base units, ``_total`` counters). Two node_exporter quirks are kept on
purpose: ``node_netstat_*`` counters have no ``_total`` suffix and ``node_load*`` and
``node_procs_*`` carry no unit, exactly as node_exporter exports them.

Counters are raw cumulative values (the server derives rates, as PromQL's ``rate`` does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

MetricType = Literal["counter", "gauge"]

# https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels
METRIC_NAME_RE: Final = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# How many processes the top-processes collector reports per ranking (CPU, memory). Every
# series carries {pid, name}: an unbounded list would create a series per process per
# host, so the list is cut, and pids churn only as fast as busy processes come and go.
TOP_PROCESSES: Final = 10


@dataclass(frozen=True, slots=True)
class Threshold:
    """A default alert rule on a family: ``expr`` (PromQL over the family, one value per
    series) compared with ``warning`` and ``critical`` in the family's unit or as a ratio."""

    expr: str
    warning: float
    critical: float
    above: bool = True  # alert when the value is above (True) or below (False) the limits


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family: what the server stores under ``name`` and how to read it."""

    name: str
    type: MetricType
    unit: str  # base unit ("seconds", "bytes", "celsius", "rpm"), "" for a plain number
    help: str
    labels: tuple[str, ...]
    collector: str
    threshold: Threshold | None = None


def _f(
    name: str,
    type_: MetricType,
    unit: str,
    help_: str,
    labels: tuple[str, ...] = (),
    *,
    collector: str,
    threshold: Threshold | None = None,
) -> Family:
    return Family(name, type_, unit, help_, labels, collector, threshold)


_CPU = "cpu"
_MEMINFO_FIELDS = (
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SwapTotal",
    "SwapFree",
    "Shmem",
    "SReclaimable",
)
_FS_LABELS = ("device", "fstype", "mountpoint")
# Default alert rules (PromQL; ratios between 0 and 1).
_CPU_BUSY = '1 - avg without (cpu, mode) (rate(node_cpu_seconds_total{mode="idle"}[5m]))'
_MEM_USED = "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"
_FS_USED = "1 - node_filesystem_avail_bytes / node_filesystem_size_bytes"
_INODES_FREE = "node_filesystem_files_free / node_filesystem_files"
_DISK_COUNTERS = (
    # (family name, unit, help) as node_exporter's diskstats collector exports them
    ("node_disk_reads_completed_total", "",
     "The total number of reads completed successfully."),
    ("node_disk_writes_completed_total", "",
     "The total number of writes completed successfully."),
    ("node_disk_read_bytes_total", "bytes", "The total number of bytes read successfully."),
    ("node_disk_written_bytes_total", "bytes",
     "The total number of bytes written successfully."),
    ("node_disk_read_time_seconds_total", "seconds",
     "The total number of seconds spent by all reads."),
    ("node_disk_write_time_seconds_total", "seconds",
     "This is the total number of seconds spent by all writes."),
    ("node_disk_io_time_seconds_total", "seconds", "Total seconds spent doing I/Os."),
    ("node_disk_io_time_weighted_seconds_total", "seconds",
     "The weighted # of seconds spent doing I/Os."),
)  # fmt: skip
_NETDEV_FIELDS = (
    ("receive_bytes", "bytes"),
    ("receive_packets", ""),
    ("receive_errs", ""),
    ("receive_drop", ""),
    ("transmit_bytes", "bytes"),
    ("transmit_packets", ""),
    ("transmit_errs", ""),
    ("transmit_drop", ""),
)
NETSTAT_COUNTERS: Final = ("Tcp_ActiveOpens", "Tcp_PassiveOpens", "Tcp_InSegs", "Tcp_OutSegs",
                           "Tcp_RetransSegs")  # fmt: skip

_SMART = (
    # (name, unit, help, labels); gauges: smartctl_exporter's names carry no _total suffix
    ("smartctl_device_info", "", "Disk identity as smartctl reports it.",
     ("device", "model", "serial", "firmware", "interface", "rotational")),
    ("smartctl_device_smart_status", "", "SMART overall-health self-assessment: 1 passed.",
     ("device", "model", "serial")),
    ("smartctl_device_smartctl_exit_status", "", "smartctl's exit status bitmask.",
     ("device",)),
    ("smartctl_device_attribute", "", "ATA SMART attribute values from the drive's table.",
     ("device", "attribute_id", "attribute_name", "attribute_value_type")),
    ("smartctl_device_temperature_celsius", "celsius", "Current drive temperature.",
     ("device",)),
    ("smartctl_device_power_on_seconds", "seconds", "Power-on time.", ("device",)),
    ("smartctl_device_critical_warning", "", "NVMe critical warning bits.", ("device",)),
    ("smartctl_device_available_spare", "", "NVMe available spare, percent.", ("device",)),
    ("smartctl_device_available_spare_threshold", "",
     "NVMe available spare threshold, percent.", ("device",)),
    ("smartctl_device_percentage_used", "", "NVMe endurance used, percent (may pass 100).",
     ("device",)),
    ("smartctl_device_media_errors", "", "NVMe unrecovered data integrity errors.",
     ("device",)),
    ("smartctl_device_num_err_log_entries", "", "NVMe error information log entries.",
     ("device",)),
    # SAS/SCSI: smartctl_exporter's names (not under smartctl_device_)
    ("smartctl_scsi_grown_defect_list", "", "SCSI grown defect list: blocks remapped in use.",
     ("device",)),
    ("smartctl_read_total_uncorrected_errors", "", "SCSI reads the drive could not correct.",
     ("device",)),
    ("smartctl_write_total_uncorrected_errors", "", "SCSI writes the drive could not correct.",
     ("device",)),
    ("smartctl_verify_total_uncorrected_errors", "",
     "SCSI verifies the drive could not correct.", ("device",)),
    ("smartctl_scsi_percentage_used_endurance_indicator", "",
     "SCSI SSD endurance used, percent (may pass 100).", ("device",)),
)  # fmt: skip

FAMILIES: Final[tuple[Family, ...]] = (
    # cpu: /proc/stat
    _f(
        "node_cpu_seconds_total",
        "counter",
        "seconds",
        "Seconds the CPUs spent in each mode.",
        ("cpu", "mode"),
        collector=_CPU,
        threshold=Threshold(_CPU_BUSY, 0.85, 0.95),
    ),
    _f(
        "node_context_switches_total",
        "counter",
        "",
        "Total number of context switches.",
        collector=_CPU,
    ),
    _f("node_forks_total", "counter", "", "Total number of forks.", collector=_CPU),
    _f("node_intr_total", "counter", "", "Total number of interrupts serviced.", collector=_CPU),
    # loadavg: /proc/loadavg
    _f("node_load1", "gauge", "", "1m load average.", collector="loadavg"),
    _f("node_load5", "gauge", "", "5m load average.", collector="loadavg"),
    _f("node_load15", "gauge", "", "15m load average.", collector="loadavg"),
    # meminfo: /proc/meminfo, kB values times 1024, named as node_exporter's meminfo collector
    *(
        _f(
            f"node_memory_{field}_bytes",
            "gauge",
            "bytes",
            f"Memory information field {field}_bytes.",
            collector="meminfo",
            threshold=Threshold(_MEM_USED, 0.9, 0.97) if field == "MemAvailable" else None,
        )
        for field in _MEMINFO_FIELDS
    ),
    # filesystem: statvfs(3) of every mounted non-pseudo filesystem
    _f(
        "node_filesystem_size_bytes",
        "gauge",
        "bytes",
        "Filesystem size in bytes.",
        _FS_LABELS,
        collector="filesystem",
    ),
    _f(
        "node_filesystem_free_bytes",
        "gauge",
        "bytes",
        "Filesystem free space in bytes.",
        _FS_LABELS,
        collector="filesystem",
    ),
    _f(
        "node_filesystem_avail_bytes",
        "gauge",
        "bytes",
        "Filesystem space available to non-root users in bytes.",
        _FS_LABELS,
        collector="filesystem",
        threshold=Threshold(_FS_USED, 0.85, 0.95),
    ),
    _f(
        "node_filesystem_files",
        "gauge",
        "",
        "Filesystem total file nodes.",
        _FS_LABELS,
        collector="filesystem",
    ),
    _f(
        "node_filesystem_files_free",
        "gauge",
        "",
        "Filesystem total free file nodes.",
        _FS_LABELS,
        collector="filesystem",
        threshold=Threshold(_INODES_FREE, 0.1, 0.03, above=False),
    ),
    _f(
        "node_filesystem_readonly",
        "gauge",
        "",
        "Filesystem read-only status.",
        _FS_LABELS,
        collector="filesystem",
    ),
    # diskstats: /proc/diskstats, whole disks only
    *(
        _f(name, "counter", unit, help_, ("device",), collector="diskstats")
        for name, unit, help_ in _DISK_COUNTERS
    ),
    _f(
        "node_disk_io_now",
        "gauge",
        "",
        "The number of I/Os currently in progress.",
        ("device",),
        collector="diskstats",
    ),
    # netdev: /proc/net/dev
    *(
        _f(
            f"node_network_{field}_total",
            "counter",
            unit,
            f"Network device statistic {field}.",
            ("device",),
            collector="netdev",
        )
        for field, unit in _NETDEV_FIELDS
    ),
    # netstat: /proc/net/snmp
    _f("node_netstat_Tcp_CurrEstab", "gauge", "", "Statistic TcpCurrEstab.", collector="netstat"),
    *(
        _f(
            f"node_netstat_{key}",
            "counter",
            "",
            f"Statistic {key.replace('_', '')}.",
            collector="netstat",
        )
        for key in NETSTAT_COUNTERS
    ),
    # tcpstat: /proc/net/tcp and tcp6
    _f(
        "steward_tcp_connections",
        "gauge",
        "",
        "TCP sockets by connection state.",
        ("state",),
        collector="tcpstat",
    ),
    # processes: /proc/stat, /proc/loadavg, the /proc directory
    _f(
        "node_procs_running",
        "gauge",
        "",
        "Number of processes in runnable state.",
        collector="processes",
    ),
    _f(
        "node_procs_blocked",
        "gauge",
        "",
        "Number of processes blocked waiting for I/O to complete.",
        collector="processes",
    ),
    _f(
        "steward_processes",
        "gauge",
        "",
        "Processes that exist, kernel threads included.",
        collector="processes",
    ),
    _f(
        "steward_threads",
        "gauge",
        "",
        "Threads (kernel scheduling entities) that exist, kernel threads included.",
        collector="processes",
    ),
    # top_processes: /proc/<pid>/stat, bounded to TOP_PROCESSES per ranking
    _f(
        "steward_process_cpu_seconds_total",
        "counter",
        "seconds",
        f"CPU time (user + system) of the {TOP_PROCESSES} processes that used the most CPU "
        "since the previous collection.",
        ("pid", "name"),
        collector="top_processes",
    ),
    _f(
        "steward_process_resident_memory_bytes",
        "gauge",
        "bytes",
        f"Resident memory of the {TOP_PROCESSES} processes with the most.",
        ("pid", "name"),
        collector="top_processes",
    ),
    # time
    _f(
        "node_boot_time_seconds",
        "gauge",
        "seconds",
        "Node boot time, in unixtime.",
        collector="time",
    ),
    _f(
        "node_time_seconds",
        "gauge",
        "seconds",
        "System time in seconds since epoch (1970).",
        collector="time",
    ),
    # hwmon: /sys/class/hwmon
    _f(
        "node_hwmon_temp_celsius",
        "gauge",
        "celsius",
        "Hardware monitor for temperature (input)",
        ("chip", "sensor"),
        collector="hwmon",
        threshold=Threshold("node_hwmon_temp_celsius", 80, 90),
    ),
    _f(
        "node_hwmon_fan_rpm",
        "gauge",
        "rpm",
        "Hardware monitor for fan revolutions per minute (input)",
        ("chip", "sensor"),
        collector="hwmon",
    ),
    _f(
        "node_hwmon_chip_names",
        "gauge",
        "",
        "Annotation metric for human-readable chip names",
        ("chip", "chip_name"),
        collector="hwmon",
    ),
    # smart: smartctl --json (smartmontools), names as prometheus-community/smartctl_exporter
    *(
        _f(name, "gauge", unit, help_, labels, collector="smart")
        for name, unit, help_, labels in _SMART
    ),
    # uname
    _f(
        "node_uname_info",
        "gauge",
        "",
        "Labeled system information as provided by the uname system call.",
        ("sysname", "release", "version", "machine", "nodename", "domainname"),
        collector="uname",
    ),
    # agent: the agent's own health
    _f(
        "steward_agent_cpu_seconds_total",
        "counter",
        "seconds",
        "CPU time (user + system) used by the agent.",
        collector="agent",
    ),
    _f(
        "steward_agent_resident_memory_bytes",
        "gauge",
        "bytes",
        "The agent's resident memory.",
        collector="agent",
    ),
    _f(
        "steward_agent_collector_duration_seconds",
        "gauge",
        "seconds",
        "How long each collector took in its last run.",
        ("collector",),
        collector="agent",
    ),
    _f(
        "steward_agent_collector_errors_total",
        "counter",
        "",
        "Collector runs that failed with an error.",
        ("collector",),
        collector="agent",
    ),
    _f(
        "steward_agent_collector_skipped_total",
        "counter",
        "",
        "Collector runs skipped because the collector overran its time budget.",
        ("collector",),
        collector="agent",
    ),
    _f(
        "steward_agent_spool_bytes",
        "gauge",
        "bytes",
        "Size of the batches waiting in the spool.",
        collector="agent",
    ),
    _f(
        "steward_agent_spool_dropped_samples_total",
        "counter",
        "",
        "Samples lost: dropped from a full spool, or refused by the server.",
        collector="agent",
    ),
)

BY_NAME: Final[Mapping[str, Family]] = {family.name: family for family in FAMILIES}


def families_of(collector: str) -> tuple[Family, ...]:
    """The families one collector produces, in table order."""
    return tuple(family for family in FAMILIES if family.collector == collector)


def markdown_table() -> str:
    """The table as Markdown: the API documentation of what the agent sends."""
    lines = [
        "| name | type | unit | labels | collector | help |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in FAMILIES:
        labels = ", ".join(f.labels) or "-"
        lines.append(
            f"| `{f.name}` | {f.type} | {f.unit or '-'} | {labels} | {f.collector} | {f.help} |"
        )
    return "\n".join(lines) + "\n"
