"""``steward up``: set up on first run, then run server, worker and local agent together.

Each part runs as its own child process (the same commands an operator would run
separately), so one crashing does not take the others' state with it. The parent only
supervises: it restarts a crashed worker or agent, stops everything if the web server
dies, and on SIGTERM/SIGINT stops all children within the grace period.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from steward.cli import local
from steward.cli.errors import CliError

log = logging.getLogger("steward.up")
GRACE_SECONDS = 8.0
READY_TIMEOUT = 60.0
AGENT_STOPPED_FOR_GOOD = {3, 4}  # revoked, invalid credential: restarting cannot help


@dataclass
class Child:
    name: str
    argv: list[str]
    restart: bool = True
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(self.argv, env=env)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _steward(*args: str) -> list[str]:
    return [sys.executable, "-m", "steward", *args]


def _wait_ready(base_url: str, server: Child, stop: threading.Event) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and not stop.is_set():
        if not server.alive():
            raise CliError("the web server exited during start-up (is the port in use?)")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2, verify=False).status_code == 200:  # noqa: S501 - our own server on loopback, possibly self-signed
                return
        except httpx.HTTPError:
            pass
        stop.wait(0.2)
    if not stop.is_set():
        raise CliError(f"the web server did not become ready within {READY_TIMEOUT:.0f} s")


def run(args: argparse.Namespace) -> int:
    config = local.setup_django()
    from django.core.management import call_command

    # httpx logs every request at INFO: the readiness polling would fill the terminal.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    from steward.server import bootstrap

    host = args.host or config.host
    port = args.port or config.port
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    scheme = "https" if config.tls_cert else "http"
    base_url = config.public_url.rstrip("/") or f"{scheme}://{shown_host}:{port}"
    agent_dir = None if args.no_agent else config.home / "agent"

    call_command("migrate", interactive=False, verbosity=0)
    first = bootstrap.first_run(agent_dir)

    env = dict(
        os.environ,
        STEWARD_HOME=str(config.home),
        STEWARD_HOST=host,
        STEWARD_PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    if not config.public_url:
        env["STEWARD_PUBLIC_URL"] = base_url
    children = [Child("server", _steward("serve"), restart=False)]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    children[0].start(env)
    try:
        _wait_ready(base_url, children[0], stop)
        if stop.is_set():
            return _shutdown(children)
        children.append(Child("worker", _steward("worker")))
        if agent_dir is not None:
            if first.enrollment_secret:
                _enroll_local_agent(base_url, first.enrollment_secret, agent_dir)
            children.append(Child("agent", _steward("agent", "run", "--state-dir", str(agent_dir))))
        for child in children[1:]:
            child.start(env)
    except BaseException:
        _shutdown(children)
        raise
    _banner(base_url, first, config.home)
    return _supervise(children, env, stop)


def _enroll_local_agent(base_url: str, secret: str, state_dir: Path) -> None:
    from steward.agent.enrollment import enroll

    enroll(base_url, secret, state_dir)  # creates the state directory owner-only


def _banner(base_url: str, first, home: Path) -> None:
    lines = [
        "",
        f"  Steward is running at {base_url}/",
        f"  Sign in as {first.admin_email}",
    ]
    if first.generated_password:
        lines.append(f"  Password: {first.generated_password}   (shown only this once)")
    elif first.created_admin:
        lines.append("  Password: the one in STEWARD_ADMIN_PASSWORD")
    lines += [f"  Data directory: {home}", "  Stop with Ctrl-C.", ""]
    print("\n".join(lines), flush=True)


def _supervise(children: list[Child], env: dict[str, str], stop: threading.Event) -> int:
    status = 0
    while not stop.is_set():
        for child in children:
            if child.alive() or child.process is None:
                continue
            code = child.process.returncode
            if not child.restart:
                print(
                    f"steward: the {child.name} stopped (exit {code}); shutting down",
                    file=sys.stderr,
                )
                stop.set()
                status = 1
                break
            if child.name == "agent" and code in AGENT_STOPPED_FOR_GOOD:
                print(f"steward: the local agent stopped for good (exit {code})", file=sys.stderr)
                child.process = None
                continue
            now = time.monotonic()
            child.restarts = [t for t in child.restarts if now - t < 60] + [now]
            if len(child.restarts) > 5:
                print(f"steward: the {child.name} keeps crashing; shutting down", file=sys.stderr)
                stop.set()
                status = 1
                break
            print(f"steward: the {child.name} exited ({code}); restarting", file=sys.stderr)
            child.start(env)
        stop.wait(0.5)
    return _shutdown(children) or status


def _shutdown(children: list[Child]) -> int:
    running = [c for c in children if c.alive()]
    for child in running:
        child.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    deadline = time.monotonic() + GRACE_SECONDS
    for child in running:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            child.process.kill()  # type: ignore[union-attr]
            child.process.wait()  # type: ignore[union-attr]
    return 0
