"""process, service, disk and log checks against the real host."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from steward.checks import CheckResult, CheckSpec, Status, run
from steward.checks.service import ServiceStatus, evaluate_service, parse_systemctl_show

from .conftest import check

# --- process ---------------------------------------------------------------------------


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "37.5"])
    yield proc
    proc.kill()
    proc.wait()


def test_process_by_name_finds_a_running_sleep(sleeper: subprocess.Popen[bytes]) -> None:
    result = check("process", "sleep")
    assert result.status is Status.OK, result.message
    assert str(sleeper.pid) in result.message or (result.perfdata[0].value or 0) > 5


def test_missing_process_is_critical() -> None:
    result = check("process", "steward-no-such-daemon")
    assert result.status is Status.CRITICAL
    assert "0 processes" in result.message and "expected at least 1" in result.message


def test_process_by_cmdline_regex(sleeper: subprocess.Popen[bytes]) -> None:
    result = check("process", r"^sleep 37\.5$", match="cmdline", max_count=1)
    assert result.status is Status.OK, result.message
    assert f"pid {sleeper.pid}" in result.message


def test_process_count_above_max_is_critical(sleeper: subprocess.Popen[bytes]) -> None:
    second = subprocess.Popen(["sleep", "37.5"])
    try:
        result = check("process", r"^sleep 37\.5$", match="cmdline", max_count=1)
    finally:
        second.kill()
        second.wait()
    assert result.status is Status.CRITICAL
    assert "expected at most 1" in result.message


def test_process_by_pid_file_of_this_test_process(tmp_path: Path) -> None:
    pidfile = tmp_path / "me.pid"
    pidfile.write_text(f"{os.getpid()}\n")
    assert check("process", str(pidfile), match="pidfile").status is Status.OK


def test_process_stale_pid_file_is_critical(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    pidfile = tmp_path / "stale.pid"
    pidfile.write_text(str(dead.pid))
    result = check("process", str(pidfile), match="pidfile")
    assert result.status is Status.CRITICAL
    assert "stale pid file" in result.message
    missing = check("process", str(tmp_path / "none.pid"), match="pidfile")
    assert missing.status is Status.CRITICAL and "does not exist" in missing.message


def test_process_count_matches_psutil_for_this_interpreter() -> None:
    name = psutil.Process().name()
    expected = sum(1 for p in psutil.process_iter(["name"]) if p.info["name"] == name)
    result = check("process", name, min_count=1)
    assert result.status is Status.OK
    assert (result.perfdata[0].value or 0) >= expected


# --- service ---------------------------------------------------------------------------

# Recorded with systemd 252 (Debian 12): `systemctl show -p LoadState,ActiveState,SubState,
# Result <unit>` for a running, a failed, a missing and a finished oneshot unit.
RUNNING = "LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\n"
FAILED = "Result=exit-code\nLoadState=loaded\nActiveState=failed\nSubState=failed\n"
MISSING = "LoadState=not-found\nActiveState=inactive\nSubState=dead\nResult=success\n"
ONESHOT_DONE = "LoadState=loaded\nActiveState=inactive\nSubState=dead\nResult=success\n"
STARTING = "LoadState=loaded\nActiveState=activating\nSubState=start\nResult=success\n"


@pytest.mark.parametrize(
    ("output", "expected", "status", "text"),
    [
        (RUNNING, ["active"], Status.OK, "nginx.service is active (running)"),
        (FAILED, ["active"], Status.CRITICAL, "failed (failed), last result exit-code"),
        (MISSING, ["active"], Status.CRITICAL, "no such service"),
        (ONESHOT_DONE, ["active"], Status.CRITICAL, "expected active"),
        (ONESHOT_DONE, ["active", "inactive"], Status.OK, "inactive (dead)"),
        (STARTING, ["active"], Status.WARNING, "activating (start)"),
    ],
)
def test_service_verdict_from_recorded_systemctl_output(
    output: str, expected: list[str], status: Status, text: str
) -> None:
    result = evaluate_service(parse_systemctl_show("nginx.service", output), expected)
    assert result.status is status
    assert text in result.message


def test_service_parser_reads_key_value_lines() -> None:
    assert parse_systemctl_show("x", RUNNING) == ServiceStatus(
        "x", True, "active", "running", "success"
    )


def _systemd_usable() -> bool:
    if shutil.which("systemctl") is None:
        return False
    probe = subprocess.run(["systemctl", "show", "-p", "Version"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(
    not _systemd_usable(), reason="systemctl is not usable here (no systemd as PID 1)"
)
def test_service_live_against_systemd() -> None:
    assert check("service", "steward-no-such-unit.service").status is Status.CRITICAL


def test_service_without_systemd_is_unknown_not_ok() -> None:
    if _systemd_usable():
        pytest.skip("systemd is usable here; the refusal path needs a host without it")
    result = check("service", "cron.service")
    assert result.status is Status.UNKNOWN


def test_service_on_a_platform_without_backend_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    result = check("service", "Spooler")
    assert result.status is Status.UNKNOWN
    assert "not implemented on win32" in result.message


# --- disk ------------------------------------------------------------------------------


@pytest.mark.parametrize("mount", ["/", "/tmp"])
def test_disk_free_space_matches_df(mount: str) -> None:
    result = check("disk", mount, warn_free_pct=0.0, crit_free_pct=0.0)
    assert result.status is Status.OK, result.message
    metrics = {m.name: m for m in result.perfdata}
    df = subprocess.run(["df", "-P", "-B1", mount], capture_output=True, text=True, check=True)
    available = int(df.stdout.splitlines()[1].split()[3])
    # Another process may write between the two reads: allow 64 MiB of drift.
    assert abs((metrics["free"].value or 0) - available) < 64 * 1024 * 1024
    assert 0 <= (metrics["free_pct"].value or 0) <= 100


def test_disk_thresholds_warn_and_crit() -> None:
    assert check("disk", "/", warn_free_pct=100.0, crit_free_pct=0.0).status is Status.WARNING
    assert check("disk", "/", warn_free_pct=100.0, crit_free_pct=100.0).status is Status.CRITICAL
    huge = 2**62
    byte_check = check("disk", "/tmp", warn_free_pct=0.0, crit_free_pct=0.0, crit_free_bytes=huge)
    assert byte_check.status is Status.CRITICAL


def test_disk_inode_thresholds() -> None:
    result = check("disk", "/", warn_free_pct=0.0, crit_free_pct=0.0, crit_inodes_pct=100.0)
    if not any(m.name == "inodes_free_pct" for m in result.perfdata):
        pytest.skip("the root file system reports no inode counts")
    assert result.status is Status.CRITICAL


# --- log -------------------------------------------------------------------------------


def _log(path: Path, state: dict | None, **params: object) -> CheckResult:
    spec = CheckSpec(type="log", target=str(path), params={"pattern": "ERROR", **params})
    return run(spec, state)


def _append(path: Path, *lines: str) -> None:
    with path.open("a") as handle:
        handle.writelines(line + "\n" for line in lines)


def test_log_first_run_starts_at_the_end(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "ERROR old news")
    first = _log(log, None)
    assert first.status is Status.OK
    assert first.state is not None and first.state["offset"] == log.stat().st_size
    _append(log, "INFO fine", "ERROR disk full", "ERROR disk still full")
    second = _log(log, first.state, crit_count=3)
    assert second.status is Status.WARNING
    assert "2 matches" in second.message and "last: ERROR disk still full" in second.message
    third = _log(log, second.state)
    assert third.status is Status.OK and "0 matches" in third.message


def test_log_first_run_from_start_counts_history(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "ERROR a", "ERROR b", "error c")
    result = _log(log, None, first_run="start", case_sensitive=False, crit_count=3)
    assert result.status is Status.CRITICAL
    assert result.perfdata[0].value == 3


def test_log_partial_line_is_counted_once_when_complete(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    state = _log(log, None).state
    with log.open("a") as handle:
        handle.write("ERROR half a li")
    partial = _log(log, state)
    assert partial.perfdata[0].value == 0
    with log.open("a") as handle:
        handle.write("ne\n")
    whole = _log(log, partial.state)
    assert whole.perfdata[0].value == 1 and "ERROR half a line" in whole.message


def test_log_rotation_by_rename_reads_the_rest_of_the_old_file(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "boot")
    state = _log(log, None).state
    _append(log, "ERROR before rotation")
    log.rename(tmp_path / "app.log.1")
    _append(log, "ERROR after rotation", "INFO ok")
    result = _log(log, state)
    assert result.perfdata[0].value == 2, result.message
    assert "rotated; finished app.log.1" in result.message
    assert result.state is not None and result.state["inode"] == log.stat().st_ino


def test_log_rotation_with_the_old_file_gone(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "boot")
    state = _log(log, None).state
    log.unlink()
    _append(log, "ERROR fresh file")
    result = _log(log, state)
    assert result.perfdata[0].value == 1, result.message
    # Either a new inode (rotation, old file gone) or the same one reused by the kernel.
    assert "previous file not found" in result.message or "replaced" in result.message


def test_log_truncation_restarts_from_the_beginning(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "INFO " + "x" * 200, "INFO more")
    state = _log(log, None).state
    log.write_text("")  # copytruncate
    _append(log, "ERROR after truncate")
    result = _log(log, state)
    assert result.perfdata[0].value == 1
    assert "truncated" in result.message


def test_log_ignore_pattern_and_missing_file(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "ERROR real", "ERROR expected in tests")
    result = _log(log, None, first_run="start", ignore="expected")
    assert result.perfdata[0].value == 1
    gone = _log(tmp_path / "missing.log", {"offset": 5, "inode": 1, "dev": 1})
    assert gone.status is Status.UNKNOWN and gone.state == {"offset": 5, "inode": 1, "dev": 1}
