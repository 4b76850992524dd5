"""The metrics parsers and collectors on faked /proc and /sys content (no real host)."""

from __future__ import annotations

import os
import socket
import struct
from collections import Counter
from pathlib import Path

import pytest

from steward.agent.metrics import sockdiag
from steward.agent.metrics.collectors import (
    CLOCK_TICKS,
    PAGE_SIZE,
    CpuCollector,
    DiskstatsCollector,
    FilesystemCollector,
    Host,
    MeminfoCollector,
    NetdevCollector,
    NetstatCollector,
    ProcessesCollector,
    TcpstatCollector,
)
from steward.agent.metrics.hwmon import HwmonCollector, clean_name
from steward.agent.metrics.processes import TopProcessesCollector
from steward.agent.metrics.procfs import (
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

PROC_STAT = """\
cpu  1000 20 300 40000 50 0 6 0 0 0
cpu0 600 10 200 20000 30 0 4 7 0 0
cpu1 400 10 100 20000 20 0 2 0 0 0
intr 123456 0 9 0 0
ctxt 987654
btime 1764300000
processes 4321
procs_running 3
procs_blocked 1
softirq 555 0 1 2
"""

MEMINFO = """\
MemTotal:        8048132 kB
MemFree:          512000 kB
MemAvailable:    4096000 kB
Buffers:          102400 kB
Cached:          2048000 kB
SwapTotal:       1048572 kB
SwapFree:        1048572 kB
Active(anon):     100000 kB
HugePages_Total:       0
"""

MOUNTS = """\
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
/dev/vda1 / ext4 rw,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev,size=800k,mode=755 0 0
/dev/vda2 /srv/my\\040data xfs ro,relatime 0 0
/dev/loop3 /snap/core/1 squashfs ro,nodev 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0
/dev/vdb1 /mnt ext4 rw 0 0
/dev/vdc1 /mnt ext4 rw 0 0
"""

DISKSTATS = """\
 253       0 vda 1000 10 20000 500 2000 20 40000 1500 2 3000 2100 0 0 0 0
 253       1 vda1 900 10 18000 450 1900 20 38000 1400 0 2900 2000 0 0 0 0
   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0
 259       0 nvme0n1 10 0 80 1 0 0 0 0 0 1 1 0 0 0 0
 259       1 nvme0n1p1 10 0 80 1 0 0 0 0 0 1 1 0 0 0 0
 253      16 dm-0 7 0 56 3 0 0 0 0 0 3 3
"""

NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 987654321  54321    1    2    0     0          0         9 123456789  12345    3    4    0     0       0          0
"""  # noqa: E501

NET_SNMP = """\
Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 1000
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 55 66 0 0 7 1000 2000 3 0 4 0
"""  # noqa: E501

PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:C350 0100007F:1F90 06 00000000:00000000 03:00000000 00000000     0        0 0 3
"""


def test_proc_stat_gives_per_core_ticks_and_kernel_counters() -> None:
    stat = parse_proc_stat(PROC_STAT)
    assert set(stat.cpus) == {"0", "1"}  # the "cpu" total line is not a core
    assert stat.cpus["0"] == (600, 10, 200, 20000, 30, 0, 4, 7)
    assert (stat.context_switches, stat.forks, stat.interrupts) == (987654, 4321, 123456)
    assert (stat.boot_time, stat.procs_running, stat.procs_blocked) == (1764300000, 3, 1)


def test_proc_stat_from_an_old_kernel_pads_missing_modes_with_zero() -> None:
    assert parse_proc_stat("cpu0 1 2 3 4\n").cpus["0"] == (1, 2, 3, 4, 0, 0, 0, 0)


def test_loadavg_gives_averages_and_thread_counts() -> None:
    load = parse_loadavg("0.20 0.18 0.12 1/80 11206\n")
    assert (load.load1, load.load5, load.load15, load.runnable, load.threads) == (
        0.20, 0.18, 0.12, 1, 80
    )  # fmt: skip


def test_meminfo_is_named_and_scaled_like_node_exporter() -> None:
    fields = parse_meminfo(MEMINFO)
    assert fields["MemTotal"] == 8048132 * 1024
    assert fields["Active_anon"] == 100000 * 1024  # parentheses become an underscore
    assert fields["HugePages_Total"] == 0  # no unit: not multiplied


def test_mounts_are_unescaped_and_filtered_like_node_exporter() -> None:
    mounts = wanted_mounts(parse_mounts(MOUNTS))
    assert [(m.device, m.mountpoint, m.fstype) for m in mounts] == [
        ("/dev/vda1", "/", "ext4"),
        ("tmpfs", "/run", "tmpfs"),  # node_exporter keeps tmpfs
        ("/dev/vda2", "/srv/my data", "xfs"),
        ("/dev/vdc1", "/mnt", "ext4"),  # the last mount on /mnt is the visible one
    ]


def test_diskstats_keeps_whole_disks_in_bytes_and_seconds() -> None:
    disks = {d.device: d for d in parse_diskstats(DISKSTATS)}
    assert set(disks) == {"vda", "nvme0n1", "dm-0"}  # dm-0's short line (4.18+) is fine
    vda = disks["vda"]
    assert (vda.reads_completed, vda.read_bytes, vda.read_time_seconds) == (1000, 20000 * 512, 0.5)
    assert (vda.writes_completed, vda.written_bytes) == (2000, 40000 * 512)
    assert (vda.io_now, vda.io_time_seconds, vda.io_time_weighted_seconds) == (2, 3.0, 2.1)


def test_net_dev_maps_columns_to_node_exporter_names() -> None:
    eth0 = parse_net_dev(NET_DEV)["eth0"]
    assert eth0 == {
        "receive_bytes": 987654321, "receive_packets": 54321, "receive_errs": 1,
        "receive_drop": 2, "transmit_bytes": 123456789, "transmit_packets": 12345,
        "transmit_errs": 3, "transmit_drop": 4,
    }  # fmt: skip


def test_net_snmp_pairs_header_and_value_lines() -> None:
    stats = parse_net_snmp(NET_SNMP)
    assert stats["Tcp_CurrEstab"] == 7
    assert stats["Tcp_RetransSegs"] == 3
    assert stats["Tcp_MaxConn"] == -1
    assert stats["Ip_Forwarding"] == 1


def test_tcp_states_are_counted_from_both_files_with_every_state_present() -> None:
    counts = count_tcp_states(PROC_NET_TCP, PROC_NET_TCP.splitlines()[0] + "\n")
    assert counts["listen"] == 1 and counts["established"] == 1 and counts["time_wait"] == 1
    assert counts["closing"] == 0 and len(counts) == 11


def test_pid_stat_survives_a_command_name_with_spaces_and_parentheses() -> None:
    text = (
        "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 150 50 0 0 20 0 7 0 "
        "123456 1000000 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
    )
    stat = parse_pid_stat(text)
    assert (stat.pid, stat.comm, stat.state) == (4242, "my (odd) name", "S")
    assert (stat.cpu_ticks, stat.threads, stat.start_ticks, stat.rss_pages) == (
        200, 7, 123456, 2560
    )  # fmt: skip


def _netlink_message(kind: int, state: int = 0) -> bytes:
    payload = bytes([socket.AF_INET, state]) + bytes(70)  # an inet_diag_msg is 72 bytes
    return struct.pack("=IHHII", 16 + len(payload), kind, 2, 1, 0) + payload


def test_sock_diag_records_are_counted_by_state_until_done() -> None:
    counts: Counter[int] = Counter()
    data = _netlink_message(20, 1) + _netlink_message(20, 10) + _netlink_message(20, 1)
    assert sockdiag.count_states(data, counts) is False
    assert sockdiag.count_states(_netlink_message(sockdiag.NLMSG_DONE), counts) is True
    assert counts == Counter({1: 2, 10: 1})
    with pytest.raises(sockdiag.NetlinkError):
        sockdiag.count_states(_netlink_message(sockdiag.NLMSG_ERROR), counts)


# -- collectors on a faked root --------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = {
        "proc/stat": PROC_STAT,
        "proc/loadavg": "0.50 0.40 0.30 2/321 999\n",
        "proc/meminfo": MEMINFO,
        "proc/diskstats": DISKSTATS,
        "proc/net/dev": NET_DEV,
        "proc/net/snmp": NET_SNMP,
        "proc/net/tcp": PROC_NET_TCP,
        "proc/self/mounts": "/dev/vda1 / ext4 rw 0 0\nproc /proc proc rw 0 0\n",
    }
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def add_process(root: Path, pid: int, comm: str, cpu_ticks: int, rss_pages: int,
                start: int = 1000, cmdline: str = "") -> None:  # fmt: skip
    directory = root / "proc" / str(pid)
    directory.mkdir(parents=True, exist_ok=True)
    fields = ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", str(cpu_ticks), "0",
              "0", "0", "20", "0", "1", "0", str(start), "1000", str(rss_pages)]  # fmt: skip
    (directory / "stat").write_text(f"{pid} ({comm}) " + " ".join(fields) + " 0 0\n")
    (directory / "cmdline").write_text(cmdline)


