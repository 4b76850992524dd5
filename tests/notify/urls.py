"""The URLconf for notify's API tests: /api/v1 with the notify router mounted.

Until the lead mounts ``steward.notify.api.router`` in ``steward.api.v1``, the tests serve
it from a second NinjaAPI with the same authentication and error shape, in front of the
real URLconf. Once it is mounted, this is just the real URLconf.
"""

from django.urls import path
from ninja import NinjaAPI

from steward.api import errors
from steward.api.auth import SessionAuth, TokenAuth
from steward.api.v1 import api as v1
from steward.notify.api import router
from steward.server.urls import urlpatterns as real_urlpatterns

MOUNTED = any(r is router for _, r in v1._routers)

if MOUNTED:
    urlpatterns = list(real_urlpatterns)
else:
    notify_api = NinjaAPI(auth=[TokenAuth(), SessionAuth()], urls_namespace="notify-test-api")
    errors.install(notify_api)
    notify_api.add_router("/", router)
    urlpatterns = [path("api/v1/", notify_api.urls), *real_urlpatterns]
