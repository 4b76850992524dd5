"""The nagios check: Debian's monitoring-plugins as-is, and tiny plugins for perfdata edges."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import psutil
import pytest

from steward.checks import Metric, Range, Status
from steward.checks.perfdata import parse_perfdata, parse_plugin_output

from .conftest import check

PLUGINS = Path("/usr/lib/nagios/plugins")
needs_plugins = pytest.mark.skipif(
    not (PLUGINS / "check_dummy").exists(),
    reason="Debian's monitoring-plugins are not installed (apt-get install monitoring-plugins)",
)


def plugin(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


# --- Debian's monitoring-plugins -------------------------------------------------------


@needs_plugins
@pytest.mark.parametrize(
    ("code", "status"),
    [(0, Status.OK), (1, Status.WARNING), (2, Status.CRITICAL), (3, Status.UNKNOWN)],
)
def test_check_dummy_exit_codes_map_to_statuses(code: int, status: Status) -> None:
    result = check("nagios", str(PLUGINS / "check_dummy"), args=[str(code), "hello steward"])
    assert result.status is status
    assert result.message == f"{status.name}: hello steward"


@needs_plugins
def test_check_tcp_against_a_loopback_listener(open_port: int, closed_port: int) -> None:
    target = str(PLUGINS / "check_tcp")
    up = check("nagios", target, args=["-H", "127.0.0.1", "-p", str(open_port)])
    assert up.status is Status.OK, up.message
    assert up.perfdata[0].name == "time" and up.perfdata[0].unit == "s"
    down = check("nagios", target, args=["-H", "127.0.0.1", "-p", str(closed_port)])
    assert down.status is Status.CRITICAL
    assert "Connection refused" in down.message


@needs_plugins
def test_check_http_against_the_loopback_server(http_base: str) -> None:
    port = http_base.rsplit(":", 1)[1]
    args = ["-H", "127.0.0.1", "-p", port, "-u", "/ok", "-s", "steward ok"]
    result = check("nagios", str(PLUGINS / "check_http"), args=args)
    assert result.status is Status.OK, result.message
    assert {m.name for m in result.perfdata} >= {"time", "size"}


@needs_plugins
def test_check_disk_perfdata_is_typed() -> None:
    result = check("nagios", str(PLUGINS / "check_disk"), args=["-w", "0%", "-c", "0%", "-p", "/"])
    assert result.status is Status.OK, result.message
    root = next(m for m in result.perfdata if m.name == "/")
    assert root.unit in ("B", "MB", "KB", "GB")
    assert root.min == 0 and root.max is not None and root.value is not None
    assert root.value <= root.max


@needs_plugins
def test_check_procs_counts_processes() -> None:
    result = check("nagios", str(PLUGINS / "check_procs"), args=["-w", "1:100000"])
    assert result.status is Status.OK, result.message
    procs = result.perfdata[0]
    assert procs.name == "procs" and procs.warn == Range(1.0, 100000.0)


# --- own plugins -----------------------------------------------------------------------


def test_quoted_labels_units_and_empty_thresholds(tmp_path: Path) -> None:
    script = plugin(
        tmp_path,
        "check_edge",
        "echo \"EDGE OK - all fine | 'free space /var'=42%;80;90;0;100 'it''s'=1c "
        'time=0.25s;;;0 size=12B;;;; mem=3.5MB;4;5 disk=100KB load=U"\nexit 0\n',
    )
    result = check("nagios", script)
    assert result.status is Status.OK
    assert result.message == "EDGE OK - all fine"
    by_name = {m.name: m for m in result.perfdata}
    assert by_name["free space /var"] == Metric(
        "free space /var", 42.0, "%", Range.parse("80"), Range.parse("90"), 0.0, 100.0
    )
    assert by_name["it's"].unit == "c"
    assert by_name["time"] == Metric("time", 0.25, "s", None, None, 0.0, None)
    assert by_name["size"] == Metric("size", 12.0, "B")
    assert by_name["mem"].warn == Range(0.0, 4.0) and by_name["mem"].unit == "MB"
    assert by_name["disk"].unit == "KB"
    assert by_name["load"].value is None


def test_multi_line_output_with_perfdata_on_later_lines(tmp_path: Path) -> None:
    script = plugin(
        tmp_path,
        "check_multi",
        "printf 'DISK WARNING - /var is filling | /=2643MB;5948;5958;0;5968\\n"
        "/ 15272 MB (77%%);\\n/boot 68 MB (69%%);\\n/var 5128 MB (93%%) | /boot=68MB;88;93;0;98\\n"
        "/home=69357MB;253404;253409;0;253414\\n/var=5128MB;5200;5280;0;5300\\n'\nexit 1\n",
    )
    result = check("nagios", script)
    assert result.status is Status.WARNING
    assert result.message == "DISK WARNING - /var is filling"
    assert [m.name for m in result.perfdata] == ["/", "/boot", "/home", "/var"]
    assert result.details.splitlines() == [
        "/ 15272 MB (77%);",
        "/boot 68 MB (69%);",
        "/var 5128 MB (93%)",
    ]


def test_exit_code_outside_nagios_range_is_unknown(tmp_path: Path) -> None:
    result = check("nagios", plugin(tmp_path, "check_broken", "echo oops\nexit 42\n"))
    assert result.status is Status.UNKNOWN
    assert result.message == "plugin exited with code 42: oops"


def test_plugin_timeout_kills_the_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    script = plugin(tmp_path, "check_hang", f"sleep 30 &\necho $! > {marker}\nwait\n")
    result = check("nagios", script, timeout=0.5)
    assert result.status is Status.UNKNOWN
    assert "timed out after 0.5 s" in result.message
    child = int(marker.read_text())
    # Killed; it may linger as a zombie until init reaps it, but it no longer runs.
    with contextlib.suppress(psutil.NoSuchProcess):
        assert psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_missing_or_not_executable_plugin_is_unknown(tmp_path: Path) -> None:
    assert check("nagios", str(tmp_path / "nope")).status is Status.UNKNOWN
    script = tmp_path / "check_noexec"
    script.write_text("#!/bin/sh\nexit 0\n")
    result = check("nagios", str(script))
    assert result.status is Status.UNKNOWN and "not executable" in result.message


def test_plugin_gets_a_c_locale_and_extra_environment(tmp_path: Path) -> None:
    script = plugin(tmp_path, "check_env", 'echo "LC_ALL=$LC_ALL SITE=$SITE"\n')
    result = check("nagios", script, env={"SITE": "lab"})
    assert result.message == "LC_ALL=C SITE=lab"


def test_relative_plugin_path_is_rejected() -> None:
    result = check("nagios", "check_dummy")
    assert result.status is Status.UNKNOWN
    assert "target: must be an absolute path" in result.message


# --- parser units ----------------------------------------------------------------------


def test_malformed_items_are_reported_not_fatal() -> None:
    metrics, errors = parse_perfdata("good=1 bad=abc nolabel 'open=3")
    assert [m.name for m in metrics] == ["good"]
    assert len(errors) == 3


def test_decimal_commas_and_negative_values() -> None:
    metrics, errors = parse_perfdata("temp=-3,5;10:;~:40 rate=1e3c")
    assert errors == []
    assert metrics[0].value == -3.5 and metrics[0].warn == Range(10.0, None)
    assert metrics[0].crit == Range(None, 40.0)
    assert metrics[1].value == 1000.0


def test_output_without_perfdata() -> None:
    parsed = parse_plugin_output("PING OK - Packet loss = 0%\n")
    assert parsed.message == "PING OK - Packet loss = 0%" and parsed.perfdata == ()


def test_socket_module_is_real() -> None:
    # Guard: the loopback targets above rely on the real socket module, not a mock.
    assert socket.socket.__module__ == "socket"
