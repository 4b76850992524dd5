"""Turn a device's stored inventory document into rows for display.

Pure functions over plain data: the JSON document an agent reported (see
``docs/agent-protocol.md``). Every value may be missing or ``null`` ("unknown values are
null, never invented"), and a document stored by an older agent may lack whole sections,
so each reader tolerates absence and wrong types instead of failing the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

# Usage levels for file systems, in percent used: ``warning`` from 80, ``critical`` from 90
# (the thresholds most monitoring defaults use; alerting will own real thresholds later).
WARNING_PERCENT = 80.0
CRITICAL_PERCENT = 90.0


@dataclass(frozen=True)
class FileSystem:
    device: str
    mountpoint: str
    fstype: str
    total_bytes: int | None
    used_bytes: int | None
    free_bytes: int | None

    @property
    def percent_used(self) -> float | None:
        """The share of the total that programs can no longer write, in percent (0-100),
        or None when unknown.

        ``1 - free / total`` (``free`` is what unprivileged users may still write), as
        the device charts, the fleet ranking, the filesystem alert rules and Grafana's
        node_exporter dashboards compute it, so the same disk shows one figure
        everywhere: space reserved for root counts as used, since it is gone for
        everyone else. Without ``free``, the used share of the total.
        """
        if not self.total_bytes:
            return None
        if self.free_bytes is not None:
            share = 1.0 - self.free_bytes / self.total_bytes
        elif self.used_bytes is not None:
            share = self.used_bytes / self.total_bytes
        else:
            return None
        return min(100.0, max(0.0, 100.0 * share))

    @property
    def reserved_bytes(self) -> int | None:
        """Space neither used nor free to users (root-reserved blocks, as in ``df``),
        when it is worth a mention: at least 1 % of the total."""
        if not self.total_bytes or self.used_bytes is None or self.free_bytes is None:
            return None
        reserved = self.total_bytes - self.used_bytes - self.free_bytes
        return reserved if reserved >= self.total_bytes / 100 else None

    @property
    def level(self) -> str:
        percent = self.percent_used
        if percent is None:
            return "unknown"
        if percent >= CRITICAL_PERCENT:
            return "critical"
        if percent >= WARNING_PERCENT:
            return "warning"
        return "ok"


@dataclass(frozen=True)
class Disk:
    name: str
    size_bytes: int | None
    model: str
    serial: str
    rotational: bool | None

    @property
    def media(self) -> str:
        if self.rotational is None:
            return ""
        return "HDD" if self.rotational else "SSD"


@dataclass(frozen=True)
class Address:
    family: str
    address: str
    netmask: str


@dataclass(frozen=True)
class Interface:
    name: str
    mac: str
    is_up: bool | None
    speed_mbps: int | None
    mtu: int | None
    addresses: tuple[Address, ...]


@dataclass(frozen=True)
class Session:
    name: str
    terminal: str
    host: str
    started: datetime | None


def _items(inventory: Any, key: str) -> list[Mapping[str, Any]]:
    value = inventory.get(key) if isinstance(inventory, Mapping) else None
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def file_systems(inventory: Any) -> list[FileSystem]:
    """Mounted file systems, ordered by mount point."""
    rows = [
        FileSystem(
            device=_text(item.get("device")),
            mountpoint=_text(item.get("mountpoint")),
            fstype=_text(item.get("fstype")),
            total_bytes=_int(item.get("total_bytes")),
            used_bytes=_int(item.get("used_bytes")),
            free_bytes=_int(item.get("free_bytes")),
        )
        for item in _items(inventory, "partitions")
    ]
    return sorted(rows, key=lambda fs: fs.mountpoint)


def disks(inventory: Any) -> list[Disk]:
    return [
        Disk(
            name=_text(item.get("name")),
            size_bytes=_int(item.get("size_bytes")),
            model=_text(item.get("model")),
            serial=_text(item.get("serial")),
            rotational=_bool(item.get("rotational")),
        )
        for item in _items(inventory, "disks")
    ]


def interfaces(inventory: Any) -> list[Interface]:
    """Network interfaces: up ones first, then by name (loopback last among equals)."""
    rows = [
        Interface(
            name=_text(item.get("name")),
            mac=_text(item.get("mac")),
            is_up=_bool(item.get("is_up")),
            speed_mbps=_int(item.get("speed_mbps")),
            mtu=_int(item.get("mtu")),
            addresses=tuple(
                Address(
                    family=_text(addr.get("family")),
                    address=_text(addr.get("address")),
                    netmask=_text(addr.get("netmask")),
                )
                for addr in _items(item, "addresses")
            ),
        )
        for item in _items(inventory, "network")
    ]
    return sorted(rows, key=lambda i: (i.is_up is not True, i.name == "lo", i.name))


def sessions(inventory: Any) -> list[Session]:
    """Logged-in users, most recent session first."""
    rows = [
        Session(
            name=_text(item.get("name")),
            terminal=_text(item.get("terminal")),
            host=_text(item.get("host")),
            started=_datetime(item.get("started")),
        )
        for item in _items(inventory, "users")
    ]
    return sorted(
        rows, key=lambda s: (s.started is None, -(s.started.timestamp()) if s.started else 0)
    )


def swap_bytes(inventory: Any) -> int | None:
    memory = inventory.get("memory") if isinstance(inventory, Mapping) else None
    return _int(memory.get("swap_total_bytes")) if isinstance(memory, Mapping) else None


def bios_version(inventory: Any) -> str:
    hardware = inventory.get("hardware") if isinstance(inventory, Mapping) else None
    return _text(hardware.get("bios_version")) if isinstance(hardware, Mapping) else ""


def cpu_max_mhz(inventory: Any) -> float | None:
    cpu = inventory.get("cpu") if isinstance(inventory, Mapping) else None
    value = cpu.get("max_mhz") if isinstance(cpu, Mapping) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
