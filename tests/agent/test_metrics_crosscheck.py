"""Cross-checks: the metrics agree with the OS's own tools, within what moves between
two reads. Tools the machine lacks are skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from steward.agent.metrics.collectors import (
    CpuCollector,
    FilesystemCollector,
    Host,
    LoadCollector,
    MeminfoCollector,
    NetdevCollector,
    Sample,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
HOST = Host("/")


def sh(*argv: str) -> str:
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    return subprocess.run(
        argv, capture_output=True, text=True, check=True, env={**os.environ, "LC_ALL": "C"}
    ).stdout


def by_series(samples: list[Sample]) -> dict[tuple[str, tuple[str, ...]], float]:
    return {(name, labels): value for name, labels, value in samples}


def test_root_filesystem_size_and_avail_match_df() -> None:
    samples = [s for s in FilesystemCollector(HOST).collect() if s[1][2] == "/"]
    if not samples:
        pytest.skip("/ is a filesystem node_exporter leaves out here (overlay)")
    size, avail = sh("df", "-B1", "--output=size,avail", "/").splitlines()[1].split()
    values = {name: value for name, _, value in samples}
    assert values["node_filesystem_size_bytes"] == int(size)
    # Free space moves while the suite runs: 0.5 % of the filesystem's size.
    assert abs(values["node_filesystem_avail_bytes"] - int(avail)) <= 0.005 * int(size)


def test_memtotal_and_memavailable_match_proc_meminfo() -> None:
    kib = {
        line.split(":")[0]: int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
    }
    values = {name: value for name, _, value in MeminfoCollector(HOST).collect()}
    assert values["node_memory_MemTotal_bytes"] == kib["MemTotal"] * 1024
    assert abs(values["node_memory_MemAvailable_bytes"] - kib["MemAvailable"] * 1024) <= (
        0.02 * kib["MemTotal"] * 1024
    )


def test_memtotal_matches_free() -> None:
    line = next(line for line in sh("free", "-b").splitlines() if line.startswith("Mem:"))
    values = {name: value for name, _, value in MeminfoCollector(HOST).collect()}
    assert values["node_memory_MemTotal_bytes"] == int(line.split()[1])


def test_load1_matches_getloadavg() -> None:
    load1 = {name: value for name, _, value in LoadCollector(HOST).collect()}["node_load1"]
    assert abs(load1 - os.getloadavg()[0]) <= 0.5


def test_network_bytes_match_sysfs_statistics() -> None:
    samples = by_series(NetdevCollector(HOST).collect())
    checked = 0
    for device_dir in sorted(Path("/sys/class/net").iterdir()):
        stats = device_dir / "statistics"
        if not stats.is_dir():
            continue
        for field in ("rx_bytes", "tx_bytes"):
            family = "receive" if field.startswith("rx") else "transmit"
            key = (f"node_network_{family}_bytes_total", (device_dir.name,))
            if key not in samples:
                continue
            sysfs = int((stats / field).read_text())
            # Traffic continues between the two reads (the suite talks over loopback).
            assert sysfs >= samples[key] and sysfs - samples[key] <= 5_000_000, key
            checked += 1
    assert checked


def test_one_cpu_label_per_processor_like_nproc() -> None:
    cpus = {labels[0] for name, labels, _ in CpuCollector(HOST).collect()
            if name == "node_cpu_seconds_total"}  # fmt: skip
    assert len(cpus) == int(sh("nproc", "--all").strip())
    assert len(cpus) == os.cpu_count()
