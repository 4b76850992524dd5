"""Real-process tests get a data directory and, on PostgreSQL, a database of their own.

The processes they start use ``STEWARD_DATABASE_URL`` directly (not pytest-django's test
database), so on PostgreSQL each test creates a fresh database and drops it afterwards.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest


@pytest.fixture
def steward_env(tmp_path):
    env = dict(os.environ, STEWARD_HOME=str(tmp_path / "home"), STEWARD_LOG_LEVEL="warning")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    url = os.environ.get("STEWARD_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield env
        return
    import psycopg

    parts = urlsplit(url)
    name = f"steward_it_{uuid.uuid4().hex[:12]}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env["STEWARD_DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    yield env
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
