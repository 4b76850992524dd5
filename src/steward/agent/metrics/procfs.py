"""Parsers for the Linux files the metrics come from. Every one takes text and returns
typed values, so tests feed them captured or hand-written content; reading the files is
the collectors' business.

Formats are the kernel's (Documentation/filesystems/proc.rst, iostats.rst); field choices
and unit conversions follow node_exporter's collectors so that the numbers match theirs.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Final, NamedTuple

# /proc/stat "cpu" lines, in the kernel's column order (fs/proc/stat.c). guest and
# guest_nice are already included in user and nice, so node_exporter leaves them out of
# node_cpu_seconds_total; so do we.
CPU_MODES: Final = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
# Disk statistics count 512-byte sectors whatever the device's block size (iostats.rst).
SECTOR_BYTES: Final = 512
# /proc/net/tcp "st" column (include/net/tcp_states.h), named as node_exporter's tcpstat.
# NEW_SYN_RECV (0x0C) never appears in /proc/net/tcp: those live in the SYN queue.
TCP_STATES: Final = {
    "01": "established",
    "02": "syn_sent",
    "03": "syn_recv",
    "04": "fin_wait1",
    "05": "fin_wait2",
    "06": "time_wait",
    "07": "close",
    "08": "close_wait",
    "09": "last_ack",
    "0A": "listen",
    "0B": "closing",
}
# node_exporter's --collector.diskstats.device-exclude default: partitions, RAM disks,
# loop devices and floppies (a partition's I/O is already in its disk's).
DISK_EXCLUDE: Final = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")
# Container ends of virtual Ethernet pairs, a new name for every container started:
# "veth" and a random suffix (Docker, Podman, LXD, bridge CNIs, e.g. veth1a2b3c4), "cali"
# and 11 hex digits (Calico), "lxc" and 12 or more hex digits (Cilium). Their
# traffic is also counted on the bridge or the host's interface, and as series they only
# pile up (node_exporter keeps them by default; Glances and Netdata hide them).
NETDEV_EXCLUDE: Final = re.compile(r"^(veth\w*|cali[0-9a-f]{8,}|lxc[0-9a-f]{8,})$")
# node_exporter's filesystem collector defaults (--collector.filesystem.*-exclude).
MOUNT_POINTS_EXCLUDE: Final = re.compile(
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
FS_TYPES_EXCLUDE: Final = re.compile(
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs"
    r"|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs"
    r"|squashfs|erofs|sysfs|tracefs)$"
)


@dataclass(frozen=True, slots=True)
class ProcStat:
    """/proc/stat: per-CPU times in clock ticks (USER_HZ), and the kernel's counters."""

    cpus: dict[str, tuple[int, ...]]  # "0" -> ticks in CPU_MODES order
    context_switches: int | None
    forks: int | None
    interrupts: int | None
    boot_time: int | None
    procs_running: int | None
    procs_blocked: int | None


def parse_proc_stat(text: str) -> ProcStat:
    cpus: dict[str, tuple[int, ...]] = {}
    scalars: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        if key.startswith("cpu"):
            if key == "cpu":  # the all-CPU sum: node_exporter reports per core only
                continue
            values = rest.split()
            # Old kernels have fewer columns (steal since 2.6.11); missing ones are 0.
            ticks = [int(v) for v in values[: len(CPU_MODES)]]
            cpus[key[3:]] = tuple(ticks + [0] * (len(CPU_MODES) - len(ticks)))
        elif key in ("ctxt", "processes", "intr", "btime", "procs_running", "procs_blocked"):
            first = rest.split(None, 1)[0] if rest.strip() else ""
            if first.isdigit():
                scalars[key] = int(first)
    return ProcStat(
        cpus=cpus,
        context_switches=scalars.get("ctxt"),
        forks=scalars.get("processes"),
        interrupts=scalars.get("intr"),
        boot_time=scalars.get("btime"),
        procs_running=scalars.get("procs_running"),
        procs_blocked=scalars.get("procs_blocked"),
    )


class LoadAvg(NamedTuple):
    load1: float
    load5: float
    load15: float
    runnable: int  # scheduling entities (threads) runnable now
    threads: int  # scheduling entities that exist


def parse_loadavg(text: str) -> LoadAvg:
    """``0.20 0.18 0.12 1/80 11206``: three averages, runnable/existing, last pid."""
    fields = text.split()
    runnable, _, total = fields[3].partition("/")
    return LoadAvg(float(fields[0]), float(fields[1]), float(fields[2]), int(runnable), int(total))


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo as node_exporter's meminfo collector names it: ``kB`` values become
    bytes (the kernel's "kB" is KiB), "Active(anon)" becomes "Active_anon"."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if not parts or not parts[0].isdigit():
            continue
        value = int(parts[0])
        if len(parts) > 1 and parts[1] == "kB":
            value *= 1024
        fields[key.replace("(", "_").replace(")", "")] = value
    return fields


class Mount(NamedTuple):
    device: str
    mountpoint: str
    fstype: str
    options: str


_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape_mount(field: str) -> str:
    # The kernel escapes space, tab, newline and backslash in mounts as \040 and friends.
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m[1], 8)), field)


