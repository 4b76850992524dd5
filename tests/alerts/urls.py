"""URLs for the alerts tests while the lead has not mounted the routers yet (LEAD_TODO.md).

Once ``steward.api.v1`` includes the alerts router, ``MOUNTED`` is true and the tests use
the real URLconf (plus the ping URLs if the root URLconf lacks them).
"""

from __future__ import annotations

from django.urls import include, path
from ninja import NinjaAPI

from steward.alerts.agent_api import router as agent_checks_router
from steward.alerts.api import router as alerts_router
from steward.api import errors
from steward.api.auth import SessionAuth, TokenAuth
from steward.api.v1 import api as main_api
from steward.server.urls import urlpatterns as base

MOUNTED = any(r is alerts_router for _, r in main_api._routers)
PINGS_MOUNTED = any("steward.alerts.urls" in str(getattr(p, "urlconf_name", "")) for p in base)

urlpatterns = list(base)
if not PINGS_MOUNTED:
    urlpatterns.insert(0, path("", include("steward.alerts.urls")))
fallback = None
if not MOUNTED:
    fallback = NinjaAPI(auth=[TokenAuth(), SessionAuth()], urls_namespace="alerts-tests")
    errors.install(fallback)
    fallback.add_router("/", alerts_router)
    fallback.add_router("/agent", agent_checks_router)
    urlpatterns.insert(0, path("api/v1/", fallback.urls))
