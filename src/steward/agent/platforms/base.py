"""What every platform module provides, and the typed results it returns.

The inventory sections that psutil already answers portably (CPU counts, memory,
partitions, network, users, boot time) live in ``steward.agent.inventory``; only what
differs per operating system (where the OS name, the hardware identity, the disks, the
installed packages and the machine's stable id come from) sits behind this interface.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

logger = logging.getLogger(__name__)

MACHINE_ID_FILE = "machine-id"


class UnsupportedPlatform(Exception):
    """The agent has no collector for this operating system (``sys.platform`` value)."""

    def __init__(self, platform_name: str) -> None:
        super().__init__(f"the Steward agent does not support this platform yet: {platform_name}")
        self.platform_name = platform_name


class CommandFailed(Exception):
    """A package manager's query tool ran but failed (non-zero exit or timeout)."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"{command}: {reason}")
        self.command = command
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OSInfo:
    """The operating system. ``family`` is one of the protocol's OS families."""

    family: str
    name: str | None
    version: str | None
    kernel: str | None
    arch: str | None


@dataclass(frozen=True, slots=True)
class HardwareInfo:
    """The machine's identity as its firmware reports it; ``None`` where unknown."""

    vendor: str | None
    model: str | None
    serial: str | None
    bios_version: str | None


@dataclass(frozen=True, slots=True)
class Disk:
    """A physical (or virtual-machine) disk. ``size_bytes`` is in bytes."""

    name: str
    size_bytes: int
    model: str | None
    serial: str | None
    rotational: bool | None


@dataclass(frozen=True, slots=True)
class SoftwarePackage:
    """One installed package; ``source`` is the protocol's name of the package manager."""

    name: str
    version: str | None
    arch: str | None
    source: str


@runtime_checkable
class Platform(Protocol):
    """The per-OS half of the inventory. Methods raise on failure; callers log and go on."""

    #: The protocol's ``os.family`` and the enrollment's ``platform`` value.
    family: str

    def os_info(self) -> OSInfo: ...

    def cpu_model(self) -> str | None: ...

    def hardware(self) -> HardwareInfo: ...

    def disks(self) -> list[Disk]: ...

    def installed_software(self) -> list[SoftwarePackage]: ...

    def machine_id(self, state_dir: Path) -> str: ...


def persisted_machine_id(state_dir: Path) -> str:
    """A random id generated once and kept in ``<state_dir>/machine-id``.

    The fallback for machines whose OS offers no stable id: the server deduplicates
    re-enrollments by machine id, so it must survive agent restarts and reinstalls that
    keep the state directory.
    """
    path = state_dir / MACHINE_ID_FILE
    try:
        existing = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    generated = uuid.uuid4().hex
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(generated + "\n")
    logger.info("no OS machine id found; generated one in %s", path)
    return generated
