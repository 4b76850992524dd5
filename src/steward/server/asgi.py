"""The ASGI application served by uvicorn (``steward serve``)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.server.settings")

from django.core.asgi import get_asgi_application

application = get_asgi_application()
