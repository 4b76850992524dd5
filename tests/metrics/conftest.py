from __future__ import annotations

import pytest

from steward.metrics import ingest
from steward.metrics.store import set_store_for_tests
from tests.metrics.memstore import MemoryStore
from tests.server.conftest import *  # noqa: F403


@pytest.fixture(autouse=True)
def metrics_store():
    """A fresh in-memory store for every test (the real one has its own tests)."""
    store = MemoryStore()
    set_store_for_tests(store)
    ingest.devices.clear()
    ingest.forget_metadata_cache()
    yield store
    set_store_for_tests(None)
    ingest.devices.clear()
    ingest.forget_metadata_cache()