def test_cpu_collector_reports_seconds_per_core_and_mode(root: Path) -> None:
    samples = {(n, labels): v for n, labels, v in CpuCollector(Host(root)).collect()}
    assert samples["node_cpu_seconds_total", ("0", "user")] == 600 / CLOCK_TICKS
    assert samples["node_cpu_seconds_total", ("0", "steal")] == 7 / CLOCK_TICKS
    assert len([k for k in samples if k[0] == "node_cpu_seconds_total"]) == 2 * 8
    assert samples["node_context_switches_total", ()] == 987654


def test_meminfo_collector_sends_the_node_exporter_fields(root: Path) -> None:
    samples = dict((n, v) for n, _, v in MeminfoCollector(Host(root)).collect())
    assert samples["node_memory_MemAvailable_bytes"] == 4096000 * 1024
    assert "node_memory_Active_anon_bytes" not in samples  # only the table's fields


def test_filesystem_collector_uses_statvfs_of_each_wanted_mount(root: Path) -> None:
    seen: list[str] = []

    def statvfs(path: str) -> os.statvfs_result:
        seen.append(path)
        return os.statvfs_result((4096, 4096, 1000, 400, 300, 50, 20, 20, 0, 255))

    samples = {
        n: (labels, v) for n, labels, v in FilesystemCollector(Host(root), statvfs).collect()
    }
    assert seen == ["/"]
    assert samples["node_filesystem_size_bytes"] == (("/dev/vda1", "ext4", "/"), 4096000)
    assert samples["node_filesystem_avail_bytes"][1] == 300 * 4096
    assert samples["node_filesystem_free_bytes"][1] == 400 * 4096
    assert samples["node_filesystem_files"][1] == 50
    assert samples["node_filesystem_readonly"][1] == 0


