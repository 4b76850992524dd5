"""The device list's "Alerts" column in a real browser: firing alerts (the most severe
one's badge) and failing checks per device, linking to the lists they count, without
widening the table past a 1440 px window. Screenshots go to the test's tmp_path and to
$STEWARD_SCREENSHOTS when set.
"""

from __future__ import annotations

import pytest
from tests.console.test_browser import open_page, populate, sign_in
from tests.console.test_core_dashboard import make_alert, make_check

from steward.inventory.models import Device

pytestmark = pytest.mark.browser


def test_the_device_list_shows_each_devices_alerts_and_failing_checks(
    transactional_db, live_server, world, browser, shots
):
    from playwright.sync_api import expect

    device = populate(world)  # "Reception PC", and two dozen quiet devices
    make_alert(device, "warning", name="High load")
    make_alert(device, "critical", name="Filesystem almost full")
    make_alert(device, "info", phase="pending", name="Agent outdated")
    make_alert(device, "critical", phase="acknowledged", name="Someone is on it")
    make_check(world.acme, "postgres port", "critical", device)
    make_check(world.acme, "sshd", "ok", device)
    other = Device.objects.get(hostname="srv-03")
    make_alert(other, "info", name="Reboot required")
    make_check(world.acme, "backup job", "warning", other)
    make_alert(world.globex_device, "critical", name="Globex only")

    context, page = open_page(browser, "light")
    sign_in(page, live_server.url, "root@msp.test")  # both organizations: widest table
    page.goto(f"{live_server.url}/devices/")
    header = page.get_by_role("columnheader")
    expect(header.nth(2)).to_have_text("Alerts")

    row = page.get_by_role("row").filter(has_text="Reception PC")
    alerts = row.get_by_role("link", name="Critical: the most severe of 3 firing alerts")
    expect(alerts).to_be_visible()
    expect(alerts.locator(".status")).to_have_text("Critical")
    expect(row.get_by_role("link", name="1 failing check")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="srv-03")
    expect(row.locator(".status-info")).to_have_text("Info")
    expect(row.get_by_role("link", name="1 failing check")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="globex-srv-01")
    expect(row.locator(".status-critical")).to_have_text("Critical")
    expect(page.get_by_role("row").filter(has_text="ws-05").locator("td").nth(2)).to_have_text("—")
    overflow = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth,"
        " document.querySelector('table.devices').getBoundingClientRect().right]"
    )
    assert overflow[0] <= overflow[1] and overflow[2] <= overflow[1], overflow
    shots(page, "devices-alerts-light")

    # The count opens the alert list's Firing tab for that device: the same three alerts.
    page.get_by_role("row").filter(has_text="Reception PC").get_by_role(
        "link", name="Critical: the most severe of 3 firing alerts"
    ).click()
    page.wait_for_url(f"**/alerts/?tab=firing&device={device.pk}")
    expect(page.locator("table.al-table tbody tr")).to_have_count(3)
    context.close()

    context, page = open_page(browser, "dark")
    sign_in(page, live_server.url, "tech@acme.test")
    page.goto(f"{live_server.url}/devices/")
    expect(
        page.get_by_role("row").filter(has_text="Reception PC").locator(".status-critical")
    ).to_be_visible()
    shots(page, "devices-alerts-dark")
    context.close()
