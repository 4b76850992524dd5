"""The Django project: settings, URL map, ASGI application and cross-cutting middleware."""
