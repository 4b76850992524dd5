"""Personas and API clients of the server tests (``world``, ``api``) for prom_api's tests."""

from tests.server.conftest import *  # noqa: F403
