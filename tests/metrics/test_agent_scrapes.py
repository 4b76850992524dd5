"""Scrape targets an agent scrapes (``ScrapeTarget.scraper``): the API field, the agent's
endpoints, and the whole path with the real agent over HTTP."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.utils import timezone

from steward.agent.client import AgentClient
from steward.agent.scrapes import ScrapeService
from steward.metrics import jobs
from steward.metrics.models import ScrapeTarget
from tests.metrics.test_scrape_targets import exporter  # noqa: F401 - a fixture
from tests.server.conftest import make_device

pytestmark = pytest.mark.django_db


def target(world, url: str, **fields) -> ScrapeTarget:
    fields.setdefault("scraper", world.acme_device)
    return ScrapeTarget.objects.create(organization=world.acme, url=url, job="switch", **fields)


def post_results(credential: str, results: list[dict], **body):
    raw = gzip.compress(
        json.dumps({"sent_at": datetime.now(UTC).isoformat(), "results": results, **body}).encode()
    )
    return Client().post(
        "/api/v1/agent/scrape-results",
        data=raw,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=f"Bearer {credential}",
    )


def result(t: ScrapeTarget, body: str = "", error: str = "", at: int | None = None) -> dict:
    started = at if at is not None else int(timezone.now().timestamp() * 1000)
    return {"target_id": t.pk, "started_ms": started, "duration": 0.05, "error": error,
            "body": body}  # fmt: skip


BODY = '# TYPE ifHCInOctets counter\nifHCInOctets{ifName="ge-0/0/1"} 123456\n'


# --- the API ------------------------------------------------------------------------------


def test_a_target_is_assigned_to_a_device_of_its_organization(api, world):
    body = {"organization_id": world.acme.pk, "url": "http://10.0.0.5:9116/snmp",
            "scraper_id": world.acme_device.pk}  # fmt: skip
    created = api.as_(world.admin).post("scrape-targets", body)
    assert created.status_code == 201, created.content
    assert created.json()["scraper_id"] == world.acme_device.pk
    path = f"scrape-targets/{created.json()['id']}"
    assert api.as_(world.admin).patch(path, {"scraper_id": None}).json()["scraper_id"] is None
    other = api.as_(world.admin).patch(path, {"scraper_id": world.globex_device.pk})
    assert other.status_code == 422
    assert "scraper_id: no such device in this organization" in other.json()["detail"]
    revoked = make_device(world.acme_hq, "gone", revoked_at=timezone.now())
    refused = api.as_(world.admin).patch(path, {"scraper_id": revoked.pk})
    assert refused.status_code == 422 and "revoked" in refused.json()["detail"]


def test_the_server_leaves_an_agents_targets_to_the_agent(world, exporter, metrics_store):  # noqa: F811
    mine = target(world, f"{exporter}/metrics")
    ours = target(world, f"{exporter}/metrics", scraper=None)
    assert jobs.scrape_due_targets() == 1
    mine.refresh_from_db()
    ours.refresh_from_db()
    assert mine.last_scrape_at is None and ours.last_scrape_at is not None


# --- the agent's endpoints ------------------------------------------------------------------


def test_an_agent_gets_its_own_enabled_targets(world, credential):
    mine = target(world, "http://10.0.0.5:9116/snmp", interval_seconds=60, timeout_seconds=20)
    target(world, "http://10.0.0.6/metrics", enabled=False)
    target(world, "http://10.0.0.7/metrics", scraper=make_device(world.acme_hq, "other"))
    target(world, "http://10.0.0.8/metrics", scraper=None)
    answer = (
        Client()
        .get("/api/v1/agent/scrape-targets", HTTP_AUTHORIZATION=f"Bearer {credential}")
        .json()
    )
    assert answer["targets"] == [{"id": mine.pk, "url": "http://10.0.0.5:9116/snmp",
                                  "interval_seconds": 60, "timeout_seconds": 20}]  # fmt: skip
    assert answer["max_body"] == 16 * 1024 * 1024


def test_results_are_stored_with_the_targets_labels(world, credential, metrics_store):
    switch = make_device(world.acme_hq, "core-switch")
    t = target(world, "http://10.0.0.5:9116/snmp?target=core", device=switch)
    response = post_results(credential, [result(t, BODY)])
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1, "unknown_targets": [], "errors": {}}
    # The name as the exporter wrote it (a counter without _total), as Prometheus keeps it.
    [(labels, points)] = metrics_store.find("ifHCInOctets")
    assert labels == {"__name__": "ifHCInOctets", "ifName": "ge-0/0/1", "job": "switch",
                      "instance": "10.0.0.5:9116", "steward_org": "acme",
                      "steward_device": str(switch.pk)}  # fmt: skip
    assert list(points.values()) == [123456.0]
    [(_, up)] = metrics_store.find("up", job="switch")
    assert list(up.values()) == [1.0]
    t.refresh_from_db()
    assert (t.last_error, t.last_samples, t.last_duration) == ("", 1, 0.05)


def test_a_failed_scrape_records_its_error_and_up_zero(world, credential, metrics_store):
    t = target(world, "http://10.0.0.5:9116/snmp")
    answer = post_results(credential, [result(t, error="URLError: timed out")]).json()
    assert answer["errors"] == {str(t.pk): "URLError: timed out"}
    [(_, up)] = metrics_store.find("up", job="switch")
    assert list(up.values()) == [0.0]
    answer = post_results(credential, [result(t, body="not { valid")]).json()
    assert answer["errors"][str(t.pk)].startswith("invalid exposition format")
    t.refresh_from_db()
    assert t.last_error.startswith("invalid exposition format")


def test_a_result_for_another_devices_target_is_refused_alone(world, credential, metrics_store):
    mine = target(world, "http://10.0.0.5/metrics")
    theirs = target(world, "http://10.0.0.6/metrics", scraper=make_device(world.acme_hq, "x"))
    server_side = target(world, "http://10.0.0.7/metrics", scraper=None)
    answer = post_results(
        credential,
        [
            result(theirs, BODY),
            result(mine, BODY),
            result(server_side, BODY),
            {**result(mine, BODY), "target_id": 999999},
        ],
    ).json()
    assert answer["accepted"] == 1
    assert answer["unknown_targets"] == sorted([theirs.pk, server_side.pk, 999999])
    assert len(metrics_store.find("ifHCInOctets")) == 1
    theirs.refresh_from_db()
    assert theirs.last_scrape_at is None


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ("nope", "results"),
        ([{"target_id": 1, "started_ms": -5, "duration": 0.1}], "started_ms"),
        ([{"target_id": 1, "started_ms": 5, "duration": 0.1, "error": "x" * 1001}], "error"),
    ],
)
def test_malformed_results_are_refused_with_the_first_error(world, credential, results, message):
    response = post_results(credential, results)  # type: ignore[arg-type]
    assert response.status_code == 422
    assert message in response.json()["detail"]


# --- the whole path: the real agent, over HTTP ----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_agent_scrapes_its_targets_and_the_server_stores_them(
    live_server,
    world,
    credential,
    exporter,  # noqa: F811
    metrics_store,
    tmp_path,
):
    up = target(world, f"{exporter}/metrics", device=world.acme_device)
    down = target(world, f"{exporter}/missing")
    with AgentClient(live_server.url, credential=credential) as client:
        service = ScrapeService(client, tmp_path)
        service.run_once()
        assert len(service.spool) == 0 and service.sent == 2
    [(labels, points)] = metrics_store.find("http_requests_total", code="200")
    assert labels["job"] == "switch" and labels["steward_device"] == str(world.acme_device.pk)
    assert list(points.values()) == [1027.0]
    up.refresh_from_db()
    down.refresh_from_db()
    assert up.last_error == "" and up.last_samples == 7
    assert down.last_error == f"HTTP 404 from {exporter}/missing"
    assert json.loads((tmp_path / "scrapes.json").read_text())["targets"][0]["id"] == up.pk


@pytest.mark.django_db(transaction=True)
def test_results_wait_in_the_spool_through_an_outage(
    live_server,
    world,
    credential,
    exporter,  # noqa: F811
    metrics_store,
    tmp_path,
):
    target(world, f"{exporter}/metrics", interval_seconds=5)
    clock = [1000.0]
    with AgentClient(live_server.url, credential=credential) as client:
        service = ScrapeService(client, tmp_path, clock=lambda: clock[0])
        service.refresh()
    # The server is gone: a client to a closed port.
    with AgentClient("http://127.0.0.1:9", credential=credential, timeout=2) as dead:
        service.client = dead
        for _ in range(3):
            service.run_once()
            clock[0] += 5
        assert len(service.spool) == 3 and service.sent == 0
    with AgentClient(live_server.url, credential=credential) as client:
        service.client = client
        clock[0] += 600  # past the backoff
        assert service.ship() == 3
    assert len(service.spool) == 0
    [(_, up)] = metrics_store.find("up", job="switch")
    assert len(up) == 3 and set(up.values()) == {1.0}
