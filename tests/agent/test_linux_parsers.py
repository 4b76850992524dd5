"""The Linux readers on faked content: os-release, cpuinfo, DMI, /sys/block, dpkg, rpm.

Every reader takes text or a directory, so these run anywhere, as any user, and pin down
the quirks (padded SCSI models, OEM placeholders, dpkg's config-files records).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from steward.agent.platforms import CommandFailed, Disk, HardwareInfo, SoftwarePackage
from steward.agent.platforms.linux import (
    DPKG_COMMAND,
    RPM_COMMAND,
    LinuxPlatform,
    os_info_from_release,
    parse_cpuinfo_model,
    parse_dpkg,
    parse_os_release,
    parse_rpm,
    read_block_devices,
    read_hardware,
    read_machine_id,
    run_command,
)

DEBIAN_OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# os-release ---------------------------------------------------------------------------


def test_os_release_gives_name_and_version_id() -> None:
    fields = parse_os_release(DEBIAN_OS_RELEASE)
    info = os_info_from_release(fields, kernel="6.1.0-28-amd64", arch="x86_64")
    assert (info.family, info.name, info.version) == ("linux", "Debian GNU/Linux", "12")
    assert (info.kernel, info.arch) == ("6.1.0-28-amd64", "x86_64")


def test_os_release_handles_comments_unquoted_single_quoted_and_escaped_values() -> None:
    text = (
        "# a comment\n\nNAME=Fedora\nVERSION_ID='40'\n"
        'PRETTY_NAME="Say \\"hi\\" \\$HOME"\nBROKEN="unterminated\nnot a line\n'
    )
    fields = parse_os_release(text)
    assert fields["NAME"] == "Fedora"
    assert fields["VERSION_ID"] == "40"
    assert fields["PRETTY_NAME"] == 'Say "hi" $HOME'
    assert fields["BROKEN"] == "unterminated"
    assert "not a line" not in fields


def test_rolling_release_without_version_id_reports_null_version() -> None:
    info = os_info_from_release(parse_os_release('NAME="Arch Linux"\nID=arch\n'), None, None)
    assert info.name == "Arch Linux"
    assert info.version is None


def test_os_release_without_name_defaults_to_linux_as_the_spec_says() -> None:
    assert os_info_from_release({"ID": "custom"}, None, None).name == "Linux"


def test_platform_reads_usr_lib_os_release_when_etc_has_none(tmp_path: Path) -> None:
    write(tmp_path / "usr/lib/os-release", 'NAME="Ubuntu"\nVERSION_ID="24.04"\n')
    info = LinuxPlatform(root=tmp_path).os_info()
    assert (info.name, info.version) == ("Ubuntu", "24.04")


def test_no_os_release_at_all_means_unknown_name_and_version(tmp_path: Path) -> None:
    info = LinuxPlatform(root=tmp_path).os_info()
    assert (info.family, info.name, info.version) == ("linux", None, None)


# /proc/cpuinfo ------------------------------------------------------------------------


def test_cpu_model_comes_from_model_name() -> None:
    text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU\n"
    assert parse_cpuinfo_model(text) == "Intel(R) Xeon(R) CPU"


def test_old_arm_cpu_model_comes_from_processor_line() -> None:
    text = "Processor\t: ARMv7 Processor rev 5 (v7l)\nprocessor\t: 0\nBogoMIPS\t: 38.40\n"
    assert parse_cpuinfo_model(text) == "ARMv7 Processor rev 5 (v7l)"


def test_cpu_model_is_null_when_cpuinfo_does_not_say() -> None:
    assert parse_cpuinfo_model("processor\t: 0\nBogoMIPS\t: 50.00\nCPU part\t: 0xd08\n") is None


# DMI / device tree --------------------------------------------------------------------


def fake_dmi(root: Path, **values: str) -> Path:
    dmi = root / "sys/class/dmi/id"
    for name, value in values.items():
        write(dmi / name, value + "\n")
    return dmi


def test_hardware_comes_from_dmi(tmp_path: Path) -> None:
    dmi = fake_dmi(
        tmp_path,
        sys_vendor="Dell Inc.",
        product_name="OptiPlex 7080",
        product_serial="ABC123",
        bios_version="1.2.3",
    )
    assert read_hardware(dmi) == HardwareInfo("Dell Inc.", "OptiPlex 7080", "ABC123", "1.2.3")


def test_oem_placeholders_are_unknown_not_values(tmp_path: Path) -> None:
    dmi = fake_dmi(
        tmp_path,
        sys_vendor="System manufacturer",
        product_name="To Be Filled By O.E.M.",
        product_serial="Default string",
        bios_version="F12",
    )
    assert read_hardware(dmi) == HardwareInfo(None, None, None, "F12")


def test_root_only_serial_is_null_for_an_unprivileged_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dmi = fake_dmi(tmp_path, sys_vendor="LENOVO", product_name="20XW", product_serial="PF2ABC")
    os.chmod(dmi / "product_serial", 0o400)
    real_read_bytes = Path.read_bytes

    def read_bytes_as_unprivileged_user(self: Path) -> bytes:
        # Root reads a 0400 file anyway; emulate what an ordinary user gets.
        if self.name == "product_serial":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes_as_unprivileged_user)
    hardware = read_hardware(dmi)
    assert (hardware.vendor, hardware.model, hardware.serial) == ("LENOVO", "20XW", None)


def test_arm_board_without_dmi_names_itself_in_the_device_tree(tmp_path: Path) -> None:
    write(tmp_path / "proc/device-tree/model", "Raspberry Pi 4 Model B Rev 1.4\x00")
    write(tmp_path / "proc/device-tree/serial-number", "10000000abcdef01\x00")
    hardware = LinuxPlatform(root=tmp_path).hardware()
    assert hardware == HardwareInfo(
        None, "Raspberry Pi 4 Model B Rev 1.4", "10000000abcdef01", None
    )


def test_no_dmi_and_no_device_tree_means_all_unknown(tmp_path: Path) -> None:
    assert LinuxPlatform(root=tmp_path).hardware() == HardwareInfo(None, None, None, None)


# /sys/block ---------------------------------------------------------------------------


def fake_block_device(sys_block: Path, name: str, sectors: int, **files: str) -> None:
    """A /sys/block/<name> directory; ``files`` maps relative paths (``__`` for ``/``)."""
    write(sys_block / name / "size", f"{sectors}\n")
    for relative, content in files.items():
        write(sys_block / name / relative.replace("__", "/"), content)


def test_disks_come_from_sys_block_with_size_in_bytes(tmp_path: Path) -> None:
    sys_block = tmp_path / "sys/block"
    # SATA disk behind SCSI: model padded to 16 characters, no serial file, a wwid.
    fake_block_device(
        sys_block,
        "sda",
        500118192,
        device__model="Samsung SSD 860 \n",
        device__wwid="t10.ATA     Samsung SSD 860 EVO S3Z9NB0K\n",
        queue__rotational="0\n",
    )
    fake_block_device(
        sys_block,
        "nvme0n1",
        1000215216,
        device__model="WD Blue SN570 1TB\n",
        device__serial="  22134Y800123  \n",
        wwid="eui.e8238fa6bf530001001b448b4e4f1c2d\n",
        queue__rotational="0\n",
    )
    fake_block_device(sys_block, "vda", 20971520, device__vendor="0x1af4", serial="vol-01\n")
    fake_block_device(
        sys_block, "sdb", 1953525168, device__model="ST2000DM008\n", queue__rotational="1"
    )
    disks = read_block_devices(sys_block)
    assert disks == [
        Disk("nvme0n1", 1000215216 * 512, "WD Blue SN570 1TB", "22134Y800123", False),
        Disk(
            "sda",
            500118192 * 512,
            "Samsung SSD 860",
            "t10.ATA     Samsung SSD 860 EVO S3Z9NB0K",
            False,
        ),
        Disk("sdb", 1953525168 * 512, "ST2000DM008", None, True),
        Disk("vda", 20971520 * 512, None, "vol-01", None),
    ]


def test_loop_ram_zram_and_device_mapper_are_not_disks(tmp_path: Path) -> None:
    sys_block = tmp_path / "sys/block"
    for name in ("loop0", "ram0", "zram0"):
        # Even with a device link, these prefixes are virtual.
        fake_block_device(sys_block, name, 1024, device__uevent="")
    fake_block_device(sys_block, "dm-0", 2048)  # LVM volume: no device link
    fake_block_device(sys_block, "md127", 4096)  # md RAID: no device link
    fake_block_device(sys_block, "sda", 8, device__model="disk\n")
    assert [disk.name for disk in read_block_devices(sys_block)] == ["sda"]


def test_unreadable_size_is_zero_not_an_error(tmp_path: Path) -> None:
    sys_block = tmp_path / "sys/block"
    fake_block_device(sys_block, "sr0", 0, device__model="DVD-RW\n")
    (sys_block / "sr0" / "size").write_text("garbage\n")
    assert read_block_devices(sys_block)[0].size_bytes == 0


def test_missing_sys_block_means_no_disks(tmp_path: Path) -> None:
    assert read_block_devices(tmp_path / "nope") == []


# dpkg and rpm -------------------------------------------------------------------------

DPKG_OUTPUT = (
    "installed\tadduser\t3.134\tall\n"
    "installed\topenssl\t3.0.15-1~deb12u1\tamd64\n"
    "installed\tlibc6\t2.36-9+deb12u9\ti386\n"
    "config-files\told-thing\t1.0\tamd64\n"  # removed, configuration left: not installed
    "not-installed\tpurged\t\tamd64\n"
    "half-configured\tbroken-pkg\t2.0\tamd64\n"  # files on disk: still installed software
    "garbage line without tabs\n"
    "installed\t\t1.0\tamd64\n"
)


def test_dpkg_output_becomes_installed_packages_only() -> None:
    assert parse_dpkg(DPKG_OUTPUT) == [
        SoftwarePackage("adduser", "3.134", "all", "dpkg"),
        SoftwarePackage("openssl", "3.0.15-1~deb12u1", "amd64", "dpkg"),
        SoftwarePackage("libc6", "2.36-9+deb12u9", "i386", "dpkg"),
        SoftwarePackage("broken-pkg", "2.0", "amd64", "dpkg"),
    ]


def test_rpm_output_keeps_epochs_and_treats_none_arch_as_unknown() -> None:
    output = (
        "bash\t5.2.26-3.fc40\tx86_64\n"
        "openssl\t1:3.2.2-3.fc40\tx86_64\n"
        "gpg-pubkey\ta15b79cc-63d04c2c\t(none)\n"
        "bad line\n"
    )
    assert parse_rpm(output) == [
        SoftwarePackage("bash", "5.2.26-3.fc40", "x86_64", "rpm"),
        SoftwarePackage("openssl", "1:3.2.2-3.fc40", "x86_64", "rpm"),
        SoftwarePackage("gpg-pubkey", "a15b79cc-63d04c2c", None, "rpm"),
    ]


def test_software_merges_the_managers_that_are_installed(tmp_path: Path) -> None:
    calls: list[str] = []

    def run(argv: list[str]) -> str | None:
        calls.append(argv[0])
        return {"dpkg-query": "installed\tcurl\t7.88\tamd64\n", "rpm": None}[argv[0]]

    packages = LinuxPlatform(root=tmp_path, run=run).installed_software()
    assert packages == [SoftwarePackage("curl", "7.88", "amd64", "dpkg")]
    assert calls == ["dpkg-query", "rpm"]


def test_a_failing_manager_is_logged_and_the_other_still_reports(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def run(argv: list[str]) -> str | None:
        if argv[0] == "dpkg-query":
            raise CommandFailed("dpkg-query", "exit status 2: database locked")
        return "bash\t5.2\tx86_64\n"

    with caplog.at_level(logging.WARNING, logger="steward.agent"):
        packages = LinuxPlatform(root=tmp_path, run=run).installed_software()
    assert packages == [SoftwarePackage("bash", "5.2", "x86_64", "rpm")]
    assert "database locked" in caplog.text


def test_query_commands_are_argument_lists_with_the_documented_formats() -> None:
    assert DPKG_COMMAND[0] == "dpkg-query"
    assert DPKG_COMMAND[-1].endswith("${Package}\\t${Version}\\t${Architecture}\\n")
    assert RPM_COMMAND[0] == "rpm"
    assert "%{NAME}" in RPM_COMMAND[-1]


def test_run_command_returns_none_for_a_tool_that_is_not_installed() -> None:
    assert run_command(["steward-no-such-tool-xyz", "--version"]) is None


def test_run_command_raises_command_failed_on_nonzero_exit() -> None:
    with pytest.raises(CommandFailed, match="exit status 1"):
        run_command(["false"])


# machine id ---------------------------------------------------------------------------


def test_machine_id_comes_from_etc_machine_id(tmp_path: Path) -> None:
    write(tmp_path / "etc/machine-id", "3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    platform = LinuxPlatform(root=tmp_path)
    assert platform.machine_id(tmp_path / "state") == "3d1219c7c4c5404aaa1f6d2a48adfda4"


def test_empty_or_uninitialized_machine_id_falls_back_to_dbus(tmp_path: Path) -> None:
    write(tmp_path / "etc/machine-id", "uninitialized\n")
    write(tmp_path / "var/lib/dbus/machine-id", "0123456789abcdef0123456789abcdef\n")
    assert read_machine_id([tmp_path / "etc/machine-id", tmp_path / "var/lib/dbus/machine-id"]) == (
        "0123456789abcdef0123456789abcdef"
    )


def test_without_an_os_machine_id_one_is_generated_once_and_kept(tmp_path: Path) -> None:
    write(tmp_path / "etc/machine-id", "")
    platform = LinuxPlatform(root=tmp_path)
    state_dir = tmp_path / "state"
    first = platform.machine_id(state_dir)
    assert len(first) == 32 and int(first, 16) >= 0
    assert platform.machine_id(state_dir) == first
    assert stat.S_IMODE((state_dir / "machine-id").stat().st_mode) == 0o600
