"""The fleet overview at /metrics/: rankings, sparklines, offline devices, tenancy, cost."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import Client
from tests.server.conftest import PASSWORD, make_device

from steward.console.metrics import queries, views
from steward.console.metrics.sparkline import sparkline
from steward.inventory.models import Device
from steward.metrics.store import set_store_for_tests
from steward.promql.memstore import MemoryStore
from steward.tsdb.types import Sample


@pytest.fixture
def store():
    store = MemoryStore()
    set_store_for_tests(store)
    yield store
    set_store_for_tests(None)


def put_host(store, device: Device, busy: float, mem_used: float, fs_used: float, now_s: float):
    """Ten minutes of the series the fleet page reads, every 10 s, for one device."""
    labels = {
        "instance": device.hostname,
        "job": "steward",
        "steward_device": str(device.pk),
        "steward_org": device.organization.slug,
    }
    samples = []
    for k in range(61):
        t = now_s - 600 + 10 * k
        ms = int(t * 1000)
        for cpu in ("0", "1"):
            idle = {**labels, "__name__": "node_cpu_seconds_total", "cpu": cpu, "mode": "idle"}
            samples.append(Sample(idle, ms, 1000 + (1 - busy) * 10 * k))
        total = 8 * 2**30
        samples.append(Sample({**labels, "__name__": "node_memory_MemTotal_bytes"}, ms, total))
        avail = {**labels, "__name__": "node_memory_MemAvailable_bytes"}
        samples.append(Sample(avail, ms, total * (1 - mem_used)))
        fs = {**labels, "device": "/dev/sda2", "fstype": "ext4", "mountpoint": "/"}
        samples.append(Sample({**fs, "__name__": "node_filesystem_size_bytes"}, ms, 100.0))
        samples.append(
            Sample({**fs, "__name__": "node_filesystem_avail_bytes"}, ms, 100 * (1 - fs_used))
        )
        samples.append(Sample({**labels, "__name__": "node_load1"}, ms, busy * 2))
    store.append(device.organization_id, samples)


def signed_in(user) -> Client:
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_it_ranks_devices_by_cpu_memory_and_fullest_filesystem(world, store) -> None:
    now = time.time()
    busy = make_device(world.acme_hq, "acme-busy")
    calm = make_device(world.acme_hq, "acme-calm")
    put_host(store, busy, busy=0.9, mem_used=0.3, fs_used=0.97, now_s=now)
    put_host(store, calm, busy=0.1, mem_used=0.8, fs_used=0.2, now_s=now)

    response = signed_in(world.viewer).get("/metrics/")

    assert response.status_code == 200
    cpu = [row.device.hostname for row in response.context["cpu"]]
    memory = [row.device.hostname for row in response.context["memory"]]
    fs = response.context["filesystems"]
    assert cpu == ["acme-busy", "acme-calm"]
    assert response.context["cpu"][0].value == pytest.approx(90, abs=0.5)
    assert memory == ["acme-calm", "acme-busy"]
    assert (fs[0].device.hostname, fs[0].mountpoint, fs[0].level) == ("acme-busy", "/", "critical")
    assert response.context["reporting"] == 2
    assert fs[0].spark is not None and fs[0].spark.line.startswith("M")
    html = response.content.decode()
    assert f'href="/devices/{busy.pk}/"' in html
    assert 'class="spark spark-critical"' in html


def test_another_organizations_devices_never_appear(world, store) -> None:
    now = time.time()
    put_host(store, world.acme_device, busy=0.2, mem_used=0.2, fs_used=0.2, now_s=now)
    put_host(store, world.globex_device, busy=0.99, mem_used=0.99, fs_used=0.99, now_s=now)

    response = signed_in(world.viewer).get("/metrics/")

    html = response.content.decode()
    assert "globex-srv-01" not in html
    assert f"/devices/{world.globex_device.pk}/" not in html
    assert [r.device.pk for r in response.context["cpu"]] == [world.acme_device.pk]
    assert response.context["reporting"] == 1


def test_offline_devices_come_from_the_inventory(world, store) -> None:
    response = signed_in(world.viewer).get("/metrics/")

    assert [d.hostname for d in response.context["offline"]] == ["acme-ws-01"]
    assert "No device has sent metrics yet" in response.content.decode()


def test_the_page_needs_a_sign_in(world) -> None:
    response = Client().get("/metrics/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_database_queries_do_not_grow_with_the_fleet(
    world, store, django_assert_max_num_queries
) -> None:
    now = time.time()
    for i in range(40):
        put_host(store, make_device(world.acme_hq, f"acme-{i:02d}"), 0.01 * i, 0.5, 0.5, now)
    client = signed_in(world.owner)
    client.get("/metrics/")  # session and caches warm
    with django_assert_max_num_queries(12):
        response = client.get("/metrics/")
    assert len(response.context["cpu"]) == 10
    assert response.context["reporting"] == 40


def test_sparkline_breaks_at_gaps_and_stays_in_its_box() -> None:
    spark = sparkline([0.0, 50.0, float("nan"), 100.0, 100.0], 0.0, 100.0)
    assert spark is not None
    assert spark.line.count("M") == 2
    assert spark.line.startswith("M0.0,24.5")
    assert sparkline([float("nan")]) is None


def test_the_sparkline_query_narrows_to_the_devices_shown() -> None:
    assert queries.expr(queries.CPU_BUSY, [12, 3]) == (
        '100 * (1 - avg by (steward_device) (rate(node_cpu_seconds_total{mode="idle",'
        'steward_device=~"3|12"}[5m])))'
    )


def test_the_cache_is_per_scope_of_organizations(world, store) -> None:
    now = time.time()
    put_host(store, world.acme_device, busy=0.2, mem_used=0.2, fs_used=0.2, now_s=now)
    put_host(store, world.globex_device, busy=0.99, mem_used=0.99, fs_used=0.99, now_s=now)
    acme, globex = signed_in(world.viewer), signed_in(world.outsider)

    for _ in range(2):  # computed, then served from the cache: the same rows either way
        seen_by_acme = acme.get("/metrics/")
        seen_by_globex = globex.get("/metrics/")
        for response, mine, theirs in (
            (seen_by_acme, world.acme_device, world.globex_device),
            (seen_by_globex, world.globex_device, world.acme_device),
        ):
            for key in ("cpu", "memory", "filesystems"):
                assert [r.device.pk for r in response.context[key]] == [mine.pk]
            assert response.context["reporting"] == 1
            assert f"/devices/{theirs.pk}/" not in response.content.decode()
            assert theirs.hostname not in response.content.decode()
    assert seen_by_acme.context["cached"] and seen_by_globex.context["cached"]
    assert seen_by_acme.context["cpu_mean"] == pytest.approx(20, abs=0.5)
    assert seen_by_globex.context["cpu_mean"] == pytest.approx(99, abs=0.5)


def test_cache_keys_name_every_organization_read_and_the_store() -> None:
    one, other = MemoryStore(), MemoryStore()
    assert queries.cache_key(one, [2, 1]) == queries.cache_key(one, [1, 2, 2])
    keys = {
        queries.cache_key(one, [1]),
        queries.cache_key(one, [2]),
        queries.cache_key(one, [1, 2]),
        queries.cache_key(one, []),
        queries.cache_key(one, None),
        queries.cache_key(other, [1]),
    }
    assert len(keys) == 6


def test_newer_data_shows_once_the_snapshot_expires(world, store, monkeypatch) -> None:
    now = time.time()
    put_host(store, world.acme_device, busy=0.2, mem_used=0.2, fs_used=0.2, now_s=now)
    client = signed_in(world.viewer)
    first = client.get("/metrics/")
    assert [r.device.pk for r in first.context["cpu"]] == [world.acme_device.pk]
    assert not first.context["cached"]

    busy = make_device(world.acme_hq, "acme-busy")
    put_host(store, busy, busy=0.9, mem_used=0.9, fs_used=0.9, now_s=now)
    again = client.get("/metrics/")
    assert again.context["cached"]
    assert [r.device.pk for r in again.context["cpu"]] == [world.acme_device.pk]

    later = views.now_ms() + queries.CACHE_SECONDS * 1000 + 1
    monkeypatch.setattr(views, "now_ms", lambda: later)
    stale = client.get("/metrics/")  # served at once; its successor is computed meanwhile
    assert stale.context["cached"]
    assert [r.device.pk for r in stale.context["cpu"]] == [world.acme_device.pk]
    queries.wait_for_refreshes()
    fresh = client.get("/metrics/")
    assert fresh.context["cached"]
    assert [r.device.pk for r in fresh.context["cpu"]] == [busy.pk, world.acme_device.pk]
    assert fresh.context["reporting"] == 2


def test_a_snapshot_too_old_to_serve_is_computed_in_the_request(world, store, monkeypatch):
    now = time.time()
    put_host(store, world.acme_device, busy=0.2, mem_used=0.2, fs_used=0.2, now_s=now)
    client = signed_in(world.viewer)
    client.get("/metrics/")
    busy = make_device(world.acme_hq, "acme-busy")
    later = views.now_ms() + queries.STALE_SECONDS * 1000 + 1
    put_host(store, world.acme_device, busy=0.2, mem_used=0.2, fs_used=0.2, now_s=later / 1000)
    put_host(store, busy, busy=0.9, mem_used=0.9, fs_used=0.9, now_s=later / 1000)
    monkeypatch.setattr(views, "now_ms", lambda: later)
    expired = client.get("/metrics/")
    assert not expired.context["cached"]
    assert [r.device.pk for r in expired.context["cpu"]] == [busy.pk, world.acme_device.pk]


def test_a_slow_first_snapshot_leaves_the_page_answering(world, store, monkeypatch) -> None:
    """The first snapshot of a scope is computed in the background: a request that has
    waited ``FIRST_WAIT_SECONDS`` shows the database part and reloads itself; requests
    meanwhile share the one computation; once it is done the page shows the rankings."""
    put_host(store, world.acme_device, busy=0.2, mem_used=0.2, fs_used=0.2, now_s=time.time())
    gate = threading.Event()
    computed: list[int] = []
    real_snapshot = queries.snapshot

    def held_snapshot(*args, **kwargs):  # the real computation, once the test lets it go
        computed.append(1)
        assert gate.wait(30)
        return real_snapshot(*args, **kwargs)

    monkeypatch.setattr(queries, "snapshot", held_snapshot)
    monkeypatch.setattr(queries, "FIRST_WAIT_SECONDS", 0.05)
    client = signed_in(world.viewer)
    try:
        for _ in range(2):
            waiting = client.get("/metrics/")
            assert waiting.status_code == 200
            assert waiting.context["gathering"] and waiting.context["cpu"] == []
            html = waiting.content.decode()
            assert 'id="fleet-gathering"' in html
            assert '<meta http-equiv="refresh" content="3">' in html
            assert "No device has sent metrics yet" not in html
            assert waiting.context["counts"]["online"] + waiting.context["counts"]["offline"]
        assert len(computed) == 1, "one computation for both requests"
    finally:
        gate.set()
        queries.wait_for_refreshes()
    ready = client.get("/metrics/")
    assert not ready.context["gathering"] and ready.context["cached"]
    assert [r.device.pk for r in ready.context["cpu"]] == [world.acme_device.pk]
    assert 'http-equiv="refresh"' not in ready.content.decode()
    assert len(computed) == 1


def test_a_failing_snapshot_is_an_error_not_a_page_that_reloads_for_ever(
    world, store, monkeypatch
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("the store is broken")

    monkeypatch.setattr(queries, "snapshot", broken)
    with pytest.raises(RuntimeError, match="the store is broken"):
        signed_in(world.viewer).get("/metrics/")
