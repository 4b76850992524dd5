"""The console's metrics pages are where the docs and the navigation say."""

from __future__ import annotations

from django.urls import reverse


def test_the_fleet_page_is_at_metrics() -> None:
    assert reverse("console:fleet") == "/metrics/"
    assert reverse("console:device", args=[7]) == "/devices/7/"
