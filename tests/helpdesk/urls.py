"""URLs for the help desk tests while the lead has not mounted the router in api/v1 yet.

Once ``steward.api.v1`` includes the help desk router, ``MOUNTED`` is true and the tests
use the real URLconf; until then the same router is served at /api/v1/ by a NinjaAPI
with the same authentication and error handling.
"""

from __future__ import annotations

from django.urls import path
from ninja import NinjaAPI

from steward.api import errors
from steward.api.auth import SessionAuth, TokenAuth
from steward.api.v1 import api as main_api
from steward.helpdesk.api import router as helpdesk_router
from steward.server.urls import urlpatterns as base

MOUNTED = any(r is helpdesk_router for _, r in main_api._routers)

urlpatterns = list(base)
if not MOUNTED:
    fallback = NinjaAPI(auth=[TokenAuth(), SessionAuth()], urls_namespace="helpdesk-tests")
    errors.install(fallback)
    fallback.add_router("/", helpdesk_router)
    urlpatterns.insert(0, path("api/v1/", fallback.urls))
