"""URLs for the console metrics tests until the lead includes them in console/urls.py.

Once ``steward.console.urls`` carries the metrics patterns, ``MOUNTED`` is true and this
module is the real URLconf unchanged; until then it serves the console with them appended,
in the same "console" namespace, so every test uses the final paths and names.
"""

from __future__ import annotations

from django.urls import include, path, reverse

from steward.console import urls as console_urls
from steward.console.metrics.urls import urlpatterns as metrics_patterns
from steward.server.urls import urlpatterns as base

MOUNTED = any(getattr(p, "name", None) == "fleet" for p in console_urls.urlpatterns)

if MOUNTED:
    urlpatterns = list(base)
else:
    console = (console_urls.urlpatterns + metrics_patterns, "console")
    urlpatterns = [p for p in base if getattr(p, "pattern", None) and str(p.pattern) != ""]
    urlpatterns.append(path("", include(console)))


def test_the_fleet_page_is_at_metrics(settings) -> None:
    settings.ROOT_URLCONF = __name__
    assert reverse("console:fleet") == "/metrics/"
    assert reverse("console:device", args=[7]) == "/devices/7/"
