"""``steward up`` end to end, as real processes: server, worker and agent over real HTTP.

This is the quick start's promise: one command brings up Steward with the machine it runs on
enrolled and reporting; the API client lists it; SIGTERM stops everything within 10 s; a
second run reuses the data.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ADMIN = "admin@example.test"
PASSWORD = "integration-test-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def steward(*args: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "steward", *args],
        env=env,
        timeout=timeout,
        capture_output=True,
        text=True,
        check=False,
    )


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # still starting up
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


class Up:
    def __init__(self, base_env: dict, port: int) -> None:
        home = Path(base_env["STEWARD_HOME"])
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = dict(
            base_env,
            STEWARD_ADMIN_EMAIL=ADMIN,
            STEWARD_ADMIN_PASSWORD=PASSWORD,
            STEWARD_LOG_LEVEL="warning",
            STEWARD_OFFLINE_AFTER="30",
        )
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.log = home.parent / f"up-{time.monotonic_ns()}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        handle = self.log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "steward",
                "up",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: (
                httpx.get(f"{self.url}/readyz").status_code == 200
                or self.process.poll() is not None
            ),
            90,
            "readyz",
        )
        assert self.process.poll() is None, self.log.read_text()

    def stop(self) -> float:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=15)
        return time.monotonic() - started

    def output(self) -> str:
        return self.log.read_text()


def test_up_enrolls_this_machine_and_stops_cleanly(steward_env):
    home = Path(steward_env["STEWARD_HOME"])
    up = Up(steward_env, free_port())
    up.start()
    try:
        assert f"Steward is running at {up.url}/" in wait_for(
            lambda: "Steward is running" in up.output() and up.output(), 30, "banner"
        )
        token = steward("token", "create", "--user", ADMIN, env=up.env)
        assert token.returncode == 0, token.stderr
        client_env = dict(
            up.env,
            STEWARD_URL=up.url,
            STEWARD_TOKEN=token.stdout.strip().splitlines()[-1],
            STEWARD_CLIENT_CONFIG=str(home / "client.toml"),
        )

        def local_device():
            listed = steward("devices", "list", "--json", env=client_env)
            assert listed.returncode == 0, listed.stderr
            devices = json.loads(listed.stdout)
            ready = [d for d in devices if d["status"] == "online" and d["os_name"]]
            return ready[0] if ready else None

        device = wait_for(local_device, 60, "the local device to report its inventory")
        assert device["hostname"] == socket.gethostname()
        shown = steward("devices", "show", str(device["id"]), "--json", env=client_env)
        detail = json.loads(shown.stdout)
        assert detail["inventory"]["partitions"], "partitions reported"
        assert detail["memory_bytes"] > 0
    finally:
        elapsed = up.stop()
    assert up.process.returncode == 0, up.output()
    assert elapsed < 10, f"stopping took {elapsed:.1f} s"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{up.url}/healthz", timeout=1)

    # A second run reuses the data: same admin, same single device, no new enrollment.
    again = Up(steward_env, free_port())
    again.start()
    try:
        response = httpx.post(
            f"{again.url}/api/v1/auth/token", json={"email": ADMIN, "password": PASSWORD}
        )
        assert response.status_code == 201
        headers = {"Authorization": f"Bearer {response.json()['token']}"}

        def same_device_online():
            devices = httpx.get(f"{again.url}/api/v1/devices", headers=headers).json()
            return (
                devices["count"] == 1
                and devices["items"][0]["status"] == "online"
                and devices["items"][0]
            )

        back = wait_for(same_device_online, 60, "the device to come back")
        assert back["id"] == device["id"]
        assert "Password:" not in again.output()
    finally:
        again.stop()
