"""The ASGI application served by uvicorn (``steward serve``).

Django's, behind the lean route for agent metrics batches (``steward.server.lean``).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.server.settings")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()  # sets Django up: import the rest after

from steward.server.lean import LeanRoutes  # noqa: E402

application = LeanRoutes(django_application)
