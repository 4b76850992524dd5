"""The alerts pages in a real browser: an alert fires (an agent posts a failing check
result), shows on the alerts page, the technician acknowledges it with a note, and the
timeline shows the acknowledgement. Screenshots (light and dark) go to the test's tmp_path
and to $STEWARD_SCREENSHOTS when set, for a design review.
"""

from __future__ import annotations

import pytest
from tests.console.test_alerts_views import fire
from tests.console.test_browser import open_page, sign_in

from steward.alerts.models import Alert
from steward.metrics.store import set_store_for_tests
from steward.promql.memstore import MemoryStore

pytestmark = pytest.mark.browser


@pytest.fixture
def setup():
    store = MemoryStore()  # check results are also written as series: the detail's chart
    set_store_for_tests(store)
    yield store
    set_store_for_tests(None)


def test_technician_acknowledges_a_firing_alert_with_a_note(
    transactional_db, live_server, world, browser, setup, shots
):
    alert = fire(world.acme_device)
    fire(world.acme_device, "nginx running", status="warning")
    base = live_server.url
    for scheme in ("light", "dark"):
        context, page = open_page(browser, color_scheme=scheme)
        sign_in(page, base, "tech@acme.test")
        # Light: both fire. Dark (after the acknowledgement): it waits on its own tab.
        tab = "firing" if scheme == "light" else "acknowledged"
        page.goto(f"{base}/alerts/?tab={tab}")
        row = page.locator("tr", has_text="sshd running")
        row.wait_for()
        assert "acme-ws-01" in row.inner_text()
        firing = "2" if scheme == "light" else "1"
        assert page.locator(".al-tabs [data-count=firing]").inner_text() == firing
        shots(page, f"alerts-list-{scheme}")
        if scheme == "light":
            row.get_by_role("link").first.click()
            page.get_by_label("Note").fill("Restarting sshd")
            page.get_by_role("button", name="Acknowledge").click()
            page.get_by_text("Acknowledged.").wait_for()
            timeline = page.locator("[data-timeline]")
            assert "Acknowledged" in timeline.inner_text()
            assert "Restarting sshd" in page.locator(".kv").first.inner_text()
        else:
            page.goto(f"{base}/alerts/{alert.pk}/")
        page.wait_for_selector("[data-alert-charts] figure[data-chart-loaded]")
        shots(page, f"alert-detail-{scheme}")
        context.close()
    alert.refresh_from_db()
    assert (alert.phase, alert.acknowledged_by, alert.ack_note) == (
        "acknowledged",
        "tech@acme.test",
        "Restarting sshd",
    )
    assert Alert.objects.get(labels__check="nginx running").phase == "firing"
