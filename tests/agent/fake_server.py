"""A stand-in for the Steward server on 127.0.0.1, for the agent's client and runner tests.

It speaks the protocol's shapes (docs/agent-protocol.md) from a route table that a test
may change at any time, and records every request. It is a real HTTP server on loopback
(not a mocked transport), so connection handling, headers and bodies are exercised.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ENROLL = "/api/v1/agent/enroll"
HEARTBEAT = "/api/v1/agent/heartbeat"
INVENTORY = "/api/v1/agent/inventory"
METRICS = "/api/v1/agent/metrics"
CHECKS = "/api/v1/agent/checks"
CHECK_RESULTS = "/api/v1/agent/check-results"

CREDENTIAL = "sdc_fake-credential-0123456789abcdef"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any
    method: str = "POST"
    at: float = 0.0  # time.monotonic() on arrival
    connection: int = 0  # the client's port: requests on one kept-alive connection share it


@dataclass
class Reply:
    status: int
    body: Any  # a JSON-serialisable value, or bytes sent as they are
    delay: float = 0.0
    encoding: str | None = None  # the Content-Encoding header, when bytes are compressed
    headers: dict[str, str] = field(default_factory=dict)  # more response headers


Responder = Callable[[Recorded], Reply]


def default_routes() -> dict[str, Reply | Responder]:
    return {
        ENROLL: Reply(
            201,
            {
                "device_id": 17,
                "credential": CREDENTIAL,
                "organization": "Acme",
                "site": "HQ",
                "heartbeat_interval": 10,
                "inventory_interval": 3600,
                "server_time": "2026-11-29T04:30:00Z",
            },
        ),
        HEARTBEAT: Reply(
            200,
            {
                "server_time": "2026-11-29T04:30:00Z",
                "heartbeat_interval": 10,
                "inventory_interval": 3600,
            },
        ),
        INVENTORY: Reply(200, {"accepted": True, "software_count": 0}),
        CHECKS: Reply(200, {"revision": "0", "checks": []}),
        CHECK_RESULTS: Reply(200, {"accepted": 0, "unknown_checks": []}),
    }


class Assignment:
    """``GET /checks`` as a responder: the test edits ``checks`` and ``revision``."""

    def __init__(self, *checks: dict[str, Any], revision: str = "r1") -> None:
        self.checks = list(checks)
        self.revision = revision

    def __call__(self, request: Recorded) -> Reply:
        return Reply(200, {"revision": self.revision, "checks": list(self.checks)})


@dataclass(frozen=True)
class Arrival:
    result: dict[str, Any]
    at: float  # time.monotonic() when the POST carrying it arrived
    post: int  # index of that POST, from 0


class ResultsSink:
    """``POST /check-results`` as a responder: keeps every result with its arrival time,
    counts duplicates as the real server would see them (same check and observed_at),
    answers in the protocol's shape. ``outcome``, when set, is returned instead (an
    outage or a refusal) and nothing is kept."""

    def __init__(self, known: set[int] | None = None) -> None:
        self.arrivals: list[Arrival] = []
        self.duplicates = 0
        self.posts = 0
        self.known = known
        self.outcome: Reply | None = None
        self._seen: set[tuple[int, str]] = set()
        self._cond = threading.Condition()

    def __call__(self, request: Recorded) -> Reply:
        if self.outcome is not None:
            return self.outcome
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            return error(422, "invalid_request", "results: required")
        if not isinstance(body.get("sent_at"), str):
            return error(422, "invalid_request", "sent_at: required")
        with self._cond:
            for result in body["results"]:
                key = (result["check_id"], result["observed_at"])
                if key in self._seen:
                    self.duplicates += 1
                self._seen.add(key)
                self.arrivals.append(Arrival(result, request.at, self.posts))
            self.posts += 1
            self._cond.notify_all()
        ids = {result["check_id"] for result in body["results"]}
        unknown = [] if self.known is None else sorted(ids - self.known)
        return Reply(200, {"accepted": len(body["results"]) - len(unknown),
                           "unknown_checks": unknown})  # fmt: skip

    def results(self, check_id: int | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [
                a.result
                for a in self.arrivals
                if check_id is None or a.result["check_id"] == check_id
            ]

    def wait_for(
        self, predicate: Callable[[Arrival], bool], timeout: float = 5.0, after: int = 0
    ) -> Arrival:
        """The first arrival (from index ``after``) matching ``predicate``; fails the test
        on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for arrival in self.arrivals[after:]:
                    if predicate(arrival):
                        return arrival
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = [(a.result["check_id"], a.result["status"]) for a in self.arrivals]
                    raise AssertionError(f"no matching result within {timeout} s; got {got}")
                self._cond.wait(remaining)

    def wait_count(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        self.wait_for(lambda _: len(self.arrivals) >= count, timeout)
        return self.results()


class MetricsSink:
    """The metrics endpoint as a responder: keeps each batch once by ``batch_id`` (the
    real server dedupes by (series, timestamp); a replayed batch is a duplicate either
    way) and answers in the protocol's shape. ``interval`` is echoed when set; ``formats``
    is sent as ``Steward-Metrics-Formats`` (a server that reads columns says so)."""

    def __init__(self, interval: int | None = None, formats: str | None = None) -> None:
        self.formats = formats
        self.batches: dict[str, Any] = {}
        self.duplicate_batches = 0
        self.interval = interval
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("batch_id"), str):
            return error(422, "invalid_request", "batch_id: required")
        points = len(list(points_of(body)))
        with self._lock:
            duplicate = body["batch_id"] in self.batches
            if duplicate:
                self.duplicate_batches += 1
            else:
                self.batches[body["batch_id"]] = body
        answer: dict[str, Any] = {
            "accepted": 0 if duplicate else points,
            "duplicates": points if duplicate else 0,
            "rejected": 0,
            "errors": [],
        }
        if self.interval is not None:
            answer["interval"] = self.interval
        headers = {"Steward-Metrics-Formats": self.formats} if self.formats else {}
        return Reply(200, answer, headers=headers)

    def samples(self) -> list[tuple[str, tuple[tuple[str, str], ...], int, float]]:
        """Every (family, labels, timestamp_ms, value) received, in arrival order."""
        with self._lock:
            bodies = list(self.batches.values())
        return [sample for body in bodies for sample in points_of(body)]


