"""Ingest edge cases found by review: each test failed before its fix.

Line protocol values that overflow a double, a body of exactly the line limit,
Prometheus staleness markers and duplicate labels in remote write, and scrape targets
that trickle their answer.
"""

from __future__ import annotations

import math
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from steward.metrics import jobs, linefast, lineproto
from steward.metrics.models import ScrapeTarget
from steward.tsdb.types import Matcher, MatchOp, Tier
from tests.metrics.test_remote_write import encode_request, encode_series, post, snappy
from tests.server.conftest import bearer

T_S = 1764390600  # seconds
T_MS = T_S * 1000
STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]


# --- line protocol: a float that overflows to an infinity ---------------------------------


@pytest.mark.parametrize("raw", ["1e999", "-1e999", "1" + "0" * 400, "1e400"])
def test_a_float_beyond_a_double_is_refused_not_stored_as_infinity(raw):
    result = lineproto.parse(f"m v={raw} 5\nm w=1 5")
    assert [p.fields for p in result.points] == [[("w", 1.0)]]
    assert result.first_error == f"line 1: field value {raw!r} out of range"


@pytest.mark.parametrize("templates", [False, True])
def test_the_fast_path_leaves_an_overflowing_value_to_the_general_parser(templates):
    known = {"m,host=a": {"x": 1, "y": 2}}
    learned: linefast.Templates = {}
    if templates:
        linefast.split_known("m,host=a x=1,y=2 5", known, 1, 1, learned)
        assert learned  # the next line goes through the template's regex
    body = "m,host=a x=1,y=2 5\nm,host=a x=1e999,y=2 6"
    cols, rest, fast = linefast.split_known(body, known, 1, 1, learned)
    assert all(math.isfinite(v) for v in cols.values)
    # The general parser gets the line and refuses it, as it would alone.
    assert (2, "m,host=a x=1e999,y=2 6") in rest
    parsed = lineproto.parse_lines(rest)
    assert parsed.first_error == "line 2: field value '1e999' out of range"
    assert fast + len(parsed.points) == 1


@pytest.fixture
def real_store(open_real_store):
    return open_real_store(clock=lambda: T_MS + 60_000)


def write_lines(world, body: str, query: str = "precision=s"):
    return Client().post(
        f"/api/v1/write?{query}",
        data=body.encode(),
        content_type="text/plain",
        **bearer(world.technician),
    )


