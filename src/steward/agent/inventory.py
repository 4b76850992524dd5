"""The inventory report: one collector per section, each failing alone.

``SECTIONS`` describes every section once (name, collector, whether it is a list, what it
holds); collection, the CLI's ``--section`` choices and the contract tests all derive from
it. A collector that raises is logged and its section becomes ``null`` (or ``[]`` for a
list): an unreadable mount or a broken package database must not cost the server the
rest of the machine's report. Units are bytes, megabits per second and megahertz.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psutil

from steward.agent import AGENT_VERSION
from steward.agent.platforms import Platform, current_platform
from steward.agent.protocol import (
    LIST_LIMITS,
    MAX_BODY_BYTES,
    MAX_NAME,
    MAX_STRING,
    NAME_KEYS,
    encode_body,
    timestamp_to_iso,
)

logger = logging.getLogger(__name__)

# Room left under the server's body limit for what the client adds at send time (sent_at).
BODY_BUDGET = MAX_BODY_BYTES - 1024

# Filesystems that hold no user data or are images that always read 100 % full (snap's
# squashfs loops would trip every "disk full" alert). psutil's all=False already drops
# "nodev" filesystems; this catches the rest and those listed in odd /proc/filesystems.
PSEUDO_FILESYSTEMS = frozenset(
    {
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "overlay",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "squashfs",
        "sysfs",
        "tmpfs",
        "tracefs",
    }
)


@dataclass(frozen=True, slots=True)
class CpuInfo:
    model: str | None
    physical_cores: int | None
    logical_cores: int | None
    max_mhz: float | None


@dataclass(frozen=True, slots=True)
class MemoryInfo:
    total_bytes: int
    swap_total_bytes: int


@dataclass(frozen=True, slots=True)
class Partition:
    """A mounted filesystem. ``free_bytes`` is what unprivileged users may still write,
    so ``used + free`` is less than ``total`` by the root-reserved blocks, as in ``df``."""

    device: str
    mountpoint: str
    fstype: str | None
    total_bytes: int
    used_bytes: int
    free_bytes: int


@dataclass(frozen=True, slots=True)
class NetAddress:
    family: str
    address: str
    netmask: str | None


@dataclass(frozen=True, slots=True)
class NetworkInterface:
    name: str
    mac: str | None
    is_up: bool | None
    speed_mbps: int | None
    mtu: int | None
    addresses: list[NetAddress]


@dataclass(frozen=True, slots=True)
class LoggedInUser:
    name: str
    terminal: str | None
    host: str | None
    started: str | None


def collect_hostname(platform: Platform) -> str:
    return socket.gethostname()


def collect_fqdn(platform: Platform) -> str | None:
    """The resolver's fully qualified name; ``None`` when it only knows a bare name.

    ``getfqdn`` falls back to the short hostname (or "localhost...") when DNS and
    /etc/hosts have nothing better; that is not an FQDN and reporting it would invent one.
    """
    fqdn = socket.getfqdn()
    if "." not in fqdn or fqdn.split(".", 1)[0] in ("localhost", "localhost6"):
        return None
    return fqdn


def collect_os(platform: Platform) -> Any:
    return platform.os_info()


def _max_mhz() -> float | None:
    # Virtual machines commonly report 0 for the maximum frequency: unknown, not 0 MHz.
    try:
        frequency = psutil.cpu_freq()
    except (OSError, NotImplementedError) as error:
        logger.debug("CPU frequency unavailable: %s", error)
        return None
    if frequency is None or not frequency.max:
        return None
    return round(float(frequency.max), 1)


def collect_cpu(platform: Platform) -> CpuInfo:
    return CpuInfo(
        model=platform.cpu_model(),
        physical_cores=psutil.cpu_count(logical=False),
        logical_cores=psutil.cpu_count(logical=True),
        max_mhz=_max_mhz(),
    )


def collect_memory(platform: Platform) -> MemoryInfo:
    return MemoryInfo(
        total_bytes=int(psutil.virtual_memory().total),
        swap_total_bytes=int(psutil.swap_memory().total),
    )


def collect_disks(platform: Platform) -> Any:
    return platform.disks()


def collect_partitions(platform: Platform) -> list[Partition]:
    """Mounted disk filesystems with their usage; a mount that cannot be read is skipped."""
    partitions: list[Partition] = []
    for part in psutil.disk_partitions(all=False):
        # A mount with no device (psutil already drops most) is not a disk filesystem.
        if part.fstype in PSEUDO_FILESYSTEMS or not part.device:
            continue
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError as error:
            logger.info("skipping mount %s: %s", part.mountpoint, error)
            continue
        partitions.append(
            Partition(
                device=part.device,
                mountpoint=part.mountpoint,
                fstype=part.fstype or None,
                total_bytes=int(usage.total),
                used_bytes=int(usage.used),
                free_bytes=int(usage.free),
            )
        )
    return partitions


def _mac(address: str) -> str | None:
    # The loopback's link address is all zeros: it has no hardware address.
    normalized = address.lower()
    return None if not normalized or set(normalized) <= {"0", ":", "-"} else normalized


def collect_network(platform: Platform) -> list[NetworkInterface]:
    """Interfaces, their state and addresses; an interface missing from either psutil
    table (no address yet, or no stats) is still reported with what is known."""
    addresses_by_name = psutil.net_if_addrs()
    stats_by_name = psutil.net_if_stats()
    interfaces: list[NetworkInterface] = []
    for name in sorted(set(addresses_by_name) | set(stats_by_name)):
        mac: str | None = None
        addresses: list[NetAddress] = []
        for entry in addresses_by_name.get(name, []):
            # psutil.AF_LINK is AF_PACKET on Linux, AF_LINK on BSD/macOS.
            if entry.family == psutil.AF_LINK:
                mac = _mac(entry.address)
            elif entry.family == socket.AF_INET:
                addresses.append(NetAddress("ipv4", entry.address, entry.netmask or None))
            elif entry.family == socket.AF_INET6:
                # Drop the "%eth0" zone of link-local addresses: the interface is already
                # named, and a zone is not part of an address an IP field will accept.
                address = entry.address.split("%", 1)[0]
                addresses.append(NetAddress("ipv6", address, entry.netmask or None))
        stats = stats_by_name.get(name)
        interfaces.append(
            NetworkInterface(
                name=name,
                mac=mac,
                is_up=bool(stats.isup) if stats else None,
                # psutil reports 0 when the driver does not know the speed (virtio, Wi-Fi).
                speed_mbps=(stats.speed or None) if stats else None,
                mtu=(stats.mtu or None) if stats else None,
                addresses=addresses,
            )
        )
    return interfaces


def collect_hardware(platform: Platform) -> Any:
    return platform.hardware()


def collect_boot_time(platform: Platform) -> str:
    return timestamp_to_iso(psutil.boot_time())


def collect_users(platform: Platform) -> list[LoggedInUser]:
    return [
        LoggedInUser(
            name=user.name,
            terminal=user.terminal or None,
            host=user.host or None,
            started=timestamp_to_iso(user.started) if user.started else None,
        )
        for user in psutil.users()
    ]


def collect_software(platform: Platform) -> Any:
    return platform.installed_software()


@dataclass(frozen=True, slots=True)
class Section:
    """One inventory section: ``many`` sections are lists and become ``[]`` on failure."""

    name: str
    collect: Callable[[Platform], Any]
    many: bool
    description: str


SECTIONS: tuple[Section, ...] = (
    Section("hostname", collect_hostname, False, "the kernel's host name"),
    Section("fqdn", collect_fqdn, False, "fully qualified domain name, if the resolver knows"),
    Section("os", collect_os, False, "OS family, name, version, kernel, architecture"),
    Section("cpu", collect_cpu, False, "CPU model, core counts, maximum frequency (MHz)"),
    Section("memory", collect_memory, False, "RAM and swap sizes (bytes)"),
    Section("disks", collect_disks, True, "physical disks: size (bytes), model, serial"),
    Section("partitions", collect_partitions, True, "mounted filesystems and usage (bytes)"),
    Section("network", collect_network, True, "interfaces, MAC, state, speed (Mbit/s), IPs"),
    Section("hardware", collect_hardware, False, "vendor, model, serial, BIOS version"),
    Section("boot_time", collect_boot_time, False, "when the machine booted"),
    Section("users", collect_users, True, "logged-in users"),
    Section("software", collect_software, True, "installed packages"),
)
SECTION_NAMES: tuple[str, ...] = tuple(section.name for section in SECTIONS)


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    return value


def collect_section(section: Section, platform: Platform) -> Any:
    """One section as JSON-ready data; on any failure, logged, ``[]`` or ``None``."""
    try:
        return _to_json(section.collect(platform))
    except Exception:
        # Deliberately broad: a section's failure is reported here and must stay local.
        logger.warning("inventory section %r failed", section.name, exc_info=True)
        return [] if section.many else None


def apply_limits(value: Any, key: str | None = None) -> Any:
    """Cut strings and lists to the protocol's limits, so a big machine's report is
    shortened instead of rejected whole. ``key`` is the dict key holding ``value``."""
    if isinstance(value, str):
        return value[: MAX_NAME if key in NAME_KEYS else MAX_STRING]
    if isinstance(value, list):
        cap = LIST_LIMITS.get(key or "")
        if cap is not None and len(value) > cap:
            logger.warning("%s: reporting the first %d of %d entries", key, cap, len(value))
            value = value[:cap]
        return [apply_limits(item) for item in value]
    if isinstance(value, dict):
        return {name: apply_limits(item, name) for name, item in value.items()}
    return value


def fit_body(payload: dict[str, Any], max_bytes: int = BODY_BUDGET) -> dict[str, Any]:
    """Drop software entries from the end until the encoded report fits ``max_bytes``.

    20,000 packages with long version strings can exceed the 2 MiB body limit on their
    own; the software list is the only section that large, so it is the one shortened.
    """
    software = payload.get("software")
    if len(encode_body(payload)) <= max_bytes or not isinstance(software, list) or not software:
        return payload
    size = len(encode_body({**payload, "software": []}))
    kept = 0
    for entry in software:
        size += len(encode_body(entry)) + (1 if kept else 0)  # the separating comma
        if size > max_bytes:
            break
        kept += 1
    logger.warning(
        "inventory over %d bytes: reporting %d of %d software entries",
        max_bytes,
        kept,
        len(software),
    )
    return {**payload, "software": software[:kept]}


def collect_inventory(
    platform: Platform | None = None, sections: Iterable[str] | None = None
) -> dict[str, Any]:
    """The inventory report (all sections, or only ``sections``) without ``sent_at``.

    ``sent_at`` is stamped by the client when the request leaves: a report retried after
    an outage must not be refused as clock skew for the time it waited.
    """
    wanted = set(SECTION_NAMES if sections is None else sections)
    unknown = wanted - set(SECTION_NAMES)
    if unknown:
        raise ValueError(f"unknown inventory section(s): {', '.join(sorted(unknown))}")
    platform = platform if platform is not None else current_platform()
    payload: dict[str, Any] = {"agent_version": AGENT_VERSION}
    for section in SECTIONS:
        if section.name in wanted:
            payload[section.name] = collect_section(section, platform)
    return fit_body(apply_limits(payload))
