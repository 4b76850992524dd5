"""URLs for the metrics tests: the server's, with the metrics routers mounted in front.

Mirrors the lines the lead adds to ``steward/api/v1.py``; once they are there, these
routes simply shadow identical ones.
"""

from django.urls import path
from ninja import NinjaAPI

from steward.api import errors
from steward.api.auth import SessionAuth, TokenAuth
from steward.metrics.agent import router as agent_metrics_router
from steward.metrics.api import router as metrics_router
from steward.metrics.write import router as write_router
from steward.server.urls import urlpatterns as server_urlpatterns

api = NinjaAPI(auth=[TokenAuth(), SessionAuth()], urls_namespace="metrics-test", docs_url=None)
errors.install(api)
api.add_router("/", metrics_router)
api.add_router("/", write_router)
api.add_router("/agent", agent_metrics_router)

urlpatterns = [path("api/v1/", api.urls), *server_urlpatterns]
