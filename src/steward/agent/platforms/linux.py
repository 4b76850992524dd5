"""Linux: the OS from os-release, the hardware from DMI, disks from sysfs, dpkg and rpm.

Every reader takes the text or the directory it parses, so tests feed it faked content
(a fake ``/sys/block`` tree in ``tmp_path``, a captured ``dpkg-query`` output) and the
real machine is only one instance: ``LinuxPlatform(root=Path("/"))``.
"""

from __future__ import annotations

import logging
import os
import platform as _platform
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from steward.agent.platforms.base import (
    CommandFailed,
    Disk,
    HardwareInfo,
    OSInfo,
    SoftwarePackage,
    persisted_machine_id,
)

logger = logging.getLogger(__name__)

# Block devices that are not disks: loop images, RAM disks, compressed swap in RAM.
VIRTUAL_BLOCK_PREFIXES = ("loop", "ram", "zram")
# /sys/block/<dev>/size counts 512-byte sectors whatever the device's logical block size
# (include/linux/types.h, "sector_t": the block layer's unit is always 512 bytes).
SECTOR_BYTES = 512
# What firmware vendors write when they did not fill a DMI field; reporting them would
# make every such machine look like the same "Default string" model with one serial.
DMI_PLACEHOLDERS = frozenset(
    {
        "",
        "0",
        "0123456789",
        "default string",
        "n/a",
        "none",
        "not applicable",
        "not specified",
        "o.e.m.",
        "system manufacturer",
        "system product name",
        "system serial number",
        "to be filled by o.e.m.",
    }
)
COMMAND_TIMEOUT_SECONDS = 60
DPKG_COMMAND = [
    "dpkg-query",
    "--show",
    "--showformat=${db:Status-Status}\\t${Package}\\t${Version}\\t${Architecture}\\n",
]
# rpm prints the epoch only when a package has one, the way `rpm -q` shows versions.
RPM_COMMAND = [
    "rpm",
    "--query",
    "--all",
    "--queryformat=%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\n",
]
# dpkg keeps records of packages whose files are gone ("config-files": removed but not
# purged; "not-installed"); they are not installed software.
DPKG_NOT_INSTALLED = frozenset({"config-files", "not-installed"})

CommandRunner = Callable[[list[str]], str | None]


def read_text(path: Path) -> str | None:
    """A sysfs/procfs/etc file's content stripped of whitespace and NULs, or ``None``.

    ``None`` covers "absent" and "not readable by this user" alike: DMI serials are
    root-only (mode 0400), and an agent running unprivileged must still report the rest.
    """
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    except OSError as error:
        # Some sysfs attributes fail with EIO/ENODEV on a device going away; not fatal.
        logger.debug("cannot read %s: %s", path, error)
        return None
    text = raw.decode("utf-8", errors="replace").strip("\x00 \t\r\n")
    return text or None


_OS_RELEASE_LINE = re.compile(r"^(?P<key>[A-Za-z0-9_]+)=(?P<quote>[\"']?)(?P<value>.*)(?P=quote)$")
# os-release(5): inside quotes, "$", quotes, backslash and backtick are backslash-escaped.
_OS_RELEASE_ESCAPE = re.compile(r"\\([\\$\"'`])")


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release(5): ``KEY=value`` lines, optionally quoted, ``#`` comments.

    The same grammar as ``platform.freedesktop_os_release`` (which reads only the real
    files, hence this copy that takes text); a line with unbalanced quotes keeps its value.
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _OS_RELEASE_LINE.match(line)
        if match is None:
            continue
        value = match["value"]
        if not match["quote"]:
            value = value.strip("\"'")
        fields[match["key"]] = _OS_RELEASE_ESCAPE.sub(r"\1", value)
    return fields


