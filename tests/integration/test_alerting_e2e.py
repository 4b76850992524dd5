"""The alerting promise end to end, as real processes.

A fresh ``steward up`` (server, worker, local agent), a process check applied from a YAML
file with ``steward apply``, an email channel pointing at a real SMTP server on loopback.
Killing the watched process sends exactly one "firing" email; starting it again sends
exactly one "resolved" email.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid

import pytest
from aiosmtpd.controller import Controller

from tests.integration.test_up import Up, free_port, steward, wait_for

pytestmark = pytest.mark.slow


class Inbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


@pytest.fixture
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def subjects(inbox: Inbox) -> list[str]:
    found = []
    for message in inbox.messages:
        for line in message.splitlines():
            if line.lower().startswith("subject:"):
                found.append(line.split(":", 1)[1].strip())
                break
    return found


def test_killing_a_watched_process_sends_one_alert_and_one_resolution(steward_env, inbox, tmp_path):
    handler, smtp_port = inbox
    # A uniquely named copy of sleep, so no other process on the machine matches.
    name = f"stw{uuid.uuid4().hex[:8]}"
    binary = tmp_path / name
    shutil.copy("/bin/sleep", binary)
    watched = subprocess.Popen([str(binary), "3600"])

    up = Up(steward_env, free_port())
    up.start()
    try:
        config = tmp_path / "monitoring.yaml"
        config.write_text(
            f"""
channels:
  - name: ops-mail
    kind: email
    config:
      host: 127.0.0.1
      port: {smtp_port}
      security: none
      from_address: steward@example.test
      to: [ops@example.test]
checks:
  - name: watched process
    device: {socket.gethostname()}
    type: process
    target: {name}
    params: {{match: name}}
    interval: 1s
    notify: [ops-mail]
"""
        )
        applied = steward("apply", "-f", str(config), "--local", env=up.env)
        assert applied.returncode == 0, applied.stdout + applied.stderr

        def check_ok():
            listed = steward("checks", "list", "--json", "--local", env=up.env)
            return '"ok"' in listed.stdout and listed.stdout

        wait_for(check_ok, 60, "the agent to run the check and report ok")
        assert handler.messages == []

        watched.kill()
        watched.wait()
        wait_for(lambda: len(handler.messages) >= 1, 30, "the firing email")
        time.sleep(3)  # anything else would have arrived by now
        assert len(handler.messages) == 1, subjects(handler)
        assert name in handler.messages[0] or "watched process" in handler.messages[0]

        watched = subprocess.Popen([str(binary), "3600"])
        wait_for(lambda: len(handler.messages) >= 2, 30, "the resolved email")
        time.sleep(3)
        assert len(handler.messages) == 2, subjects(handler)
        assert "resolved" in handler.messages[1].lower()
    finally:
        watched.kill()
        up.stop()
