"""Charts in a real browser: the device page's metrics and the fleet overview.

Chromium (Playwright) against pytest-django's live server, with a simulated host's series
in an in-memory store. Screenshots go to the test's tmp_path and to
$STEWARD_SCREENSHOTS when set, for a design review.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.utils import timezone
from tests.console.test_browser import REPORT, open_page, sign_in
from tests.server.conftest import make_device

from steward.inventory import services
from steward.metrics.store import set_store_for_tests
from steward.promql.memstore import MemoryStore
from steward.simulate.host import SimHost
from steward.tsdb.types import Sample

pytestmark = pytest.mark.browser


@pytest.fixture
def store():
    store = MemoryStore()
    set_store_for_tests(store)
    yield store
    set_store_for_tests(None)


def history(store, device, index: int, hours: float = 24) -> None:
    """``hours`` of a simulated host: the last hour every 10 s, before that every minute."""
    host = SimHost(index)
    now = time.time()
    t = now - hours * 3600
    host.start(t)
    labels = {
        "instance": device.hostname,
        "job": "steward",
        "steward_device": str(device.pk),
        "steward_org": device.organization.slug,
    }
    samples = []
    while t < now:
        t += 10 if now - t < 3600 else 60
        host.step(t)
        ms = int(t * 1000)
        for (name, pairs), value in host.samples():
            samples.append(Sample({**dict(pairs), **labels, "__name__": name}, ms, value))
    store.append(device.organization_id, samples)


def wait_for_charts(page, generation: int = 1) -> None:
    page.wait_for_function(
        "g => Number(document.querySelector('[data-charts]')"
        "?.getAttribute('data-charts-loaded') || 0) >= g",
        arg=generation,
    )


def test_device_charts_render_hover_switch_range_and_theme(
    transactional_db, live_server, world, browser, store, shots
):
    from playwright.sync_api import expect

    device = world.acme_device
    services.apply_inventory(device, REPORT, [])
    device.last_seen = timezone.now()
    device.save()
    history(store, device, index=7)
    context, page = open_page(browser, "light")
    sign_in(page, live_server.url, "tech@acme.test")

    page.goto(f"{live_server.url}/devices/{device.pk}/")
    wait_for_charts(page)
    panel = page.locator("[data-charts]")
    figures = panel.locator("figure.chart")
    expect(figures).to_have_count(6)
    for i in range(6):
        expect(figures.nth(i).locator("path.chart-line").first).to_be_attached()
    expect(panel.locator("[data-charts-empty]")).to_be_hidden()
    cpu = figures.nth(0)
    expect(cpu.locator(".chart-key")).to_have_text(["user", "system", "iowait", "steal"])
    label = cpu.locator("svg.chart-svg").get_attribute("aria-label")
    assert label.startswith("CPU % of all cores, the last hour: user now ")
    network = figures.nth(5)
    expect(network.locator(".chart-key", has_text="lo")).to_have_count(0)
    expect(network.locator(".chart-axis", has_text="/s").first).to_be_attached()
    shots(panel, "device-charts-1h")

    box = cpu.locator("svg.chart-svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    tooltip = cpu.locator(".chart-tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("user")
    expect(tooltip).to_contain_text("Total")
    expect(cpu.locator(".chart-hoverdot")).to_have_count(4)
    expect(cpu.locator(".chart-hoverdot").first).to_be_visible()
    shots(cpu, "device-cpu-hover")

    cpu.get_by_role("button", name="system").click()
    expect(cpu.get_by_role("button", name="system")).to_have_attribute("aria-pressed", "false")

    panel.get_by_role("button", name="24 h").click()
    expect(panel.get_by_role("button", name="24 h")).to_have_attribute("aria-pressed", "true")
    wait_for_charts(page, 2)
    assert panel.get_attribute("data-range-current") == "24h"
    expect(figures.nth(1).locator("path.chart-line").first).to_be_attached()
    figures.nth(2).locator("summary", has_text="Data table").click()
    expect(figures.nth(2).locator("table.chart-table tbody tr").first).to_be_visible()
    # The table's header sticks to the top of its own scroll box, not below the page's
    # top bar (where rows would show above it): at rest and scrolled, nothing above it.
    host = figures.nth(2).locator(".chart-table-host")
    for scrolled in (0, 60):
        host.evaluate("(el, y) => { el.scrollTop = y; }", scrolled)
        host_top = host.evaluate("el => el.getBoundingClientRect().top")
        head_top = host.evaluate("el => el.querySelector('th').getBoundingClientRect().top")
        assert abs(head_top - host_top) < 1.5, (scrolled, head_top, host_top)
    host.evaluate("el => { el.scrollTop = 0; }")
    page.evaluate("window.scrollTo(0, 0)")
    shots(page, "device-page-24h")
    context.close()

    context, page = open_page(browser, "dark")
    sign_in(page, live_server.url, "tech@acme.test")
    page.goto(f"{live_server.url}/devices/{device.pk}/")
    wait_for_charts(page)  # the range chosen above is remembered per browser profile only
    page.locator("[data-charts] figure.chart").nth(3).hover()
    shots(page.locator("[data-charts]"), "device-charts-dark")
    context.close()


def test_a_device_without_metrics_says_when_they_will_arrive(
    transactional_db, live_server, world, browser, store
):
    from playwright.sync_api import expect

    context, page = open_page(browser)
    sign_in(page, live_server.url, "viewer@acme.test")
    page.goto(f"{live_server.url}/devices/{world.acme_device.pk}/")
    wait_for_charts(page)
    expect(page.get_by_text("No metrics from this device yet")).to_be_visible()
    expect(page.locator("figure.chart .chart-message").first).to_have_text(
        "No CPU data in this range."
    )
    context.close()


def test_fleet_overview(transactional_db, live_server, world, browser, store, shots):
    from playwright.sync_api import expect

    now = timezone.now()
    for i in range(14):
        device = make_device(world.acme_hq, f"srv-{i:02d}", last_seen=now)
        history(store, device, index=100 + i, hours=1.2)
    history(store, world.globex_device, index=99, hours=1.2)
    context, page = open_page(browser, "light")
    sign_in(page, live_server.url, "tech@acme.test")
    page.goto(f"{live_server.url}/metrics/")
    expect(page.get_by_role("heading", name="Fleet")).to_be_visible()
    cpu = page.locator("section", has=page.get_by_role("heading", name="Highest CPU"))
    expect(cpu.locator("tbody tr")).to_have_count(10)
    expect(cpu.locator("svg.spark path.spark-line")).to_have_count(10)
    expect(page.get_by_text("globex-srv-01")).to_have_count(0)
    shots(page, "fleet-light")
    context.close()
    context, page = open_page(browser, "dark")
    sign_in(page, live_server.url, "tech@acme.test")
    page.goto(f"{live_server.url}/metrics/")
    shots(page, "fleet-dark")
    context.close()


def test_fleet_overview_while_its_first_snapshot_is_computed(
    transactional_db, live_server, world, browser, store, shots, monkeypatch
):
    """The page answers before the rankings are ready, says so, and reloads itself until
    they are shown (no script needed: a refresh meta tag)."""
    from playwright.sync_api import expect

    from steward.console.metrics import queries, views

    now = timezone.now()
    for i in range(12):
        device = make_device(world.acme_hq, f"srv-{i:02d}", last_seen=now)
        history(store, device, index=100 + i, hours=1.1)
    gate = threading.Event()
    real_snapshot = queries.snapshot

    def held_snapshot(*args, **kwargs):
        assert gate.wait(60)
        return real_snapshot(*args, **kwargs)

    monkeypatch.setattr(queries, "snapshot", held_snapshot)
    monkeypatch.setattr(queries, "FIRST_WAIT_SECONDS", 0.05)
    monkeypatch.setattr(views, "GATHERING_RELOAD_SECONDS", 1)
    context, page = open_page(browser, "light")
    try:
        sign_in(page, live_server.url, "tech@acme.test")
        page.goto(f"{live_server.url}/metrics/")
        expect(page.locator("#fleet-gathering")).to_be_visible()
        expect(page.get_by_text("Gathering…")).to_have_count(3)
        shots(page, "fleet-gathering")
        gate.set()
        cpu = page.locator("section", has=page.get_by_role("heading", name="Highest CPU"))
        expect(cpu.locator("tbody tr")).to_have_count(10, timeout=20_000)
        expect(page.locator("#fleet-gathering")).to_have_count(0)
    finally:
        gate.set()
        queries.wait_for_refreshes()
        context.close()
