"""``steward agent ...`` as a user types it: parser, messages, exit statuses, signals."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import steward.agent
from steward.agent.cli import NOT_ENROLLED_MESSAGE, configure_parser, run_command
from steward.agent.state import AgentState, load_state, save_state
from tests.agent.fake_server import ENROLL, HEARTBEAT, FakeServer, error, free_port

TOKEN = "set_enrollment-token-abcdef"


def steward_agent(*argv: str) -> int:
    """Parse and dispatch like ``steward agent <argv>``."""
    parser = argparse.ArgumentParser(prog="steward agent")
    configure_parser(parser)
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_bare_steward_agent_means_run() -> None:
    parser = argparse.ArgumentParser(prog="steward agent")
    configure_parser(parser)
    args = parser.parse_args([])
    assert args.func is run_command
    assert args.state_dir is None


def test_run_without_enrollment_says_how_to_enroll_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert steward_agent("run", "--state-dir", str(tmp_path)) == 2
    assert capsys.readouterr().err.strip() == NOT_ENROLLED_MESSAGE
    assert NOT_ENROLLED_MESSAGE == (
        "this agent is not enrolled: run `steward agent enroll --server URL --token TOKEN`"
    )


def test_bare_command_uses_the_state_dir_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_AGENT_STATE_DIR", str(tmp_path))
    assert steward_agent() == 2


def test_run_with_a_corrupted_state_file_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "agent.json").write_text("{")
    assert steward_agent("run", "--state-dir", str(tmp_path)) == 1
    assert "malformed" in capsys.readouterr().err


def test_enroll_prints_where_the_device_landed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeServer() as server:
        code = steward_agent(
            "enroll", "--server", server.url, "--token", TOKEN, "--state-dir", str(tmp_path)
        )
    assert code == 0
    assert capsys.readouterr().out == "enrolled as device 17 in Acme / HQ\n"
    assert load_state(tmp_path) is not None


def test_enroll_refused_prints_the_servers_message_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeServer() as server:
        server.routes[ENROLL] = error(401, "token_exhausted", "this token has no uses left")
        code = steward_agent(
            "enroll", "--server", server.url, "--token", TOKEN, "--state-dir", str(tmp_path)
        )
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert "this token has no uses left (token_exhausted)" in captured.err
    assert TOKEN not in captured.err


def test_enroll_with_the_server_down_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert (
        steward_agent("enroll", "--server", url, "--token", TOKEN, "--state-dir", str(tmp_path))
        == 1
    )
    assert "cannot reach the server" in capsys.readouterr().err


def test_enroll_with_a_malformed_url_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        steward_agent(
            "enroll", "--server", "steward.example", "--token", TOKEN, "--state-dir", str(tmp_path)
        )
        == 1
    )
    assert "http://" in capsys.readouterr().err


def test_enroll_with_a_missing_ca_file_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = steward_agent(
        "enroll",
        "--server",
        "https://steward.example",
        "--token",
        TOKEN,
        "--state-dir",
        str(tmp_path),
        "--ca",
        str(tmp_path / "missing.pem"),
    )
    assert code == 1
    assert "missing.pem" in capsys.readouterr().err


def test_inventory_prints_the_report_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert steward_agent("inventory") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["os"]["family"] == "linux"
    assert "software" in report


def test_inventory_section_prints_only_that_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert steward_agent("inventory", "--section", "memory") == 0
    assert set(json.loads(capsys.readouterr().out)) == {"total_bytes", "swap_total_bytes"}


def test_inventory_refuses_an_unknown_section(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        steward_agent("inventory", "--section", "nonsense")
    assert caught.value.code == 2


def test_sigterm_stops_a_running_agent_cleanly(tmp_path: Path) -> None:
    """A real process, as systemd runs it: SIGTERM ends it with status 0 within ~1 s."""
    src = str(Path(steward.agent.__file__).parents[2])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with FakeServer() as server:
        server.routes[HEARTBEAT].body["heartbeat_interval"] = 600  # type: ignore[union-attr]
        save_state(AgentState(server.url, 17, "sdc_x"), tmp_path)
        process = subprocess.Popen(
            [sys.executable, "-m", "steward.agent", "run", "--state-dir", str(tmp_path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            server.wait_for(HEARTBEAT, timeout=15)  # a full inventory runs first
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=5)
        finally:
            if process.poll() is None:
                process.kill()
    assert code == 0
    assert time.monotonic() - sent < 2
    assert process.stderr is not None
    assert b"received SIGTERM; stopping" in process.stderr.read()
