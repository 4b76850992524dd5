"""Strict schemas for what agents send (see docs/agent-protocol.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(max_length=255)]
Text = Annotated[str, StringConstraints(max_length=1024)]
# Sizes must arrive as JSON numbers: "12" is not a number of bytes.
NonNegative = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]


class Strict(Schema):
    # Unknown keys are ignored: a newer agent may send more than this server knows.
    model_config = ConfigDict(extra="ignore")


class EnrollIn(Strict):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    hostname: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    machine_id: Annotated[str, StringConstraints(max_length=128)] = ""
    agent_version: Annotated[str, StringConstraints(max_length=32)] = ""
    platform: Annotated[str, StringConstraints(max_length=32)] = ""
    sent_at: AwareDatetime | None = None


class EnrollOut(Schema):
    device_id: int
    credential: str
    organization: str
    site: str
    heartbeat_interval: int
    inventory_interval: int
    server_time: datetime


class HeartbeatIn(Strict):
    sent_at: AwareDatetime
    agent_version: Annotated[str, StringConstraints(max_length=32)] = ""
    uptime_seconds: Annotated[float, Field(ge=0)] | None = None


class IntervalsOut(Schema):
    server_time: datetime
    heartbeat_interval: int
    inventory_interval: int
    checks_revision: str = ""


class OsInfo(Strict):
    family: Literal["linux", "windows", "macos", "bsd", "other"]
    name: Text | None = None
    version: Text | None = None
    kernel: Text | None = None
    arch: Text | None = None


class CpuInfo(Strict):
    model: Text | None = None
    physical_cores: Annotated[int, Field(ge=1, le=100_000)] | None = None
    logical_cores: Annotated[int, Field(ge=1, le=100_000)] | None = None
    max_mhz: Annotated[float, Field(ge=0)] | None = None


class MemoryInfo(Strict):
    total_bytes: NonNegative | None = None
    swap_total_bytes: NonNegative | None = None


class DiskInfo(Strict):
    name: Name
    size_bytes: NonNegative | None = None
    model: Text | None = None
    serial: Text | None = None
    rotational: bool | None = None


class PartitionInfo(Strict):
    device: Text
    mountpoint: Text
    fstype: Name | None = None
    total_bytes: NonNegative | None = None
    used_bytes: NonNegative | None = None
    free_bytes: NonNegative | None = None


class Address(Strict):
    family: Literal["ipv4", "ipv6"]
    address: Name
    netmask: Name | None = None


class InterfaceInfo(Strict):
    name: Name
    mac: Name | None = None
    is_up: bool | None = None
    speed_mbps: Annotated[int, Field(ge=0)] | None = None
    mtu: Annotated[int, Field(ge=0)] | None = None
    addresses: Annotated[list[Address], Field(max_length=64)] = []


class HardwareInfo(Strict):
    vendor: Text | None = None
    model: Text | None = None
    serial: Text | None = None
    bios_version: Text | None = None


class LoggedInUser(Strict):
    name: Name
    terminal: Name | None = None
    host: Name | None = None
    started: AwareDatetime | None = None


class Package(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    version: Name | None = None
    arch: Annotated[str, StringConstraints(max_length=32)] | None = None
    source: Literal["dpkg", "rpm", "apk", "pacman", "msi", "winget", "brew", "pkg", "other"]


class InventoryIn(Strict):
    sent_at: AwareDatetime
    agent_version: Annotated[str, StringConstraints(max_length=32)] = ""
    hostname: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    fqdn: Name | None = None
    os: OsInfo
    cpu: CpuInfo | None = None
    memory: MemoryInfo | None = None
    disks: Annotated[list[DiskInfo], Field(max_length=256)] = []
    partitions: Annotated[list[PartitionInfo], Field(max_length=512)] = []
    network: Annotated[list[InterfaceInfo], Field(max_length=512)] = []
    hardware: HardwareInfo | None = None
    boot_time: AwareDatetime | None = None
    users: Annotated[list[LoggedInUser], Field(max_length=1000)] = []
    software: Annotated[list[Package], Field(max_length=20_000)] = []


class InventoryOut(Schema):
    accepted: bool
    software_count: int
