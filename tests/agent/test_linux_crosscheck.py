"""Cross-checks: what the agent reports about this machine agrees with the OS's own tools.

Tolerances cover what changes between two reads (disk usage moves while tests run).
Tools the machine lacks are skipped, not failed.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from steward.agent.inventory import collect_inventory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def sh(*argv: str) -> str:
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    return subprocess.run(
        argv, capture_output=True, text=True, check=True, env={**os.environ, "LC_ALL": "C"}
    ).stdout


@pytest.fixture(scope="module")
def inventory() -> dict[str, Any]:
    return collect_inventory()


def close(actual: int, expected: int, tolerance: float = 0.01) -> bool:
    return abs(actual - expected) <= tolerance * max(expected, 1)


def test_memory_total_matches_proc_meminfo(inventory: dict[str, Any]) -> None:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            break
    assert close(inventory["memory"]["total_bytes"], kib * 1024)


def test_memory_total_matches_free(inventory: dict[str, Any]) -> None:
    mem_line = next(line for line in sh("free", "-b").splitlines() if line.startswith("Mem:"))
    assert close(inventory["memory"]["total_bytes"], int(mem_line.split()[1]))


def test_root_partition_matches_df(inventory: dict[str, Any]) -> None:
    root = [part for part in inventory["partitions"] if part["mountpoint"] == "/"]
    if not root:
        pytest.skip("/ is on a pseudo filesystem here (overlay in a container)")
    size, used, available = sh("df", "-B1", "--output=size,used,avail", "/").splitlines()[1].split()
    # Usage moves while the suite runs (1 % of the filesystem's size is the margin).
    assert close(root[0]["total_bytes"], int(size))
    assert abs(root[0]["used_bytes"] - int(used)) <= 0.01 * int(size)
    assert abs(root[0]["free_bytes"] - int(available)) <= 0.01 * int(size)


def test_hostname_matches_the_kernel(inventory: dict[str, Any]) -> None:
    assert inventory["hostname"] == socket.gethostname() == sh("uname", "-n").strip()


def test_kernel_matches_uname(inventory: dict[str, Any]) -> None:
    assert inventory["os"]["kernel"] == sh("uname", "-r").strip()
    assert inventory["os"]["arch"] == sh("uname", "-m").strip()


def test_os_name_matches_pythons_own_os_release_reader(inventory: dict[str, Any]) -> None:
    try:
        expected = platform.freedesktop_os_release()
    except OSError:
        pytest.skip("no os-release file")
    assert inventory["os"]["name"] == expected.get("NAME", "Linux")
    assert inventory["os"]["version"] == expected.get("VERSION_ID")


def test_logical_cpu_count_matches_nproc(inventory: dict[str, Any]) -> None:
    # --all: every online CPU, as psutil counts, not only those this process may use.
    assert inventory["cpu"]["logical_cores"] == int(sh("nproc", "--all"))


def test_cpu_model_matches_lscpu(inventory: dict[str, Any]) -> None:
    for line in sh("lscpu").splitlines():
        if line.startswith("Model name:"):
            lscpu_model = line.split(":", 1)[1].strip()
            break
    else:
        pytest.skip("lscpu shows no model name")
    model = inventory["cpu"]["model"]
    if model is None:
        pytest.skip("no model name in /proc/cpuinfo (lscpu decodes it on ARM)")
    assert model == lscpu_model


def test_disks_match_lsblk(inventory: dict[str, Any]) -> None:
    lsblk = {}
    for line in sh(
        "lsblk", "--bytes", "--nodeps", "--noheadings", "--output", "NAME,SIZE"
    ).splitlines():
        name, size = line.split()
        lsblk[name] = int(size)
    for disk in inventory["disks"]:
        assert disk["name"] in lsblk
        assert disk["size_bytes"] == lsblk[disk["name"]]


def test_interfaces_match_sysfs(inventory: dict[str, Any]) -> None:
    for interface in inventory["network"]:
        sysfs = Path("/sys/class/net") / interface["name"]
        if not sysfs.exists():
            continue
        assert interface["mtu"] == int((sysfs / "mtu").read_text())
        address = (sysfs / "address").read_text().strip()
        if interface["mac"] is not None:
            assert interface["mac"] == address


def test_dpkg_package_count_matches_dpkg(inventory: dict[str, Any]) -> None:
    listed = sh("dpkg-query", "-W").splitlines()
    table = sh("dpkg", "-l").splitlines()
    rows = table[next(i for i, line in enumerate(table) if line.startswith("+++")) + 1 :]
    # The second letter of dpkg -l's status column: "n" (not installed) and "c" (only
    # configuration files left) are records, not installed software; the agent skips them.
    installed = [row for row in rows if row[1] not in "nc"]
    dpkg = [package for package in inventory["software"] if package["source"] == "dpkg"]
    assert len(dpkg) == len(installed)
    assert len(dpkg) <= len(listed)


def test_rpm_package_count_matches_rpm(inventory: dict[str, Any]) -> None:
    listed = sh("rpm", "-qa").splitlines()
    rpm = [package for package in inventory["software"] if package["source"] == "rpm"]
    assert len(rpm) == len(listed)