@pytest.mark.django_db
def test_an_overflowing_value_on_a_known_series_is_a_bad_line(world, real_store):
    assert write_lines(world, f"cpu,host=nas idle=1,user=2 {T_S}").status_code == 204
    response = write_lines(
        world,
        f"cpu,host=nas idle=3,user=4 {T_S + 10}\ncpu,host=nas idle=1e999,user=5 {T_S + 20}\n",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "line 2: field value '1e999' out of range"
    assert (body["accepted"], body["rejected"]) == (1, 1)
    found = real_store.select(
        None, [Matcher("__name__", MatchOp.EQ, "cpu_idle")], T_MS, T_MS + 60_000, Tier.RAW
    )
    [series] = found
    assert dict(zip(series.timestamps, series.values, strict=True)) == {
        T_MS: 1.0,
        T_MS + 10_000: 3.0,
    }


# --- line protocol: the line limit ----------------------------------------------------------


@pytest.mark.django_db
def test_a_body_of_exactly_the_line_limit_is_accepted(world, metrics_store, settings):
    settings.STEWARD = {**settings.STEWARD, "metrics_write_max_lines": 10}
    body = "".join(f"m,i={i} v=1 {T_S}\n" for i in range(10))  # Telegraf ends every line
    assert write_lines(world, body).status_code == 204
    assert metrics_store.sample_count() == 10
    assert write_lines(world, body.rstrip("\n")).status_code == 204
    assert write_lines(world, body + f"m,i=10 v=1 {T_S}").status_code == 413
    assert write_lines(world, body + f"m,i=10 v=1 {T_S}\n").status_code == 413


# --- remote write ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_staleness_markers_are_not_stored_as_nan_values(world, metrics_store):
    raw = encode_request(
        [
            encode_series(
                {"__name__": "a", "pod": "gone"}, [(T_MS, 1.0), (T_MS + 15_000, STALE_NAN)]
            ),
            encode_series({"__name__": "a", "pod": "nan"}, [(T_MS, float("nan"))]),
        ]
    )
    assert post(snappy(raw), bearer(world.technician)).status_code == 204
    [(_, gone)] = metrics_store.find("a", pod="gone")
    assert gone == {T_MS: 1.0}  # the marker is not a sample: sum(a) must not become NaN
    [(_, nan)] = metrics_store.find("a", pod="nan")
    assert math.isnan(nan[T_MS])  # an ordinary NaN sample is still a sample


@pytest.mark.django_db
def test_a_series_with_a_duplicate_label_is_refused_not_merged(world, metrics_store):
    def series(pairs: list[tuple[str, str]]) -> bytes:
        from tests.metrics.test_remote_write import field_bytes, field_double, field_varint

        body = b"".join(
            field_bytes(1, field_bytes(1, k.encode()) + field_bytes(2, v.encode()))
            for k, v in pairs
        )
        return body + field_bytes(2, field_double(1, 1.0) + field_varint(2, T_MS))

    raw = encode_request(
        [
            series([("__name__", "ok")]),
            series([("__name__", "a"), ("job", "x"), ("job", "y")]),
            series([("__name__", "b"), ("__name__", "c")]),
        ]
    )
    response = post(snappy(raw), bearer(world.technician))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_series"
    assert body["detail"] == "timeseries 1: duplicate label name 'job'"
    assert (body["series_rejected"], body["samples_accepted"]) == (2, 1)
    assert metrics_store.find("a") == [] and metrics_store.find("c") == []


# --- scrapes --------------------------------------------------------------------------------


class Trickle(BaseHTTPRequestHandler):
    """Answers at once, then sends its body a few bytes at a time, each well within the
    read timeout: only a deadline on the whole scrape stops it."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"# a trickling exporter\n" * 40 + b"x 1\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for i in range(0, len(body), 24):
                self.wfile.write(body[i : i + 24])
                self.wfile.flush()
                time.sleep(0.25)
        except OSError:
            pass  # the scraper hung up: what the fix does

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def trickle() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_a_trickling_target_times_out_at_its_timeout(world, trickle, metrics_store):
    target = ScrapeTarget.objects.create(
        organization=world.acme, url=trickle, job="app", timeout_seconds=1
    )
    started = time.monotonic()
    assert jobs.scrape_due_targets() == 1
    elapsed = time.monotonic() - started
    target.refresh_from_db()
    assert target.last_error == "timed out after 1 s"
    assert elapsed < 4  # the whole body takes ~10 s to arrive
    [(_, up)] = metrics_store.find("up")
    assert list(up.values()) == [0.0]


@pytest.mark.django_db
def test_a_target_with_an_unparsable_port_does_not_stop_the_others(world, metrics_store):
    from tests.metrics.test_scrape_targets import Exporter

    server = ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        good = ScrapeTarget.objects.create(
            organization=world.acme,
            url=f"http://127.0.0.1:{server.server_address[1]}/metrics",
            job="app",
        )
        # The API does not look at the port; the model field does not either.
        bad = ScrapeTarget.objects.create(
            organization=world.acme, url="http://127.0.0.1:99999/metrics", job="app"
        )
        assert jobs.scrape_due_targets() == 2
    finally:
        server.shutdown()
        server.server_close()
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.last_error == "" and good.last_samples > 0
    assert bad.last_error != ""
    assert metrics_store.find("process_resident_memory_bytes") != []
    ups = {labels["instance"]: list(points.values()) for labels, points in metrics_store.find("up")}
    assert ups == {f"127.0.0.1:{server.server_address[1]}": [1.0], "127.0.0.1:99999": [0.0]}
