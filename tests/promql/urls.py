"""The server's URLs plus the Prometheus API, as the lead will mount it in server/urls.py."""

from django.urls import include, path

from steward.metrics import prom_api
from steward.server.urls import urlpatterns as server_urlpatterns

urlpatterns = [
    path("prometheus/api/v1/", include(prom_api.urlpatterns)),
    *server_urlpatterns,
]