def os_info_from_release(
    fields: dict[str, str] | None, kernel: str | None, arch: str | None
) -> OSInfo:
    """OSInfo from parsed os-release fields (``None`` when no os-release file exists).

    os-release(5) says a missing ``NAME`` defaults to "Linux"; ``VERSION_ID`` has no
    default (rolling releases such as Arch have none), so it stays ``None``.
    """
    if fields is None:
        return OSInfo(family="linux", name=None, version=None, kernel=kernel, arch=arch)
    return OSInfo(
        family="linux",
        name=fields.get("NAME") or "Linux",
        version=fields.get("VERSION_ID") or None,
        kernel=kernel,
        arch=arch,
    )


def parse_cpuinfo_model(text: str) -> str | None:
    """The CPU model from /proc/cpuinfo: x86's "model name", older ARM's "Processor"."""
    fallback: str | None = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "model name" and value:
            return value
        if key == "Processor" and value and fallback is None:
            fallback = value
    return fallback


def _dmi_value(path: Path) -> str | None:
    value = read_text(path)
    if value is None or value.strip().lower() in DMI_PLACEHOLDERS:
        return None
    return value.strip()


def read_hardware(dmi_dir: Path, device_tree_dir: Path | None = None) -> HardwareInfo:
    """The machine's vendor, model, serial and BIOS version.

    x86 firmware publishes them in ``/sys/class/dmi/id``; ARM boards without DMI (a
    Raspberry Pi) name themselves in the device tree instead.
    """
    if dmi_dir.is_dir():
        return HardwareInfo(
            vendor=_dmi_value(dmi_dir / "sys_vendor"),
            model=_dmi_value(dmi_dir / "product_name"),
            serial=_dmi_value(dmi_dir / "product_serial"),
            bios_version=_dmi_value(dmi_dir / "bios_version"),
        )
    if device_tree_dir is not None and device_tree_dir.is_dir():
        return HardwareInfo(
            vendor=None,
            model=_dmi_value(device_tree_dir / "model"),
            serial=_dmi_value(device_tree_dir / "serial-number"),
            bios_version=None,
        )
    return HardwareInfo(vendor=None, model=None, serial=None, bios_version=None)


def _is_virtual_block_device(device_dir: Path) -> bool:
    """Loop, RAM and zram devices, and any device with no hardware behind it.

    Device-mapper (LVM, LUKS) and md RAID volumes have no ``device`` link: they are
    built on disks that are reported themselves, so listing them would count space twice.
    """
    name = device_dir.name
    return name.startswith(VIRTUAL_BLOCK_PREFIXES) or not (device_dir / "device").exists()


def _disk_serial(device_dir: Path) -> str | None:
    # SCSI and NVMe expose device/serial, virtio-blk exposes serial on the block device;
    # otherwise the WWID (NVMe, some SCSI) is the most stable unique id there is.
    for candidate in ("device/serial", "serial", "device/wwid", "wwid"):
        value = read_text(device_dir / candidate)
        if value:
            return value.strip()
    return None


def read_block_devices(sys_block: Path) -> list[Disk]:
    """Disks from a ``/sys/block``-shaped directory, sorted by name."""
    disks: list[Disk] = []
    if not sys_block.is_dir():
        return disks
    for device_dir in sorted(sys_block.iterdir()):
        if _is_virtual_block_device(device_dir):
            continue
        sectors = read_text(device_dir / "size")
        rotational = read_text(device_dir / "queue" / "rotational")
        model = read_text(device_dir / "device" / "model")
        disks.append(
            Disk(
                name=device_dir.name,
                size_bytes=int(sectors) * SECTOR_BYTES if sectors and sectors.isdigit() else 0,
                # SCSI pads the model to 16 characters with spaces.
                model=model.strip() if model else None,
                serial=_disk_serial(device_dir),
                rotational={"1": True, "0": False}.get(rotational or ""),
            )
        )
    return disks


def _none_if_blank(value: str, *blanks: str) -> str | None:
    value = value.strip()
    return None if not value or value in blanks else value


def parse_dpkg(text: str) -> list[SoftwarePackage]:
    """Packages from ``DPKG_COMMAND``'s output (status, name, version, arch per line)."""
    packages: list[SoftwarePackage] = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 4 or not parts[1].strip():
            continue
        status, name, version, arch = parts
        if status.strip() in DPKG_NOT_INSTALLED:
            continue
        packages.append(
            SoftwarePackage(
                name=name.strip(),
                version=_none_if_blank(version),
                arch=_none_if_blank(arch),
                source="dpkg",
            )
        )
    return packages


