"""The console's alerts pages are where the docs and the navigation say."""

from __future__ import annotations

from django.urls import reverse


def test_the_alerts_pages_are_under_alerts() -> None:
    assert reverse("console:alerts") == "/alerts/"
    assert reverse("console:alert", args=[7]) == "/alerts/7/"
    assert reverse("console:alert-rules") == "/alerts/rules/"
    assert reverse("console:alert-windows") == "/alerts/maintenance/"
    assert reverse("console:alert-channel-deliveries", args=[3]) == "/alerts/channels/3/deliveries/"
