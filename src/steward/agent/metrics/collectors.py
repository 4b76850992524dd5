"""The Linux collectors: one per metric family group, each reading its own files.

A collector is an object with a ``name``, the ``period`` it wants between runs (0: every
round) and ``collect() -> list[Sample]``; the families it may produce are the ones the
table in ``families`` assigns to its name, and the contract tests hold it to them. Files
are read below ``Host.root`` so tests point collectors at a faked ``/proc`` and ``/sys``.

CPU cost is the design constraint (an agent is a guest on the machine): files are read
with one unbuffered ``read`` each, and ``/proc/stat`` and ``/proc/loadavg``, which two
collectors need, are read once per round through ``Host.read_shared``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from steward.agent.metrics import sockdiag
from steward.agent.metrics.families import NETSTAT_COUNTERS
from steward.agent.metrics.procfs import (
    CPU_MODES,
    NETDEV_EXCLUDE,
    count_tcp_states,
    parse_diskstats,
    parse_loadavg,
    parse_meminfo,
    parse_mounts,
    parse_net_dev,
    parse_net_snmp,
    parse_pid_stat,
    parse_proc_stat,
    wanted_mounts,
)

logger = logging.getLogger(__name__)

# (family name, label values in the family's label order, value)
Sample = tuple[str, tuple[str, ...], float]

# USER_HZ, the unit of /proc/stat and /proc/<pid>/stat times (100 on every Linux ABI).
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class Collector(Protocol):
    name: str
    period: float

    def collect(self) -> list[Sample]: ...


class Host:
    """Reads files below ``root``; ``read_shared`` memoises one round's reads of files
    several collectors parse (the engine calls ``new_round`` before each round)."""

    def __init__(self, root: Path | str = "/") -> None:
        self.root = str(root).rstrip("/")
        self._shared: dict[str, str] = {}

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def read(self, relative: str) -> str:
        with open(self.path(relative), "rb", buffering=0) as handle:
            return handle.read().decode("utf-8", "replace")

    def read_shared(self, relative: str) -> str:
        text = self._shared.get(relative)
        if text is None:
            text = self._shared[relative] = self.read(relative)
        return text

    def new_round(self) -> None:
        self._shared = {}


class CpuCollector:
    """node_cpu_seconds_total per core and mode, and the kernel's event counters."""

    name = "cpu"
    period = 0.0

    def __init__(self, host: Host) -> None:
        self.host = host

    def collect(self) -> list[Sample]:
        stat = parse_proc_stat(self.host.read_shared("proc/stat"))
        samples: list[Sample] = [
            ("node_cpu_seconds_total", (cpu, mode), ticks[i] / CLOCK_TICKS)
            for cpu, ticks in stat.cpus.items()
            for i, mode in enumerate(CPU_MODES)
        ]
        for name, value in (
            ("node_context_switches_total", stat.context_switches),
            ("node_forks_total", stat.forks),
            ("node_intr_total", stat.interrupts),
        ):
            if value is not None:
                samples.append((name, (), value))
        return samples


class LoadCollector:
    name = "loadavg"
    period = 0.0

    def __init__(self, host: Host) -> None:
        self.host = host

    def collect(self) -> list[Sample]:
        load = parse_loadavg(self.host.read_shared("proc/loadavg"))
        return [("node_load1", (), load.load1), ("node_load5", (), load.load5),
                ("node_load15", (), load.load15)]  # fmt: skip


class MeminfoCollector:
    name = "meminfo"
    period = 0.0
    FIELDS = ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal",
              "SwapFree", "Shmem", "SReclaimable")  # fmt: skip

    def __init__(self, host: Host) -> None:
        self.host = host

    def collect(self) -> list[Sample]:
        fields = parse_meminfo(self.host.read("proc/meminfo"))
        return [
            (f"node_memory_{key}_bytes", (), fields[key]) for key in self.FIELDS if key in fields
        ]


class FilesystemCollector:
    """statvfs(3) of each mount node_exporter would report. Sizes use ``f_frsize`` (the
    fundamental block size that ``f_blocks`` counts), as df(1) does."""

    name = "filesystem"
    period = 0.0

    def __init__(self, host: Host, statvfs: Callable[[str], os.statvfs_result] = os.statvfs):
        self.host = host
        self._statvfs = statvfs

    def collect(self) -> list[Sample]:
        samples: list[Sample] = []
        for mount in wanted_mounts(parse_mounts(self.host.read("proc/self/mounts"))):
            try:
                st = self._statvfs(mount.mountpoint)
            except OSError:
                continue  # unmounted since, or not ours to see (a FUSE mount of another user)
            labels = (mount.device, mount.fstype, mount.mountpoint)
            block = st.f_frsize or st.f_bsize
            readonly = "ro" in mount.options.split(",")
            samples += [
                ("node_filesystem_size_bytes", labels, st.f_blocks * block),
                ("node_filesystem_free_bytes", labels, st.f_bfree * block),
                ("node_filesystem_avail_bytes", labels, st.f_bavail * block),
                ("node_filesystem_files", labels, st.f_files),
                ("node_filesystem_files_free", labels, st.f_ffree),
                ("node_filesystem_readonly", labels, 1 if readonly else 0),
            ]
        return samples


