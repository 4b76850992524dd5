"""The enrollment state file: private (0600 in a 0700 directory), atomic, round-trips."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from steward.agent import state as state_module
from steward.agent.state import (
    STATE_DIR_ENV,
    AgentState,
    StateError,
    default_state_dir,
    load_state,
    save_state,
)

STATE = AgentState(
    server_url="https://steward.example",
    device_id=17,
    credential="sdc_secret-credential",
    ca_file="/etc/ssl/private-ca.pem",
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_round_trips(tmp_path: Path) -> None:
    save_state(STATE, tmp_path)
    assert load_state(tmp_path) == STATE


def test_state_file_is_0600_in_a_new_0700_directory(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual umask would give 0755 / 0644
    try:
        state_dir = tmp_path / "var" / "steward-agent"
        path = save_state(STATE, state_dir)
    finally:
        os.umask(old_umask)
    assert path == state_dir / "agent.json"
    assert mode(path) == 0o600
    assert mode(state_dir) == 0o700


def test_rewriting_replaces_a_too_open_file_with_a_0600_one(tmp_path: Path) -> None:
    (tmp_path / "agent.json").write_text("{}")
    os.chmod(tmp_path / "agent.json", 0o644)
    save_state(STATE, tmp_path)
    assert mode(tmp_path / "agent.json") == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["agent.json"]  # no temporary left


def test_file_holds_exactly_the_documented_fields(tmp_path: Path) -> None:
    save_state(STATE, tmp_path)
    data = json.loads((tmp_path / "agent.json").read_text())
    assert data == {
        "server_url": "https://steward.example",
        "device_id": 17,
        "credential": "sdc_secret-credential",
        "ca_file": "/etc/ssl/private-ca.pem",
    }


def test_a_never_enrolled_agent_has_no_state(tmp_path: Path) -> None:
    assert load_state(tmp_path) is None
    assert load_state(tmp_path / "missing") is None


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"server_url": "x"}',
        '{"server_url": "", "device_id": 1, "credential": "c"}',
    ],
)
def test_a_corrupted_state_file_is_an_error_not_a_fresh_agent(tmp_path: Path, content: str) -> None:
    (tmp_path / "agent.json").write_text(content)
    with pytest.raises(StateError):
        load_state(tmp_path)


def test_the_credential_never_shows_in_repr() -> None:
    assert "sdc_secret-credential" not in repr(STATE)
    assert "device_id=17" in repr(STATE)


def test_state_dir_cannot_be_created_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(StateError, match="cannot create"):
        save_state(STATE, tmp_path / "a-file" / "state")


def test_environment_overrides_the_state_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path))
    assert default_state_dir() == tmp_path


def test_root_uses_the_system_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)
    monkeypatch.setattr(state_module.os, "geteuid", lambda: 0)
    assert default_state_dir() == Path("/var/lib/steward-agent")


def test_an_ordinary_user_uses_their_own_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)
    monkeypatch.setattr(state_module.os, "geteuid", lambda: 1000)
    assert default_state_dir().name == "steward-agent"
    assert default_state_dir() != Path("/var/lib/steward-agent")
