"""The device page's charts: every query is built server side and answers with data."""

from __future__ import annotations

import html
import re
import time

import pytest
from django.test import Client
from tests.server.conftest import PASSWORD

from steward.inventory.models import Device
from steward.metrics.store import set_store_for_tests
from steward.promql.memstore import MemoryStore
from steward.simulate.host import SimHost
from steward.tsdb.types import Sample

EXPR = re.compile(r"data-expr='([^']*)' data-legend=\"([^\"]*)\"")


@pytest.fixture
def store():
    store = MemoryStore()
    set_store_for_tests(store)
    yield store
    set_store_for_tests(None)


def simulate_into(store, device: Device, minutes: int = 20, index: int = 1) -> None:
    """A simulated host's series for ``device``, stored as the agent ingest would label them."""
    host = SimHost(index)
    now = time.time()
    host.start(now - minutes * 60)
    added = {
        "instance": device.hostname,
        "job": "steward",
        "steward_device": str(device.pk),
        "steward_org": device.organization.slug,
    }
    samples = []
    for k in range(minutes * 6):
        t = now - minutes * 60 + 10 * (k + 1)
        host.step(t)
        for (name, labels), value in host.samples():
            series = {**dict(labels), **added, "__name__": name}
            samples.append(Sample(series, int(t * 1000), value))
    store.append(device.organization_id, samples)


def chart_queries(page: str) -> list[tuple[str, str]]:
    return [(html.unescape(e), legend) for e, legend in EXPR.findall(page)]


def test_the_device_page_carries_one_query_set_for_this_device(world, store) -> None:
    client = Client()
    client.login(email=world.viewer.email, password=PASSWORD)

    page = client.get(f"/devices/{world.acme_device.pk}/").content.decode()

    found = chart_queries(page)
    assert len(found) == 14
    for expr, _ in found:
        assert f'steward_device="{world.acme_device.pk}"' in expr
    assert 'data-api="/prometheus/api/v1/query_range"' in page
    assert "steward/charts.js" in page and "steward/charts.css" in page
    assert "No metrics from this device yet" in page  # shown by the script when empty


def test_every_chart_query_answers_with_the_series_it_promises(world, store) -> None:
    simulate_into(store, world.acme_device)
    simulate_into(store, world.globex_device, index=2)
    client = Client()
    client.login(email=world.viewer.email, password=PASSWORD)
    page = client.get(f"/devices/{world.acme_device.pk}/").content.decode()
    end = int(time.time())
    legends = {}
    for expr, legend in chart_queries(page):
        response = client.get(
            "/prometheus/api/v1/query_range",
            {"query": expr.replace("$__rate_interval", "60s"), "start": end - 900,
             "end": end, "step": 15},
        )  # fmt: skip
        body = response.json()
        assert body["status"] == "success", (expr, body)
        result = body["data"]["result"]
        assert result, f"no data for {expr}"
        legends[legend] = result
    modes = {s["metric"]["mode"] for s in legends["{mode}"]}
    assert modes == {"user", "system", "iowait", "steal"}
    busy = sum(float(s["values"][-1][1]) for s in legends["{mode}"])
    assert 0 < busy < 100
    assert {s["metric"]["device"] for s in legends["rx {device}"]} == {SimHost(1).nic}
    assert {s["metric"]["mountpoint"] for s in legends["{mountpoint}"]} >= {"/", "/boot/efi"}
    cores = float(legends["cores"][0]["values"][-1][1])
    assert cores == SimHost(1).cores
