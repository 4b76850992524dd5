"""URLs for the console alerts tests until the lead includes them in console/urls.py.

Once ``steward.console.urls`` carries the alerts patterns, ``MOUNTED`` is true and this
module is the real URLconf unchanged; until then it serves the console with them appended,
in the same "console" namespace, so every test uses the final paths and names.
"""

from __future__ import annotations

from django.urls import include, path, reverse

from steward.console import urls as console_urls
from steward.console.alerts.urls import urlpatterns as alerts_patterns
from steward.server.urls import urlpatterns as base

MOUNTED = any(getattr(p, "name", None) == "alerts" for p in console_urls.urlpatterns)

if MOUNTED:
    urlpatterns = list(base)
else:
    console = (console_urls.urlpatterns + alerts_patterns, "console")
    # Everything but the console's include (the heartbeat ping URLs are also at "").
    urlpatterns = [
        p for p in base if "steward.console.urls" not in str(getattr(p, "urlconf_name", ""))
    ]
    urlpatterns.append(path("", include(console)))


def test_the_alerts_pages_are_under_alerts(settings) -> None:
    settings.ROOT_URLCONF = __name__
    assert reverse("console:alerts") == "/alerts/"
    assert reverse("console:alert", args=[7]) == "/alerts/7/"
    assert reverse("console:alert-rules") == "/alerts/rules/"
    assert reverse("console:alert-windows") == "/alerts/maintenance/"
    assert reverse("console:alert-channel-deliveries", args=[3]) == "/alerts/channels/3/deliveries/"
