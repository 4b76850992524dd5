"""The agent's scrapes of exporters the server assigns it (``steward.agent.scrapes``), with
a fake server client and a real exporter on loopback."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from steward.agent.client import RequestRejected, ServerUnavailable
from steward.agent.scrapes import ScrapeService, fetch, parse_targets

BODY = "# TYPE up_total counter\nsome_metric 1\n"


class Exporter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = BODY.encode()
        if self.path == "/big":
            body = b"x" * 5000
        elif self.path == "/bom":
            body = b"\xef\xbb\xbf" + body
        elif self.path == "/slow":
            threading.Event().wait(2)
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/metrics")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(500 if self.path == "/broken" else 200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def exporter() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class FakeServer:
    """The two scrape endpoints; ``fail`` raises from the next sends."""

    def __init__(self, targets: list[dict]) -> None:
        self.targets = targets
        self.received: list[dict] = []
        self.fail: Exception | None = None

    def fetch_scrape_targets(self) -> dict:
        if isinstance(self.fail, ServerUnavailable):
            raise self.fail
        return {"targets": self.targets, "max_body": 1000}

    def send_scrape_results(self, body_gzipped: bytes) -> dict:
        if self.fail is not None:
            raise self.fail
        body = json.loads(gzip.decompress(body_gzipped))
        self.received.extend(body["results"])
        return {"accepted": len(body["results"]), "unknown_targets": [], "errors": {}}


def target(n: int, url: str, interval: int = 30, timeout: int = 5) -> dict:
    return {"id": n, "url": url, "interval_seconds": interval, "timeout_seconds": timeout}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def service(server: FakeServer, state: Path, clock: Clock | None = None) -> ScrapeService:
    return ScrapeService(server, state, clock=clock or Clock(), spool_max_bytes=1_000_000)


def test_targets_are_scraped_on_their_interval_and_delivered(exporter, tmp_path):
    server = FakeServer([target(1, f"{exporter}/metrics", interval=30),
                         target(2, f"{exporter}/broken", interval=60)])  # fmt: skip
    clock = Clock()
    scrapes = service(server, tmp_path, clock)
    scrapes.run_once()
    assert [(r["target_id"], r["body"], r["error"]) for r in server.received] == [
        (1, BODY, ""),
        (2, "", f"HTTP 500 from {exporter}/broken"),
    ]
    clock.now += 30
    scrapes.run_once()
    assert [r["target_id"] for r in server.received] == [1, 2, 1]
    clock.now += 30
    scrapes.run_once()
    assert [r["target_id"] for r in server.received] == [1, 2, 1, 1, 2]
    assert len(scrapes.spool) == 0


def test_results_wait_through_an_outage_and_survive_a_restart(exporter, tmp_path):
    server = FakeServer([target(1, f"{exporter}/metrics", interval=10)])
    clock = Clock()
    scrapes = service(server, tmp_path, clock)
    scrapes.refresh()
    server.fail = ServerUnavailable("connection refused")
    for _ in range(3):
        scrapes.run_once()
        clock.now += 10
    assert len(scrapes.spool) == 3 and server.received == []
    # The agent restarts while the server is still down: the assignment and the spool
    # are on disk, so it keeps scraping.
    again = service(server, tmp_path, clock)
    again.run_once()
    assert len(again.spool) == 4
    server.fail = None
    clock.now += 600
    again.run_once()
    stamps = [r["started_ms"] for r in server.received]
    assert len(stamps) == 5 and stamps == sorted(stamps)  # oldest first, none lost


def test_a_result_the_server_refuses_is_dropped_and_a_missing_endpoint_pauses(exporter, tmp_path):
    server = FakeServer([target(1, f"{exporter}/metrics", interval=10)])
    clock = Clock()
    scrapes = service(server, tmp_path, clock)
    server.fail = RequestRejected(422, "invalid_request", "results.0.error: too long")
    scrapes.run_once()
    assert len(scrapes.spool) == 0 and scrapes.dropped == 1
    server.fail = RequestRejected(404, "not_found", "Not Found")
    clock.now += 10
    scrapes.run_once()
    assert len(scrapes.spool) == 1 and scrapes.dropped == 1  # kept for a newer server


def test_the_assignment_is_validated(exporter):
    targets, max_body = parse_targets(
        {
            "targets": [
                target(1, f"{exporter}/m", interval=10, timeout=30),  # timeout clamped
                target(2, "file:///etc/passwd"),
                {"id": "x"},
                target(3, f"{exporter}/m", interval=0),
            ],
            "max_body": "lots",
        }
    )
    assert [(t.id, t.timeout_seconds) for t in targets] == [(1, 10)]
    assert max_body == 16 * 2**20
    with pytest.raises(ValueError, match="no list of targets"):
        parse_targets({"targets": "all"})


def test_fetch_bounds_size_and_time_and_drops_a_byte_order_mark(exporter):
    assert fetch(f"{exporter}/bom", 5, 1000) == BODY
    with pytest.raises(ValueError, match="larger than 1000 bytes"):
        fetch(f"{exporter}/big", 5, 1000)
    with pytest.raises(OSError):  # a socket timeout
        fetch(f"{exporter}/slow", 0.5, 1000)
    with pytest.raises(ValueError, match="not an http"):
        fetch("file:///etc/passwd", 5, 1000)


def test_a_redirect_is_the_scrapes_error_not_followed(exporter, tmp_path):
    server = FakeServer([target(1, f"{exporter}/moved")])
    service(server, tmp_path).run_once()
    [result] = server.received
    assert (result["body"], result["error"]) == ("", f"HTTP 302 from {exporter}/moved")


def test_the_thread_scrapes_until_closed(exporter, tmp_path):
    server = FakeServer([target(1, f"{exporter}/metrics", interval=3600)])
    scrapes = ScrapeService(server, tmp_path)
    stop = threading.Event()
    scrapes.start(stop)
    for _ in range(50):
        if server.received:
            break
        threading.Event().wait(0.1)
    scrapes.close()
    assert [r["target_id"] for r in server.received] == [1]
    assert not scrapes._thread.is_alive()  # type: ignore[union-attr]


def test_the_assignment_is_saved_when_it_changes_only(exporter, tmp_path):
    server = FakeServer([target(1, f"{exporter}/metrics")])
    scrapes = service(server, tmp_path)
    scrapes.refresh()
    saved = tmp_path / "scrapes.json"
    saved.write_text(saved.read_text().replace("metrics", "metrics "))  # a marker
    scrapes.refresh()  # the same answer: the file is left alone
    assert "metrics " in saved.read_text()
    server.targets.append(target(2, f"{exporter}/bom"))
    scrapes.refresh()
    assert [t["id"] for t in json.loads(saved.read_text())["targets"]] == [1, 2]
