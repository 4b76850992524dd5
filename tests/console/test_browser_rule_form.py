"""The rule form in a real browser: choosing a kind shows only that kind's condition fields,
and an admin creates a forecast rule with them."""

from __future__ import annotations

import pytest
from tests.console.test_browser import open_page, sign_in

from steward.alerts.models import AlertRule

pytestmark = pytest.mark.browser


def test_the_kind_chooses_the_fields_and_a_forecast_rule_is_saved(
    transactional_db, live_server, world, browser
):
    from playwright.sync_api import expect

    base = live_server.url
    context, page = open_page(browser)
    sign_in(page, base, "admin@acme.test")
    page.goto(f"{base}/alerts/rules/new/?org={world.acme.pk}")
    expect(page.get_by_label("Metric")).to_be_visible()  # threshold, the default kind
    expect(page.get_by_label("Resource")).to_be_hidden()

    page.get_by_label("Kind").select_option("forecast")
    expect(page.get_by_label("Metric")).to_be_hidden()
    expect(page.get_by_label("Threshold")).to_be_hidden()
    page.get_by_label("Name").fill("Data volume filling")
    page.get_by_label("Resource").fill("filesystem /data")
    page.get_by_label("Within").fill("7d")
    page.get_by_label("Bound").select_option("late")
    page.get_by_role("button", name="Create rule").click()
    page.wait_for_url(f"{base}/alerts/rules/**")
    context.close()

    rule = AlertRule.objects.get(organization=world.acme, name="Data volume filling")
    assert rule.condition == {
        "kind": "forecast",
        "resource": "filesystem /data",
        "within_s": 7 * 86400.0,
        "bound": "late",
    }
