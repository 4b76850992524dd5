"""Real loopback targets for the check tests: an HTTP server, a TLS server with a fresh
self-signed certificate of chosen lifetime, an open and a closed port."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from steward.checks import CheckResult, CheckSpec, run


def check(type_: str, target: str = "", timeout: float = 3.0, **params: object) -> CheckResult:
    """Run one check with a short timeout (the suite must stay fast)."""
    return run(CheckSpec(type=type_, target=target, params=params, timeout=timeout))


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes: /ok (200 "steward ok"), /status/<code>, /redirect (302 to /ok),
    /slow?ms (sleeps), /headers (echoes request headers as JSON); POST /echo."""

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            # The check may have given up already (timeout tests): nothing to report.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/ok":
            self._send(200, b"steward ok, version 1.2.3", {"Content-Type": "text/plain"})
        elif path.startswith("/status/"):
            self._send(int(path.rsplit("/", 1)[1]), b"status page")
        elif path == "/redirect":
            self._send(302, b"", {"Location": "/ok"})
        elif path == "/slow":
            time.sleep(int(query or "300") / 1000)
            self._send(200, b"slow")
        elif path == "/headers":
            self._send(200, json.dumps(dict(self.headers)).encode())
        else:
            self._send(404, b"not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self._send(200 if self.path == "/echo" else 404, b"posted: " + body)


@pytest.fixture(scope="session")
def http_base() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: bound then released, so the kernel refuses connects."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def open_port() -> Iterator[int]:
    """A listening TCP port that greets with a banner and echoes one line."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.sendall(b"220 steward test ready\r\n")
                conn.settimeout(0.5)
                try:
                    data = conn.recv(1024)
                    if data:
                        conn.sendall(b"echo " + data)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(1)
    server.close()


@dataclass
class TlsServer:
    port: int
    cert: Path


def make_certificate(directory: Path, days: int, names: str = "DNS:localhost,IP:127.0.0.1") -> Path:
    """A self-signed EC certificate (PEM, key included) valid for ``days`` from now."""
    pem = directory / f"cert-{days}.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", str(days),
            "-subj", "/CN=localhost/O=Steward Test", "-addext", f"subjectAltName={names}",
            "-keyout", str(pem), "-out", str(pem),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return pem


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Callable[[int], TlsServer]]:
    """Factory: start a TLS server whose certificate expires in ``days`` days."""
    servers: list[socket.socket] = []

    def start(days: int) -> TlsServer:
        pem = make_certificate(tmp_path, days)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pem)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        servers.append(listener)

        def serve() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                try:
                    with context.wrap_socket(conn, server_side=True) as tls:
                        tls.settimeout(0.5)
                        tls.recv(1)
                except (OSError, ssl.SSLError):
                    pass  # clients that reject the certificate abort the handshake

        threading.Thread(target=serve, daemon=True).start()
        return TlsServer(port=int(listener.getsockname()[1]), cert=pem)

    yield start
    for listener in servers:
        listener.close()
