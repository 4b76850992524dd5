"""``steward agent checks``: list what the server assigns, run one check here (``--run``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from steward.agent.checks.state_store import STATE_FILE, CheckStateStore
from steward.agent.cli import configure_parser
from steward.agent.state import AgentState, save_state
from steward.checks import CheckSpec
from tests.agent.checks_support import Listener, tcp_check
from tests.agent.fake_server import CHECKS, CREDENTIAL, Assignment, FakeServer, error, free_port


def steward_agent(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="steward agent")
    configure_parser(parser)
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def enrolled(tmp_path: Path, url: str) -> str:
    save_state(AgentState(url, 17, CREDENTIAL), tmp_path)
    return str(tmp_path)


def test_it_lists_the_assigned_checks_and_says_which_cannot_run_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeServer() as server:
        server.routes[CHECKS] = Assignment(
            tcp_check(1, 5432), {"id": 2, "type": "snmp", "target": "sw1"}, revision="9f2c"
        )
        code = steward_agent("checks", "--state-dir", enrolled(tmp_path, server.url))
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "revision 9f2c: 2 checks"
    assert out[1].split() == ["ID", "TYPE", "TARGET", "EVERY", "TIMEOUT", "HERE"]
    assert out[2].split() == ["1", "tcp", "127.0.0.1", "1", "s", "2", "s", "runs"]
    assert out[3].startswith("2   snmp  sw1")
    assert "unknown check type 'snmp'" in out[3]


def test_run_prints_one_result_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listener = Listener()
    try:
        with FakeServer() as server:
            server.routes[CHECKS] = Assignment(tcp_check(1, listener.port))
            state_dir = enrolled(tmp_path, server.url)
            code = steward_agent("checks", "--state-dir", state_dir, "--run", "1")
    finally:
        listener.close()
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["check_id"] == 1 and result["status"] == "ok"
    assert f"127.0.0.1:{listener.port} open" in result["message"]


def test_run_uses_the_agents_log_offset_without_moving_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "app.log"
    log.write_text("ERROR seen by the agent\nERROR new\n")
    check = {"id": 5, "type": "log", "target": str(log), "params": {"pattern": "ERROR"}}
    store = CheckStateStore(tmp_path / STATE_FILE)
    offset = len("ERROR seen by the agent\n")
    spec = CheckSpec.from_dict({k: v for k, v in check.items() if k != "id"})
    store.put(5, spec, {"dev": log.stat().st_dev, "inode": log.stat().st_ino, "offset": offset})
    saved = (tmp_path / STATE_FILE).read_text()
    with FakeServer() as server:
        server.routes[CHECKS] = Assignment(check)
        code = steward_agent("checks", "--state-dir", enrolled(tmp_path, server.url), "--run", "5")
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["message"] == "1 match of /ERROR/ in 1 new line; last: ERROR new"
    assert (tmp_path / STATE_FILE).read_text() == saved


def test_run_of_a_check_not_assigned_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeServer() as server:
        server.routes[CHECKS] = Assignment(tcp_check(1, 5432), tcp_check(3, 5432))
        code = steward_agent("checks", "--state-dir", enrolled(tmp_path, server.url), "--run", "2")
    assert code == 1
    assert "no check 2 is assigned to this device (assigned: 1, 3)" in capsys.readouterr().err


def test_without_the_server_it_shows_the_assignment_the_agent_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "checks.json").write_text(json.dumps({"revision": "r7", "checks": [
        tcp_check(4, 22)]}))  # fmt: skip
    code = steward_agent(
        "checks", "--state-dir", enrolled(tmp_path, f"http://127.0.0.1:{free_port()}")
    )
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.startswith("revision r7: 1 checks")
    assert "cannot reach the server" in captured.err


def test_a_revoked_device_exits_3(tmp_path: Path) -> None:
    with FakeServer() as server:
        server.routes[CHECKS] = error(403, "device_revoked", "this device was revoked")
        assert steward_agent("checks", "--state-dir", enrolled(tmp_path, server.url)) == 3


def test_not_enrolled_exits_2(tmp_path: Path) -> None:
    assert steward_agent("checks", "--state-dir", str(tmp_path)) == 2
