from django.urls import include, path

from steward.api.v1 import api
from steward.ops import views as ops

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("api/v1/", api.urls),
    path("prometheus/api/v1/", include("steward.metrics.prom_api")),
    path("", include("steward.alerts.urls")),  # /ping/<uuid>: heartbeat checks
    path("", include("steward.console.urls")),
]