def parse_rpm(text: str) -> list[SoftwarePackage]:
    """Packages from ``RPM_COMMAND``'s output (name, [epoch:]version-release, arch)."""
    packages: list[SoftwarePackage] = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0].strip():
            continue
        name, version, arch = parts
        packages.append(
            SoftwarePackage(
                name=name.strip(),
                version=_none_if_blank(version),
                # gpg-pubkey "packages" have no architecture and rpm prints "(none)".
                arch=_none_if_blank(arch, "(none)"),
                source="rpm",
            )
        )
    return packages


def run_command(argv: list[str]) -> str | None:
    """Run a query tool and return its stdout; ``None`` when the tool is not installed.

    A C locale keeps the output parseable whatever the machine's language. Raises
    ``CommandFailed`` on a non-zero exit or a timeout.
    """
    if shutil.which(argv[0]) is None:
        return None
    env = {**os.environ, "LC_ALL": "C"}
    try:
        completed = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=COMMAND_TIMEOUT_SECONDS,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CommandFailed(argv[0], f"no answer within {COMMAND_TIMEOUT_SECONDS} s") from None
    except FileNotFoundError:
        return None
    if completed.returncode != 0:
        first_line = (completed.stderr.strip().splitlines() or [""])[0]
        raise CommandFailed(argv[0], f"exit status {completed.returncode}: {first_line}")
    return completed.stdout


_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def read_machine_id(candidates: Iterable[Path]) -> str | None:
    """The first valid systemd/D-Bus machine id (32 lowercase hex digits) among the files.

    An empty /etc/machine-id is normal in images meant to be cloned (systemd fills it on
    first boot), and "uninitialized" marks one not yet committed: both are skipped.
    """
    for path in candidates:
        value = read_text(path)
        if value and _HEX_ID.match(value):
            return value
    return None


class LinuxPlatform:
    """The Linux collectors, reading below ``root`` (``/`` on a real machine)."""

    family = "linux"

    def __init__(self, root: Path = Path("/"), run: CommandRunner = run_command) -> None:
        self.root = root
        self._run = run

    def os_info(self) -> OSInfo:
        # os-release(5): /etc/os-release takes precedence, /usr/lib/os-release is the fallback.
        fields: dict[str, str] | None = None
        for candidate in ("etc/os-release", "usr/lib/os-release"):
            text = read_text(self.root / candidate)
            if text is not None:
                fields = parse_os_release(text)
                break
        return os_info_from_release(
            fields, kernel=_platform.release() or None, arch=_platform.machine() or None
        )

    def cpu_model(self) -> str | None:
        text = read_text(self.root / "proc" / "cpuinfo")
        return parse_cpuinfo_model(text) if text else None

    def hardware(self) -> HardwareInfo:
        return read_hardware(
            self.root / "sys" / "class" / "dmi" / "id", self.root / "proc" / "device-tree"
        )

    def disks(self) -> list[Disk]:
        return read_block_devices(self.root / "sys" / "block")

    def installed_software(self) -> list[SoftwarePackage]:
        """dpkg and rpm packages, each manager that is installed and answers.

        Both can be present (rpm is packaged for Debian). A manager that fails is logged
        and skipped so that the other's list still arrives.
        """
        packages: list[SoftwarePackage] = []
        for command, parse in ((DPKG_COMMAND, parse_dpkg), (RPM_COMMAND, parse_rpm)):
            try:
                output = self._run(command)
            except CommandFailed as error:
                logger.warning("cannot list installed software: %s", error)
                continue
            if output is not None:
                packages.extend(parse(output))
        return packages

    def machine_id(self, state_dir: Path) -> str:
        found = read_machine_id(
            [self.root / "etc" / "machine-id", self.root / "var" / "lib" / "dbus" / "machine-id"]
        )
        return found if found is not None else persisted_machine_id(state_dir)
