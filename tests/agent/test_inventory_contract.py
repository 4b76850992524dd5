"""Contract tests: the real inventory of this machine has the protocol's shape.

Every section is checked for types and units (sizes are int bytes, never negative;
times are ISO 8601 with a zone; unknown is null), for JSON-serialisability and for the
protocol's limits (docs/agent-protocol.md). The real machine is collected once.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from steward.agent import AGENT_VERSION
from steward.agent.inventory import SECTION_NAMES, SECTIONS, collect_inventory
from steward.agent.platforms import Disk, HardwareInfo, OSInfo, SoftwarePackage
from steward.agent.protocol import (
    INVENTORY_KEYS,
    LIST_LIMITS,
    MAX_BODY_BYTES,
    MAX_NAME,
    MAX_STRING,
    NAME_KEYS,
    OS_FAMILIES,
    SOFTWARE_SOURCES,
    encode_body,
)

MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5,19}$")


@pytest.fixture(scope="module")
def inventory() -> dict[str, Any]:
    return collect_inventory()


def is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass and is not a size


def is_optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None, value
    return moment


def test_report_has_exactly_the_documented_keys_except_sent_at(inventory: dict[str, Any]) -> None:
    assert list(inventory) == [key for key in INVENTORY_KEYS if key != "sent_at"]
    assert list(SECTION_NAMES) == list(INVENTORY_KEYS[2:])
    assert inventory["agent_version"] == AGENT_VERSION


def test_report_is_json_and_fits_the_body_limit(inventory: dict[str, Any]) -> None:
    assert json.loads(json.dumps(inventory)) == inventory
    assert len(encode_body(inventory)) < MAX_BODY_BYTES


def test_identity_strings(inventory: dict[str, Any]) -> None:
    assert isinstance(inventory["hostname"], str) and inventory["hostname"]
    fqdn = inventory["fqdn"]
    assert fqdn is None or ("." in fqdn and not fqdn.startswith("localhost"))


def test_os_section(inventory: dict[str, Any]) -> None:
    os_info = inventory["os"]
    assert set(os_info) == {"family", "name", "version", "kernel", "arch"}
    assert os_info["family"] in OS_FAMILIES
    assert all(is_optional_str(value) for value in os_info.values())


def test_cpu_section_counts_cores_and_megahertz(inventory: dict[str, Any]) -> None:
    cpu = inventory["cpu"]
    assert set(cpu) == {"model", "physical_cores", "logical_cores", "max_mhz"}
    assert is_optional_str(cpu["model"])
    assert is_int(cpu["logical_cores"]) and cpu["logical_cores"] >= 1
    physical = cpu["physical_cores"]
    assert physical is None or (is_int(physical) and 1 <= physical <= cpu["logical_cores"])
    assert cpu["max_mhz"] is None or (isinstance(cpu["max_mhz"], float) and cpu["max_mhz"] > 0)


def test_memory_section_is_in_bytes(inventory: dict[str, Any]) -> None:
    memory = inventory["memory"]
    assert set(memory) == {"total_bytes", "swap_total_bytes"}
    assert is_int(memory["total_bytes"]) and memory["total_bytes"] > 64 * 1024 * 1024
    assert is_int(memory["swap_total_bytes"]) and memory["swap_total_bytes"] >= 0


def test_disks_section(inventory: dict[str, Any]) -> None:
    for disk in inventory["disks"]:
        assert set(disk) == {"name", "size_bytes", "model", "serial", "rotational"}
        assert isinstance(disk["name"], str) and disk["name"]
        assert is_int(disk["size_bytes"]) and disk["size_bytes"] >= 0
        assert disk["size_bytes"] % 512 == 0
        assert is_optional_str(disk["model"]) and is_optional_str(disk["serial"])
        assert disk["rotational"] in (True, False, None)


def test_partitions_section_sizes_are_consistent_bytes(inventory: dict[str, Any]) -> None:
    for part in inventory["partitions"]:
        assert set(part) == {
            "device",
            "mountpoint",
            "fstype",
            "total_bytes",
            "used_bytes",
            "free_bytes",
        }
        assert isinstance(part["mountpoint"], str) and part["mountpoint"].startswith("/")
        sizes = (part["total_bytes"], part["used_bytes"], part["free_bytes"])
        assert all(is_int(size) and size >= 0 for size in sizes)
        # free is what unprivileged users may use: used + free <= total (reserved blocks).
        assert part["used_bytes"] + part["free_bytes"] <= part["total_bytes"]
        assert part["fstype"] not in ("tmpfs", "proc", "sysfs", "overlay", "squashfs")


def test_network_section(inventory: dict[str, Any]) -> None:
    assert inventory["network"], "every machine has at least a loopback interface"
    for interface in inventory["network"]:
        assert set(interface) == {"name", "mac", "is_up", "speed_mbps", "mtu", "addresses"}
        assert interface["mac"] is None or MAC.match(interface["mac"])
        assert interface["is_up"] in (True, False, None)
        for key in ("speed_mbps", "mtu"):
            assert interface[key] is None or (is_int(interface[key]) and interface[key] > 0)
        for address in interface["addresses"]:
            assert set(address) == {"family", "address", "netmask"}
            parsed = ipaddress.ip_address(address["address"])
            assert address["family"] == f"ipv{parsed.version}"
            assert is_optional_str(address["netmask"])


def test_boot_time_is_an_aware_time_in_the_past(inventory: dict[str, Any]) -> None:
    assert parse_time(inventory["boot_time"]) < datetime.now(UTC)


def test_users_section(inventory: dict[str, Any]) -> None:
    for user in inventory["users"]:
        assert set(user) == {"name", "terminal", "host", "started"}
        assert isinstance(user["name"], str)
        assert is_optional_str(user["terminal"]) and is_optional_str(user["host"])
        assert user["started"] is None or parse_time(user["started"])


def test_software_section(inventory: dict[str, Any]) -> None:
    for package in inventory["software"]:
        assert set(package) == {"name", "version", "arch", "source"}
        assert isinstance(package["name"], str) and package["name"]
        assert is_optional_str(package["version"]) and is_optional_str(package["arch"])
        assert package["source"] in SOFTWARE_SOURCES


def assert_within_limits(value: Any, key: str | None = None) -> None:
    if isinstance(value, str):
        assert len(value) <= (MAX_NAME if key in NAME_KEYS else MAX_STRING), key
    elif isinstance(value, list):
        assert len(value) <= LIST_LIMITS.get(key or "", 10**9), key
        for item in value:
            assert_within_limits(item)
    elif isinstance(value, dict):
        for name, item in value.items():
            assert_within_limits(item, name)
    else:
        assert value is None or isinstance(value, bool | int | float), (key, value)


def test_report_respects_every_protocol_limit(inventory: dict[str, Any]) -> None:
    assert_within_limits(inventory)


# A platform whose every answer is oversized or broken, to prove the guarantees hold on a
# machine we do not have.


class HugePlatform:
    family = "linux"

    def os_info(self) -> OSInfo:
        return OSInfo("linux", "N" * 5000, "1" * 5000, "k" * 5000, "x86_64")

    def cpu_model(self) -> str | None:
        return "C" * 2000

    def hardware(self) -> HardwareInfo:
        raise OSError("firmware table unreadable")

    def disks(self) -> list[Disk]:
        return [Disk(f"sd{i}", 512, None, None, None) for i in range(300)]

    def installed_software(self) -> list[SoftwarePackage]:
        version = "9" * 120
        return [
            SoftwarePackage(f"package-{i:05d}", version, "amd64", "dpkg") for i in range(25_000)
        ]

    def machine_id(self, state_dir: Path) -> str:
        return "0" * 32


def test_oversized_values_are_cut_to_the_limits_and_the_body_still_fits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="steward.agent"):
        report = collect_inventory(HugePlatform(), ["os", "cpu", "disks", "software"])
    assert len(report["os"]["name"]) == MAX_NAME
    assert len(report["os"]["version"]) == MAX_NAME
    assert len(report["os"]["kernel"]) == MAX_STRING
    assert len(report["cpu"]["model"]) == MAX_STRING
    assert len(report["disks"]) == LIST_LIMITS["disks"]
    # 20,000 entries of ~180 bytes exceed 2 MiB: the software list is shortened to fit.
    assert 10_000 < len(report["software"]) < LIST_LIMITS["software"]
    assert report["software"][0]["name"] == "package-00000"
    assert len(encode_body({"sent_at": "2026-11-29T04:30:00Z", **report})) <= MAX_BODY_BYTES
    assert "software" in caplog.text


def test_a_failing_section_is_logged_and_becomes_null_or_empty(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BrokenDisks(HugePlatform):
        def disks(self) -> list[Disk]:
            raise PermissionError("no access to /sys/block")

    with caplog.at_level(logging.WARNING, logger="steward.agent"):
        report = collect_inventory(BrokenDisks(), ["hardware", "disks", "hostname"])
    assert report["hardware"] is None
    assert report["disks"] == []
    assert report["hostname"]
    assert "'hardware' failed" in caplog.text and "'disks' failed" in caplog.text


def test_every_list_section_is_declared_as_one() -> None:
    many = {section.name for section in SECTIONS if section.many}
    assert many == {"disks", "partitions", "network", "users", "software"}


def test_unknown_section_names_are_refused() -> None:
    with pytest.raises(ValueError, match="nonsense"):
        collect_inventory(HugePlatform(), ["nonsense"])