def test_disk_net_and_netstat_collectors_read_their_files(root: Path) -> None:
    host = Host(root)
    disk = {(n, labels): v for n, labels, v in DiskstatsCollector(host).collect()}
    assert disk["node_disk_read_bytes_total", ("vda",)] == 20000 * 512
    net = {(n, labels): v for n, labels, v in NetdevCollector(host).collect()}
    assert net["node_network_transmit_bytes_total", ("eth0",)] == 123456789
    netstat = {n: v for n, _, v in NetstatCollector(host).collect()}
    assert netstat["node_netstat_Tcp_CurrEstab"] == 7
    tcp = {labels: v for _, labels, v in TcpstatCollector(host).collect()}  # files: fake root
    assert tcp[("established",)] == 1


def test_container_interfaces_are_left_out_of_the_network_series(root: Path) -> None:
    # Each container started gets a new veth (or Calico/Cilium) name: series that only pile
    # up. The bridges and the host's own interfaces stay.
    counters = " 1 2 3 4 0 0 0 0 5 6 7 8 0 0 0 0"
    names = ["lo", "eth0", "docker0", "br-1a2b3c4d5e6f", "lxcbr0", "cni0", "vnet0",
             "veth1a2b3c4", "veth0", "cali0123456789a", "lxc5d3c2b1a0f9e"]  # fmt: skip
    lines = "".join(f"{name:>6}:{counters}\n" for name in names)
    (root / "proc" / "net" / "dev").write_text("\n".join(NET_DEV.splitlines()[:2]) + "\n" + lines)
    seen = {labels[0] for _, labels, _ in NetdevCollector(Host(root)).collect()}
    assert seen == {"lo", "eth0", "docker0", "br-1a2b3c4d5e6f", "lxcbr0", "cni0", "vnet0"}


