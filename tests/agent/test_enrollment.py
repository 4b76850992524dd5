"""Enrollment against a loopback server: the request, the saved state, the secrecy."""

from __future__ import annotations

import logging
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path

import certifi
import pytest

from steward.agent.client import EnrollmentRejected
from steward.agent.enrollment import enroll, enroll_device
from steward.agent.platforms import current_platform
from steward.agent.state import StateError, load_state
from tests.agent.fake_server import CREDENTIAL, ENROLL, HEARTBEAT, FakeServer, error

TOKEN = "set_enrollment-token-abcdef"


def test_enroll_sends_the_documented_body_and_saves_the_state(tmp_path: Path) -> None:
    with FakeServer() as server:
        state = enroll(server.url + "/", TOKEN, tmp_path)
    (request,) = server.requests_to(ENROLL)
    assert "Authorization" not in request.headers
    body = request.body
    assert set(body) == {"token", "hostname", "machine_id", "agent_version", "platform", "sent_at"}
    assert body["token"] == TOKEN
    assert body["hostname"] == socket.gethostname()
    assert body["machine_id"] == current_platform().machine_id(tmp_path)
    assert body["platform"] == "linux"
    sent_at = datetime.fromisoformat(body["sent_at"])
    assert abs((datetime.now(UTC) - sent_at).total_seconds()) < 5
    assert state.device_id == 17
    assert state.credential == CREDENTIAL
    assert state.server_url == server.url  # trailing slash dropped
    assert load_state(tmp_path) == state


def test_enroll_device_reports_organization_site_and_intervals(tmp_path: Path) -> None:
    with FakeServer() as server:
        enrollment = enroll_device(server.url, TOKEN, tmp_path)
    assert (enrollment.organization, enrollment.site) == ("Acme", "HQ")
    assert (enrollment.heartbeat_interval, enrollment.inventory_interval) == (10, 3600)


def test_ca_file_is_stored_as_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Over http:// the CA is not used, but it is remembered for later https:// servers.
    monkeypatch.chdir(tmp_path)
    shutil.copy(certifi.where(), tmp_path / "ca.pem")  # any valid bundle will do
    with FakeServer() as server:
        state = enroll(server.url, TOKEN, tmp_path / "state", ca_file="ca.pem")
    assert state.ca_file == str(tmp_path / "ca.pem")


def test_a_rejected_token_saves_nothing(tmp_path: Path) -> None:
    with FakeServer() as server:
        server.routes[ENROLL] = error(401, "token_expired", "this enrollment token has expired")
        with pytest.raises(EnrollmentRejected) as caught:
            enroll(server.url, TOKEN, tmp_path)
    assert caught.value.code == "token_expired"
    assert load_state(tmp_path) is None


def test_an_unusable_state_dir_fails_before_the_token_is_spent(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with FakeServer() as server, pytest.raises(StateError):
        enroll(server.url, TOKEN, tmp_path / "a-file" / "state")
    assert server.requests == []


def test_neither_token_nor_credential_is_ever_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from steward.agent.runner import AgentRunner

    caplog.set_level(logging.DEBUG)  # everything, httpx and httpcore included
    with FakeServer() as server:
        state = enroll(server.url, TOKEN, tmp_path)
        import threading

        stop = threading.Event()
        runner = AgentRunner(state, collect=lambda: {"agent_version": "0.1.0"})
        thread = threading.Thread(target=runner.run, args=(stop,))
        thread.start()
        server.wait_for(HEARTBEAT)
        stop.set()
        thread.join(timeout=5)
    assert caplog.records, "logging was captured"
    assert TOKEN not in caplog.text
    assert CREDENTIAL not in caplog.text
    assert "sdc_" not in caplog.text
