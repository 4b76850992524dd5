"""URLs for the help desk console tests until the lead includes them in console/urls.py.

Once ``steward.console.urls`` carries the help desk and portal patterns, ``MOUNTED`` is
true and this module is the real URLconf unchanged; until then it serves the console with
them appended, in the same "console" namespace, so every test uses the final paths and names.
"""

from __future__ import annotations

from django.urls import include, path

from steward.console import urls as console_urls
from steward.console.helpdesk.urls import urlpatterns as helpdesk_patterns
from steward.console.portal.urls import urlpatterns as portal_patterns
from steward.server.urls import urlpatterns as base

MOUNTED = any(getattr(p, "name", None) == "portal" for p in console_urls.urlpatterns)

if MOUNTED:
    urlpatterns = list(base)
else:
    console = (console_urls.urlpatterns + helpdesk_patterns + portal_patterns, "console")
    urlpatterns = [p for p in base if getattr(p, "pattern", None) and str(p.pattern) != ""]
    urlpatterns.append(path("", include(console)))
