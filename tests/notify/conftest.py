"""Real receivers on loopback: an SMTP server (aiosmtpd) and an HTTP server with scripts.

The HTTP receiver answers by path: ``/ok`` 200; ``/flaky`` 500 twice then 200; ``/bad``
400; ``/down`` always 500; ``/hang`` holds the request until the test ends. It records
each request (path, headers, raw body) so tests can verify signatures themselves.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from steward.notify import services
from steward.notify.models import Channel
from tests.server.conftest import *  # noqa: F403


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connections when two workers' delivery
    # pools connect at once on a loaded machine (seen on CI: one delivery retried, not
    # sent); a real webhook endpoint listens with a normal backlog.
    request_queue_size = 128


@dataclass
class Receiver:
    base: str
    requests: list[Request] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet test output
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            path = self.path.split("?")[0]
            receiver.requests.append(Request(path, dict(self.headers.items()), body))
            n = receiver.counts[path] = receiver.counts.get(path, 0) + 1
            receiver.arrived.set()
            if path == "/hang":
                receiver.release.wait(10)
                status = 200
            elif path == "/flaky":
                status = 500 if n <= 2 else 200
            elif path == "/bad":
                status = 400
            elif path == "/down":
                status = 500
            elif path == "/busy":
                status = 429
            else:
                status = 200
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")
            except OSError:  # the client gave up (timeout) before we answered
                pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    rec = Receiver(base=f"http://{host}:{port}")
    server.RequestHandlerClass = _handler(rec)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    rec.release.set()
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


class _SmtpHandler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.box.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())

    def authenticator(server, session, envelope, mechanism, auth_data):
        box.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"smtp-pass", handled=False)

    controller = Controller(
        _SmtpHandler(box),
        hostname="127.0.0.1",
        port=box.port,
        authenticator=authenticator,
        auth_require_tls=False,  # loopback test server without a certificate
    )
    controller.start()
    yield box
    controller.stop()


def webhook(world, url: str, name: str = "hook", **extra) -> Channel:
    config = {"url": url, "timeout": extra.pop("timeout", 2.0)}
    channel, _ = services.create_channel(
        world.acme.pk, name, "webhook", config, {"secret": "s3cret-hmac"}, **extra
    )
    return channel


def email_channel(world, mailbox: Mailbox, name: str = "mail", **config) -> Channel:
    settings = {
        "host": "127.0.0.1",
        "port": mailbox.port,
        "security": "none",
        "from_address": "steward@msp.test",
        "to": ["ops@acme.test"],
        "timeout": 2.0,
        **config,
    }
    channel, _ = services.create_channel(world.acme.pk, name, "email", settings, {})
    return channel
