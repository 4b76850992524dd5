"""The dashboard in a real browser: what needs attention (firing alerts by severity,
failing checks, open tickets) above the fleet's presence, in light and dark themes.
Screenshots go to the test's tmp_path and to $STEWARD_SCREENSHOTS when set.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from tests.console.test_browser import open_page, populate, sign_in
from tests.console.test_core_dashboard import make_alert, make_check, make_ticket

from steward.helpdesk.models import SlaEvent, Status, Ticket

pytestmark = pytest.mark.browser


def attention(world) -> None:
    device = world.acme_device
    make_alert(device, "critical", name="Filesystem almost full", value="0.97")
    make_alert(device, "critical", name="Check failing")
    make_alert(device, "warning", name="High load", value="7.25")
    make_alert(device, "info", name="Agent outdated")
    make_alert(device, "critical", phase="acknowledged", name="Someone is on it")
    make_check(world.acme, "postgres port", "critical", device, message="connection refused")
    make_check(world.acme, "website", "warning", message="HTTP 200 in 2.4 s (over 2 s)")
    make_check(world.acme, "sshd", "ok", device)
    make_ticket(world.acme, "Printer jammed", assignee=world.technician)
    soon = make_ticket(world.acme, "VPN down at the branch", status=Status.NEW)
    Ticket.objects.filter(pk=soon.pk).update(sla_next_due_at=timezone.now() + timedelta(hours=1))
    late = make_ticket(world.acme, "New starter laptop")
    SlaEvent.objects.create(ticket=late, target="resolution", kind=SlaEvent.BREACH)


def test_the_dashboard_shows_what_needs_attention(
    transactional_db, live_server, world, browser, shots
):
    from playwright.sync_api import expect

    populate(world)
    attention(world)
    context, page = open_page(browser, "light")
    sign_in(page, live_server.url, "tech@acme.test")

    expected = {
        "alerts-critical": "2",
        "alerts-warning": "1",
        "alerts-info": "1",
        "checks": "2",
        "tickets-open": "3",
        "tickets-unassigned": "2",
        "tickets-breaching": "1",
        "tickets-breached": "1",
    }
    for key, value in expected.items():
        expect(page.locator(f'[data-stat="{key}"] .stat-value')).to_have_text(value)
    alerts = page.get_by_role("region", name="Firing alerts", exact=True)
    expect(alerts.get_by_role("row")).to_have_count(1 + 4)
    expect(alerts.get_by_role("row").nth(1)).to_contain_text("Critical")
    expect(alerts).not_to_contain_text("Someone is on it")
    checks = page.get_by_role("region", name="Failing checks", exact=True)
    expect(checks.get_by_role("row").nth(1)).to_contain_text("postgres port")
    expect(checks.get_by_role("row").nth(2)).to_contain_text("server-side")
    shots(page, "dashboard-attention-light")

    # A severity tile opens the alert list filtered the same way.
    page.locator('[data-stat="alerts-critical"]').click()
    page.wait_for_url("**/alerts/?tab=firing&severity=critical")
    expect(page.locator("table.al-table tbody tr")).to_have_count(2)
    context.close()

    context, page = open_page(browser, "dark")
    sign_in(page, live_server.url, "tech@acme.test")
    expect(page.locator('[data-stat="alerts-critical"] .stat-value')).to_have_text("2")
    shots(page, "dashboard-attention-dark")
    context.close()
