"""Server processes opening the PostgreSQL store at the same moment (``steward serve
--workers N``: each process opens it at its first ingest request).

The second ``setup`` waits on the advisory lock for the first to commit, but an advisory
lock does not make PostgreSQL read catalog invalidations: its ``CREATE SCHEMA IF NOT
EXISTS`` could miss the schema just created and fail on the catalog's unique index
(``bench/ingest.py --workers 2`` on PostgreSQL: a 500 on the first line-protocol write).
"""

from __future__ import annotations

import threading
import uuid

import pytest

from steward.tsdb.backends import PostgresBackend
from tests.tsdb.conftest import pg_url_or_skip

OPENERS = 4


@pytest.mark.parametrize("attempt", range(5))
def test_processes_setting_up_one_schema_at_once_all_succeed(attempt):
    url = pg_url_or_skip()
    schema = f"tsdb_race_{uuid.uuid4().hex[:12]}"
    backends = [PostgresBackend(url, schema) for _ in range(OPENERS)]
    for backend in backends:
        backend.conn()  # connected before the start: only setup() races
    start = threading.Barrier(OPENERS)
    errors: list[BaseException] = []

    def open_one(backend: PostgresBackend) -> None:
        start.wait()
        try:
            backend.setup()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(b,)) for b in backends]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        row = backends[0].conn().execute("SELECT value FROM meta WHERE key = 'watermark'")
        assert row.fetchone() is not None
    finally:
        backends[0].drop_schema()
        for backend in backends:
            backend.close()