def points_of(
    body: dict[str, Any],
) -> Iterator[tuple[str, tuple[tuple[str, str], ...], int, float]]:
    """Every (family, labels, timestamp_ms, value) of a batch in either wire format."""
    stamps = body.get("timestamps")
    for family in body["families"]:
        for series in family["series"]:
            labels = tuple(sorted(series["labels"].items()))
            if stamps is None:
                for ts, value in series["points"]:
                    yield family["name"], labels, ts, value
            else:
                for ts, value in zip(stamps, series["values"], strict=True):
                    if value is not None:
                        yield family["name"], labels, ts, value


def error(status: int, code: str, detail: str) -> Reply:
    """An error in the protocol's shape."""
    return Reply(status, {"detail": detail, "code": code})


class FakeServer:
    """``with FakeServer() as server:`` serves on ``server.url`` until the block ends."""

    def __init__(self, port: int = 0) -> None:
        self.routes = default_routes()
        self.requests: list[Recorded] = []
        self._lock = threading.Condition()
        self._open: set[socket.socket] = set()  # kept-alive client connections
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,))
        self._thread.daemon = True

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self.drop_connections()  # a stopped server drops its kept-alive connections too
        self._thread.join(timeout=5)

    def drop_connections(self) -> None:
        """Close every kept-alive connection, as a server does with idle ones."""
        with self._lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    @property
    def connections(self) -> int:
        """How many connections the requests so far arrived on."""
        with self._lock:
            return len({request.connection for request in self.requests})

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 5.0) -> list[Recorded]:
        """Block until ``count`` requests reached ``path``; fail the test on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                matching = [r for r in self.requests if r.path == path]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(matching)} of {count} requests to {path}")
                self._lock.wait(remaining)

    def _record(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()
            route = self.routes.get(request.path)
        if route is None:
            return error(404, "not_found", "no such endpoint")
        return route(request) if callable(route) else route

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as a real server: the client's connection reuse is exercised.
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._open.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._open.discard(self.connection)
                super().finish()

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                recorded = Recorded(
                    self.path,
                    dict(self.headers.items()),
                    body,
                    self.command,
                    arrived,
                    self.client_address[1],
                )
                reply = server._record(recorded)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                )
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    if reply.encoding:
                        self.send_header("Content-Encoding", reply.encoding)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if 300 <= reply.status < 400:
                        self.send_header("Location", "https://steward.example/")
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler


def free_port() -> int:
    """A port nothing listens on right now (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
