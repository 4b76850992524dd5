"""The help desk's routes walked as Globex's owner, like tests/server/test_tenant_isolation."""

from __future__ import annotations

import json

import pytest

from tests.helpdesk.isolation import HELPDESK_ROUTES, helpdesk_ids, helpdesk_path, helpdesk_snapshot

pytestmark = pytest.mark.django_db
MARKERS = ("Acme", "acme-ws-01", "@acme.test")


def helpdesk_api_routes() -> set[tuple[str, str]]:
    from steward.api.v1 import api

    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method, op in operations.items()
        if "helpdesk" in op.get("tags", ())
    }


def test_every_helpdesk_route_is_in_the_table():
    assert helpdesk_api_routes() == set(HELPDESK_ROUTES)


def fill(value, ids):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        key = value[1:-1]
        return ids.get(key, ids.get(f"{key}_id"))
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
def ids(world):
    return {"org": world.acme.pk, "org_id": world.acme.pk, **helpdesk_ids(world)}


@pytest.mark.parametrize(("method", "path"), sorted(HELPDESK_ROUTES))
def test_outsider_cannot_read_or_change_acme(api, world, ids, method, path):
    body, allowed = HELPDESK_ROUTES[(method, path)]
    before = json.dumps(helpdesk_snapshot(), default=str)
    url = helpdesk_path(path, ids).replace("{org_id}", str(world.acme.pk))
    response = api.as_(world.outsider).call(method, url, fill(body, ids) if body else body)
    assert response.status_code in allowed, (url, response.status_code, response.content)
    if method == "GET" and response.status_code == 200:
        text = b"".join(response.streaming_content) if response.streaming else response.content
        assert not [m for m in MARKERS if m in text.decode()], url
    assert json.dumps(helpdesk_snapshot(), default=str) == before


@pytest.mark.parametrize("path", sorted(p for m, p in HELPDESK_ROUTES if "{" in p and m == "GET"))
def test_the_same_routes_work_for_acme(api, world, ids, path):
    url = helpdesk_path(path, ids).replace("{org_id}", str(world.acme.pk))
    assert api.as_(world.owner).get(url).status_code == 200