class DiskstatsCollector:
    name = "diskstats"
    period = 0.0

    def __init__(self, host: Host) -> None:
        self.host = host

    def collect(self) -> list[Sample]:
        samples: list[Sample] = []
        for d in parse_diskstats(self.host.read("proc/diskstats")):
            labels = (d.device,)
            samples += [
                ("node_disk_reads_completed_total", labels, d.reads_completed),
                ("node_disk_writes_completed_total", labels, d.writes_completed),
                ("node_disk_read_bytes_total", labels, d.read_bytes),
                ("node_disk_written_bytes_total", labels, d.written_bytes),
                ("node_disk_read_time_seconds_total", labels, d.read_time_seconds),
                ("node_disk_write_time_seconds_total", labels, d.write_time_seconds),
                ("node_disk_io_time_seconds_total", labels, d.io_time_seconds),
                ("node_disk_io_time_weighted_seconds_total", labels, d.io_time_weighted_seconds),
                ("node_disk_io_now", labels, d.io_now),
            ]
        return samples


class NetdevCollector:
    name = "netdev"
    period = 0.0

    def __init__(self, host: Host) -> None:
        self.host = host

    def collect(self) -> list[Sample]:
        return [
            (f"node_network_{field}_total", (device,), value)
            for device, counters in parse_net_dev(self.host.read("proc/net/dev")).items()
            if not NETDEV_EXCLUDE.match(device)
            for field, value in counters.items()
        ]


class NetstatCollector:
    name = "netstat"
    period = 0.0

    def __init__(self, host: Host) -> None:
        self.host = host

    def collect(self) -> list[Sample]:
        stats = parse_net_snmp(self.host.read("proc/net/snmp"))
        return [
            (f"node_netstat_{key}", (), stats[key])
            for key in ("Tcp_CurrEstab", *NETSTAT_COUNTERS)
            if key in stats
        ]


class TcpstatCollector:
    """Sockets per TCP state, over netlink (``sockdiag``) or, where that fails, from
    /proc/net/tcp{,6} (one line per socket: slow on hosts with many connections)."""

    name = "tcpstat"
    period = 0.0

    def __init__(self, host: Host, netlink: bool | None = None) -> None:
        self.host = host
        # netlink sees this machine's sockets, not a faked root's: files there.
        self.netlink = host.root == "" if netlink is None else netlink

    def collect(self) -> list[Sample]:
        counts: dict[str, int] | None = None
        if self.netlink:
            try:
                counts = sockdiag.tcp_states()
            except OSError as error:
                logger.info("netlink sock_diag unavailable (%s); reading /proc/net/tcp", error)
                self.netlink = False
        if counts is None:
            texts = []
            for relative in ("proc/net/tcp", "proc/net/tcp6"):
                try:
                    texts.append(self.host.read(relative))
                except FileNotFoundError:
                    continue  # a kernel without IPv6
            counts = count_tcp_states(*texts)
        return [("steward_tcp_connections", (state,), count) for state, count in counts.items()]


class ProcessesCollector:
    """Process and thread counts without a per-process scan: processes are the numeric
    entries of /proc (one getdents), threads the denominator of /proc/loadavg."""

    name = "processes"
    period = 0.0

    def __init__(self, host: Host) -> None:
        self.host = host

    def collect(self) -> list[Sample]:
        stat = parse_proc_stat(self.host.read_shared("proc/stat"))
        load = parse_loadavg(self.host.read_shared("proc/loadavg"))
        processes = sum(1 for entry in os.listdir(self.host.path("proc")) if entry.isdigit())
        samples: list[Sample] = [
            ("steward_processes", (), processes),
            ("steward_threads", (), load.threads),
        ]
        if stat.procs_running is not None:
            samples.append(("node_procs_running", (), stat.procs_running))
        if stat.procs_blocked is not None:
            samples.append(("node_procs_blocked", (), stat.procs_blocked))
        return samples


class TimeCollector:
    name = "time"
    period = 0.0

    def __init__(self, host: Host, clock: Callable[[], float] = time.time) -> None:
        self.host = host
        self._clock = clock

    def collect(self) -> list[Sample]:
        samples: list[Sample] = [("node_time_seconds", (), self._clock())]
        boot = parse_proc_stat(self.host.read_shared("proc/stat")).boot_time
        if boot is not None:
            samples.append(("node_boot_time_seconds", (), boot))
        return samples


class UnameCollector:
    name = "uname"
    period = 0.0

    def __init__(self, host: Host) -> None:
        self.host = host

    def collect(self) -> list[Sample]:
        uname = os.uname()
        try:
            # uname(2) has no domainname outside glibc's extension; the kernel's NIS domain
            # is here, "(none)" when unset, which is what node_exporter reports too.
            domainname = self.host.read("proc/sys/kernel/domainname").strip()
        except OSError:
            domainname = "(none)"
        labels = (uname.sysname, uname.release, uname.version, uname.machine, uname.nodename,
                  domainname)  # fmt: skip
        return [("node_uname_info", labels, 1)]


class AgentCollector:
    """The agent's own CPU time and resident memory, from /proc/self/stat."""

    name = "agent"
    period = 0.0

    def __init__(self, host: Host) -> None:
        self.host = host

    def collect(self) -> list[Sample]:
        stat = parse_pid_stat(self.host.read("proc/self/stat"))
        return [
            ("steward_agent_cpu_seconds_total", (), stat.cpu_ticks / CLOCK_TICKS),
            ("steward_agent_resident_memory_bytes", (), stat.rss_pages * PAGE_SIZE),
        ]