def parse_mounts(text: str) -> list[Mount]:
    """/proc/self/mounts (fstab(5) format): device, mount point, type, options."""
    mounts: list[Mount] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mounts.append(
            Mount(_unescape_mount(fields[0]), _unescape_mount(fields[1]), fields[2], fields[3])
        )
    return mounts


def wanted_mounts(mounts: list[Mount]) -> list[Mount]:
    """The mounts node_exporter reports by default, one per mount point (the last mounted
    there, which is the one statvfs sees)."""
    by_mountpoint: dict[str, Mount] = {}
    for mount in mounts:
        if MOUNT_POINTS_EXCLUDE.match(mount.mountpoint) or FS_TYPES_EXCLUDE.match(mount.fstype):
            continue
        by_mountpoint.pop(mount.mountpoint, None)
        by_mountpoint[mount.mountpoint] = mount
    return list(by_mountpoint.values())


class DiskStats(NamedTuple):
    device: str
    reads_completed: int
    reads_merged: int
    read_bytes: int
    read_time_seconds: float
    writes_completed: int
    writes_merged: int
    written_bytes: int
    write_time_seconds: float
    io_now: int
    io_time_seconds: float
    io_time_weighted_seconds: float


def parse_diskstats(text: str) -> list[DiskStats]:
    """/proc/diskstats (iostats.rst): major, minor, name, then the counters; sectors are
    512 bytes and times milliseconds. Partitions, RAM and loop devices are left out."""
    disks: list[DiskStats] = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 14 or DISK_EXCLUDE.match(f[2]):
            continue
        n = [int(v) for v in f[3:14]]
        disks.append(
            DiskStats(
                f[2], n[0], n[1], n[2] * SECTOR_BYTES, n[3] / 1000,
                n[4], n[5], n[6] * SECTOR_BYTES, n[7] / 1000,
                n[8], n[9] / 1000, n[10] / 1000,
            )
        )  # fmt: skip
    return disks


NETDEV_COLUMNS: Final = {
    # /proc/net/dev column -> node_network_<name>_total (net/core/net-procfs.c)
    0: "receive_bytes",
    1: "receive_packets",
    2: "receive_errs",
    3: "receive_drop",
    8: "transmit_bytes",
    9: "transmit_packets",
    10: "transmit_errs",
    11: "transmit_drop",
}


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """/proc/net/dev: two header lines, then ``name: 16 counters`` per interface."""
    devices: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        values = rest.split()
        if len(values) < 16:
            continue
        devices[name.strip()] = {field: int(values[i]) for i, field in NETDEV_COLUMNS.items()}
    return devices


def parse_net_snmp(text: str) -> dict[str, int]:
    """/proc/net/snmp: pairs of lines, a header of field names then their values, for each
    protocol. Keys are ``<Protocol>_<Field>`` as node_exporter's netstat names them."""
    stats: dict[str, int] = {}
    lines = text.splitlines()
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        protocol, _, names = header.partition(":")
        protocol_again, _, numbers = values.partition(":")
        if protocol != protocol_again:
            continue
        for name, number in zip(names.split(), numbers.split(), strict=False):
            try:
                stats[f"{protocol}_{name}"] = int(number)
            except ValueError:
                continue
    return stats


def count_tcp_states(*texts: str) -> dict[str, int]:
    """Sockets per state from /proc/net/tcp and tcp6 (every state, 0 when none)."""
    counts: Counter[str] = Counter()
    for text in texts:
        for line in text.splitlines()[1:]:
            fields = line.split(None, 4)
            if len(fields) > 3:
                counts[fields[3]] += 1
    return {name: counts.get(code, 0) for code, name in TCP_STATES.items()}


class PidStat(NamedTuple):
    """The fields of /proc/<pid>/stat that the top-processes collector needs."""

    pid: int
    comm: str
    state: str
    cpu_ticks: int  # utime + stime, clock ticks
    threads: int
    start_ticks: int  # start time after boot, clock ticks: with pid, a process identity
    rss_pages: int


def parse_pid_stat(text: str) -> PidStat:
    """proc(5): ``pid (comm) state ...``; comm may hold spaces and parentheses, so it is
    everything between the first "(" and the last ")"."""
    open_paren = text.index("(")
    close_paren = text.rindex(")")
    rest = text[close_paren + 2 :].split()
    # rest[0] is field 3 (state): field N of proc(5) is rest[N - 3].
    return PidStat(
        pid=int(text[:open_paren]),
        comm=text[open_paren + 1 : close_paren],
        state=rest[0],
        cpu_ticks=int(rest[11]) + int(rest[12]),
        threads=int(rest[17]),
        start_ticks=int(rest[19]),
        rss_pages=int(rest[21]),
    )
