"""URLs for the insights tests while the lead has not mounted the router in api/v1 yet."""

from __future__ import annotations

from django.urls import path
from ninja import NinjaAPI

from steward.api import errors
from steward.api.auth import SessionAuth, TokenAuth
from steward.api.v1 import api as main_api
from steward.insights.api import router as insights_router
from steward.server.urls import urlpatterns as base

MOUNTED = any(r is insights_router for _, r in main_api._routers)

urlpatterns = list(base)
if not MOUNTED:
    fallback = NinjaAPI(auth=[TokenAuth(), SessionAuth()], urls_namespace="insights-tests")
    errors.install(fallback)
    fallback.add_router("/", insights_router)
    urlpatterns.insert(0, path("api/v1/", fallback.urls))
