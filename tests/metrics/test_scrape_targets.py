"""Scrape targets: the API (CRUD, roles, tenancy) and the worker job against real servers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from steward.audit.models import AuditEntry
from steward.metrics import jobs
from steward.metrics.models import ScrapeTarget
from steward.metrics.scrape import Scraped, ScrapeError, instance_of, parse_exposition

pytestmark = pytest.mark.django_db

EXPOSITION = """\
# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{code="200",method="get"} 1027
http_requests_total{code="500",method="get",instance="inner"} 3
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2.1e+07
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 0.05
rpc_duration_seconds_sum 17.5
rpc_duration_seconds_count 350
timestamped_total 5 1764390600000
"""


class Exporter(BaseHTTPRequestHandler):
    body = EXPOSITION.encode()
    status = 200

    def do_GET(self) -> None:
        if self.path == "/slow":
            threading.Event().wait(3)
        status = 404 if self.path == "/missing" else self.status
        body = b"not { valid" if self.path == "/garbage" else self.body
        if self.path == "/bom":  # as some Windows exporters send it
            body = b"\xef\xbb\xbf" + body
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def exporter() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def target(world, url: str, **fields) -> ScrapeTarget:
    return ScrapeTarget.objects.create(organization=world.acme, url=url, job="app", **fields)


# --- the worker job -----------------------------------------------------------------------


def test_a_due_target_is_scraped_and_its_samples_stored(world, exporter, metrics_store):
    t = target(world, f"{exporter}/metrics", device=world.acme_device)
    assert jobs.scrape_due_targets() == 1
    t.refresh_from_db()
    assert t.last_error == "" and t.last_samples == 7
    assert t.last_scrape_at is not None and t.last_duration is not None
    assert t.next_scrape_at > timezone.now() + timedelta(seconds=25)
    instance = exporter.removeprefix("http://")
    [(labels, points)] = metrics_store.find("http_requests_total", code="200")
    assert labels == {
        "__name__": "http_requests_total",
        "code": "200",
        "method": "get",
        "instance": instance,
        "job": "app",
        "steward_org": "acme",
        "steward_device": str(world.acme_device.pk),
    }
    assert list(points.values()) == [1027.0]
    [(clash, _)] = metrics_store.find("http_requests_total", code="500")
    assert clash["exported_instance"] == "inner" and clash["instance"] == instance
    assert metrics_store.find("rpc_duration_seconds_count")
    assert metrics_store.find("timestamped_total")[0][1] == {1764390600000: 5.0}
    [(_, up)] = metrics_store.find("up", job="app")
    assert list(up.values()) == [1.0]
    meta = metrics_store.meta[world.acme.pk]
    assert meta["http_requests_total"].type == "counter"
    assert meta["process_resident_memory_bytes"].help == "Resident memory size in bytes."


def test_a_body_starting_with_a_utf8_byte_order_mark_is_parsed(world, exporter, metrics_store):
    t = target(world, f"{exporter}/bom")
    assert jobs.scrape_due_targets() == 1
    t.refresh_from_db()
    assert t.last_error == "" and t.last_samples == 7
    # The first line is a HELP comment: with the mark left on it, it would not be one.
    meta = metrics_store.meta[world.acme.pk]
    assert meta["http_requests_total"].help == "Requests served."
    assert meta["http_requests_total"].type == "counter"
    [(_, points)] = metrics_store.find("http_requests_total", code="200")
    assert list(points.values()) == [1027.0]


def test_a_target_that_is_not_due_is_left_alone(world, exporter, metrics_store):
    target(world, f"{exporter}/metrics", next_scrape_at=timezone.now() + timedelta(minutes=1))
    target(world, f"{exporter}/metrics", enabled=False)
    assert jobs.scrape_due_targets() == 0
    assert metrics_store.sample_count() == 0


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/missing", "HTTP 404 from "),
        ("/garbage", "invalid exposition format"),
    ],
)
def test_a_failing_target_records_its_error_and_up_0(world, exporter, metrics_store, path, error):
    t = target(world, f"{exporter}{path}")
    assert jobs.scrape_due_targets() == 1
    t.refresh_from_db()
    assert error in t.last_error
    assert t.last_samples == 0
    [(_, up)] = metrics_store.find("up")
    assert list(up.values()) == [0.0]


def test_unreachable_and_slow_targets_do_not_stop_the_others(world, exporter, metrics_store):
    dead = target(world, "http://127.0.0.1:9/metrics")
    slow = target(world, f"{exporter}/slow", timeout_seconds=1)
    good = target(world, f"{exporter}/metrics")
    assert jobs.scrape_due_targets() == 3
    for t in (dead, slow, good):
        t.refresh_from_db()
    assert "ConnectError" in dead.last_error
    assert slow.last_error == "timed out after 1 s"
    assert good.last_error == ""


def test_an_oversized_response_is_refused(world, exporter, metrics_store, settings):
    settings.STEWARD = {**settings.STEWARD, "metrics_scrape_max_body": 100}
    t = target(world, f"{exporter}/metrics")
    jobs.scrape_due_targets()
    t.refresh_from_db()
    assert t.last_error == "response larger than 100 bytes"


def test_scrape_observations_are_not_audited(world, exporter):
    target(world, f"{exporter}/metrics")
    from steward.alerts.defaults import ensure_all

    ensure_all()  # the default alert rules (created, and audited, on first evaluation)
    before = AuditEntry.objects.count()
    jobs.scrape_due_targets()
    assert AuditEntry.objects.count() == before


def test_instance_uses_the_schemes_default_port():
    assert instance_of("https://example.com/metrics") == "example.com:443"
    assert instance_of("http://[::1]/metrics") == "[::1]:80"
    assert instance_of("http://node:9100/metrics") == "node:9100"


def test_maintain_store_runs_the_stores_maintenance(metrics_store):
    jobs.maintain_store()
    assert len(metrics_store.maintained) == 1


# --- the API ----------------------------------------------------------------------------


def test_an_admin_creates_lists_updates_and_deletes_a_target(api, world):
    api.as_(world.admin)
    response = api.post(
        "scrape-targets",
        {
            "organization_id": world.acme.pk,
            "device_id": world.acme_device.pk,
            "job": "node",
            "url": "http://acme-ws-01:9100/metrics",
        },
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["interval_seconds"], created["timeout_seconds"]) == (30, 10)
    assert created["device_id"] == world.acme_device.pk and created["enabled"] is True
    listed = api.get("scrape-targets").json()
    assert [t["id"] for t in listed["items"]] == [created["id"]]
    response = api.patch(
        f"scrape-targets/{created['id']}", {"interval_seconds": 60, "enabled": False}
    )
    assert response.status_code == 200
    assert (response.json()["interval_seconds"], response.json()["enabled"]) == (60, False)
    assert api.delete(f"scrape-targets/{created['id']}").status_code == 204
    assert not ScrapeTarget.objects.exists()
    actions = list(
        AuditEntry.objects.filter(object_type="metrics.scrapetarget").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["create", "delete", "update"]


def test_a_technician_can_read_but_not_change_targets(api, world):
    t = target(world, "http://x:9100/metrics")
    api.as_(world.technician)
    assert api.get(f"scrape-targets/{t.pk}").status_code == 200
    assert api.patch(f"scrape-targets/{t.pk}", {"enabled": False}).status_code == 403
    assert api.delete(f"scrape-targets/{t.pk}").status_code == 403
    response = api.post("scrape-targets", {"organization_id": world.acme.pk, "url": "http://y/"})
    assert response.status_code == 403


def test_another_organization_cannot_see_or_touch_acme_targets(api, world):
    t = target(world, "http://x:9100/metrics")
    api.as_(world.outsider)
    assert api.get("scrape-targets").json()["items"] == []
    assert api.get(f"scrape-targets/{t.pk}").status_code == 404
    assert api.patch(f"scrape-targets/{t.pk}", {"enabled": False}).status_code == 404
    assert api.delete(f"scrape-targets/{t.pk}").status_code == 404
    response = api.post("scrape-targets", {"organization_id": world.acme.pk, "url": "http://y/"})
    assert response.status_code == 404
    assert ScrapeTarget.objects.count() == 1


def test_a_device_of_another_organization_cannot_be_attached(api, world):
    api.as_(world.admin)
    response = api.post(
        "scrape-targets",
        {
            "organization_id": world.acme.pk,
            "device_id": world.globex_device.pk,
            "url": "http://x:9100/metrics",
        },
    )
    assert (response.status_code, response.json()["detail"]) == (
        422,
        "device_id: no such device in this organization",
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"url": "ftp://x/metrics"}, "url: expected an http:// or https:// URL"),
        ({"url": "http://user:pw@x/metrics"}, "url: must not contain credentials"),
        ({"url": "http://x:99999/metrics"}, "url: Port out of range"),
        ({"url": "http://x:http/metrics"}, "url: Port could not be cast"),
        ({"url": "http://[::1/metrics"}, "url: Invalid IPv6 URL"),
        (
            {"url": "http://x/", "interval_seconds": 10, "timeout_seconds": 20},
            "timeout_seconds: must not exceed interval_seconds",
        ),
        ({"url": "http://x/", "interval_seconds": 2}, "interval_seconds:"),
        ({"url": "http://x/", "job": "bad job"}, "job:"),
    ],
)
def test_invalid_targets_are_refused(api, world, body, detail):
    response = api.as_(world.admin).post(
        "scrape-targets", {"organization_id": world.acme.pk, **body}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)


def test_counters_keep_the_name_the_exporter_wrote(world, metrics_store):
    # prometheus_client's parser calls every counter sample <name>_total; Prometheus keeps
    # the name as exposed (SNMP exporter's ifHCInOctets), and dashboards query that.
    text = (
        "# TYPE ifHCInOctets counter\n"
        'ifHCInOctets{ifName="ge-0/0/1"} 10\n'
        "# TYPE requests_total counter\n"
        "requests_total 5\n"
        "# TYPE weird counter\n"
        "{broken line\n"
    )
    scraped = Scraped(started_ms=1)
    parse_exposition(text.replace("# TYPE weird counter\n{broken line\n", ""), scraped)
    assert [name for name, *_ in scraped.samples] == ["ifHCInOctets", "requests_total"]
    assert [m.metric for m in scraped.metadata] == ["ifHCInOctets", "requests_total"]
    assert scraped.metadata[0].type == "counter"
    with pytest.raises(ScrapeError, match="invalid exposition format"):
        parse_exposition(text, Scraped(started_ms=1))
