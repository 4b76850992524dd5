"""The metrics routes are mounted where the protocol and the docs say, with a valid schema."""

from __future__ import annotations

import pytest
from django.urls import resolve

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_lists_the_metrics_endpoints(api, world):
    schema = api.as_(world.viewer).get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/agent/metrics",
        "/api/v1/write",
        "/api/v1/api/v2/write",
        "/api/v1/prom/write",
        "/api/v1/scrape-targets",
        "/api/v1/scrape-targets/{target_id}",
    ):
        assert path in schema["paths"], path


@pytest.mark.parametrize(
    "path",
    ["/api/v1/agent/metrics", "/api/v1/write", "/api/v1/prom/write", "/api/v1/scrape-targets"],
)
def test_the_servers_own_urlconf_mounts_them_too(path):
    """steward.server.urls (the real URLconf, which every test uses) resolves them."""
    assert resolve(path, urlconf="steward.server.urls")
