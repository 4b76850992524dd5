"""The agent against a real server over HTTPS: enrollment, reporting, revocation.

Everything here crosses real sockets: ``steward serve`` with a self-signed certificate,
the agent as its own process verifying that certificate, the API client over httpx.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time

import httpx
import pytest

from tests.integration.test_up import free_port, steward, wait_for

pytestmark = pytest.mark.slow

ADMIN = "root@msp.test"
PASSWORD = "https-test-password"


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def server(tmp_path, certificate, steward_env):
    cert, key = certificate
    port = free_port()
    env = dict(
        steward_env, STEWARD_TLS_CERT=str(cert), STEWARD_TLS_KEY=str(key), STEWARD_PORT=str(port)
    )
    assert steward("migrate", env=env).returncode == 0
    created = steward(
        "user", "create", "--email", ADMIN, "--password", PASSWORD, "--superuser", env=env
    )
    assert created.returncode == 0, created.stderr
    token = steward("token", "create", "--user", ADMIN, env=env).stdout.strip().splitlines()[-1]
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "steward", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"https://127.0.0.1:{port}"
    http = httpx.Client(
        base_url=f"{url}/api/v1",
        verify=ssl.create_default_context(cafile=str(cert)),
        headers={"Authorization": f"Bearer {token}"},
    )
    wait_for(lambda: http.get(f"{url}/readyz").status_code == 200, 60, "readyz over TLS")
    yield url, http, cert
    process.terminate()
    process.wait(10)


def make_enrollment_token(http: httpx.Client, **extra) -> str:
    org = http.post("/orgs", json={"name": "Acme"}).json()
    site = http.post("/sites", json={"organization_id": org["id"], "name": "HQ"}).json()
    created = http.post("/enrollment-tokens", json={"site_id": site["id"], "name": "t", **extra})
    assert created.status_code == 201, created.text
    return created.json()["token"]


def test_agent_enrolls_reports_and_stops_when_revoked(server, tmp_path):
    url, http, cert = server
    secret = make_enrollment_token(http)
    state = tmp_path / "agent-state"
    env = dict(os.environ)
    enrolled = steward(
        "agent",
        "enroll",
        "--server",
        url,
        "--token",
        secret,
        "--state-dir",
        str(state),
        "--ca",
        str(cert),
        env=env,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    assert (state / "agent.json").stat().st_mode & 0o777 == 0o600
    assert secret not in (state / "agent.json").read_text()

    agent = subprocess.Popen(
        [sys.executable, "-m", "steward", "agent", "run", "--state-dir", str(state)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        device = wait_for(
            lambda: [d for d in http.get("/devices").json()["items"] if d["os_name"]],
            60,
            "inventory",
        )[0]
        assert device["status"] == "online"
        software = http.get(f"/devices/{device['id']}/software").json()
        if os.path.exists("/usr/bin/dpkg-query"):
            assert software["count"] > 10

        assert http.post(f"/devices/{device['id']}/revoke").status_code == 200
        started = time.monotonic()
        code = agent.wait(timeout=30)  # the next heartbeat (10 s) learns of the revocation
        assert code == 3, agent.stdout.read()
        assert time.monotonic() - started < 30
    finally:
        if agent.poll() is None:
            agent.kill()


def test_bad_enrollment_tokens_are_refused_with_a_message(server, tmp_path):
    url, _, cert = server
    result = steward(
        "agent",
        "enroll",
        "--server",
        url,
        "--token",
        "set_wrong",
        "--state-dir",
        str(tmp_path / "s"),
        "--ca",
        str(cert),
        env=dict(os.environ),
    )
    assert result.returncode != 0
    assert "unknown enrollment token" in result.stderr
    assert not (tmp_path / "s" / "agent.json").exists()


def test_agent_refuses_a_server_it_cannot_verify(server, tmp_path):
    url, http, _ = server
    secret = make_enrollment_token(http)
    result = steward(
        "agent",
        "enroll",
        "--server",
        url,
        "--token",
        secret,
        "--state-dir",
        str(tmp_path / "s"),
        env=dict(os.environ),
    )
    assert result.returncode != 0
    assert http.get("/devices").json()["count"] == 0


def test_enrollment_token_can_come_from_the_environment(server, tmp_path):
    url, http, cert = server
    secret = make_enrollment_token(http)
    env = dict(os.environ, STEWARD_AGENT_TOKEN=secret)
    result = steward(
        "agent",
        "enroll",
        "--server",
        url,
        "--state-dir",
        str(tmp_path / "s"),
        "--ca",
        str(cert),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert http.get("/devices").json()["count"] == 1
