"""What the check-runner tests share: loopback ports a test opens and closes, and an agent
(runner + checks service) running in a thread against the fake server."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

from steward.agent.checks import ChecksService
from steward.agent.client import AgentClient
from steward.agent.runner import AgentRunner
from steward.agent.state import AgentState
from tests.agent.fake_server import CREDENTIAL, free_port

FAST_HEARTBEAT = {
    "server_time": "2026-11-29T04:30:00Z",
    "heartbeat_interval": 1,
    "inventory_interval": 3600,
    "checks_revision": "r1",
}


class Listener:
    """A service on a loopback port that the test takes down and brings back: it accepts
    and closes connections (so the accept queue never fills) while open."""

    def __init__(self) -> None:
        self.port = free_port()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.open()

    def open(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        sock.settimeout(0.05)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, args=(sock,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        if self._thread is not None:
            self._thread.join(1)

    def _accept(self, sock: socket.socket) -> None:
        while self._sock is sock:
            try:
                connection, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.close()


class Silent:
    """A port that accepts connections and never says a word: a ``tcp`` check expecting
    an answer waits there for its whole timeout (a slow check)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]

    def close(self) -> None:
        self._sock.close()


def tcp_check(check_id: int, port: int, **extra: Any) -> dict[str, Any]:
    check = {"id": check_id, "type": "tcp", "target": "127.0.0.1", "params": {"port": port},
             "interval": 1, "timeout": 2, "retries": 0}  # fmt: skip
    check.update(extra)
    return check


class Agent:
    """Runner + checks service in a thread, as ``steward agent run`` wires them."""

    def __init__(self, url: str, state_dir: Path, **service_options: Any) -> None:
        service_options.setdefault("fsync", False)
        service_options.setdefault("initial_backoff", 0.1)
        service_options.setdefault("max_backoff", 0.3)
        self.results_client = AgentClient(url, credential=CREDENTIAL)
        self.service = ChecksService(self.results_client, state_dir, **service_options)
        self.runner = AgentRunner(
            AgentState(server_url=url, device_id=17, credential=CREDENTIAL),
            collect=lambda: {"agent_version": "0.1.0", "hostname": "web-01"},
            initial_backoff=0.05,
            max_backoff=0.2,
            checks=self.service,
        )
        self.stop_event = threading.Event()
        self.exit_code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.exit_code = self.runner.run(self.stop_event)
        finally:
            self.results_client.close()

    def stop(self) -> float:
        """Stop and return how long it took."""
        started = time.monotonic()
        self.stop_event.set()
        self.thread.join(5)
        return time.monotonic() - started

    def wait(self, timeout: float = 5) -> int | None:
        self.thread.join(timeout)
        return self.exit_code