def test_processes_collector_counts_without_a_process_scan(root: Path) -> None:
    for pid in (1, 2, 30):
        add_process(root, pid, "p", 0, 0)
    samples = {n: v for n, _, v in ProcessesCollector(Host(root)).collect()}
    assert samples == {"steward_processes": 3, "steward_threads": 321,
                       "node_procs_running": 3, "node_procs_blocked": 1}  # fmt: skip


def test_top_processes_rank_by_recent_cpu_and_by_memory_and_stay_bounded(root: Path) -> None:
    for pid in range(1, 31):
        add_process(root, pid, f"proc{pid}", cpu_ticks=10_000 - pid, rss_pages=pid)
    collector = TopProcessesCollector(Host(root), top=3)
    first = collector.collect()
    cpu = [labels for n, labels, _ in first if n == "steward_process_cpu_seconds_total"]
    memory = [(labels, v) for n, labels, v in first if n == "steward_process_resident_memory_bytes"]
    assert cpu == [("1", "proc1"), ("2", "proc2"), ("3", "proc3")]  # by total on the first scan
    assert memory[0] == (("30", "proc30"), 30 * PAGE_SIZE)
    assert len(memory) == 3
    add_process(root, 20, "proc20", cpu_ticks=10_000 - 20 + 500, rss_pages=20)  # busy now
    second = collector.collect()
    cpu = [(labels, v) for n, labels, v in second if n == "steward_process_cpu_seconds_total"]
    assert cpu[0] == (("20", "proc20"), (10_000 - 20 + 500) / CLOCK_TICKS)


def test_top_process_names_cut_by_the_kernel_come_from_the_command_line(root: Path) -> None:
    add_process(root, 7, "postgres-export", 5, 5, cmdline="/usr/bin/postgres-exporter\0--x\0")
    add_process(root, 8, "kworker/0:1-eve", 4, 0)
    collector = TopProcessesCollector(Host(root))
    names = {labels[1] for _, labels, _ in collector.collect()}
    assert names == {"postgres-exporter", "kworker/0:1-eve"}


def test_hwmon_names_chips_by_device_path_and_reads_sensors(tmp_path: Path) -> None:
    device = tmp_path / "sys/devices/platform/coretemp.0"
    device.mkdir(parents=True)
    chip = tmp_path / "sys/class/hwmon/hwmon3"
    chip.mkdir(parents=True)
    (chip / "device").symlink_to(device)
    (chip / "name").write_text("coretemp\n")
    (chip / "temp1_input").write_text("45500\n")
    (chip / "temp1_label").write_text("Package id 0\n")
    (chip / "fan2_input").write_text("1200\n")
    (chip / "temp9_input").write_text("garbage\n")  # a faulty sensor is skipped
    samples = {(n, labels): v for n, labels, v in HwmonCollector(Host(tmp_path)).collect()}
    assert samples == {
        ("node_hwmon_chip_names", ("platform_coretemp_0", "coretemp")): 1,
        ("node_hwmon_temp_celsius", ("platform_coretemp_0", "temp1")): 45.5,
        ("node_hwmon_fan_rpm", ("platform_coretemp_0", "fan2")): 1200,
    }


def test_hwmon_without_sensors_reports_nothing(tmp_path: Path) -> None:
    assert HwmonCollector(Host(tmp_path)).collect() == []
    assert clean_name(" Platform-Coretemp.0\n") == "platform_coretemp_0"
