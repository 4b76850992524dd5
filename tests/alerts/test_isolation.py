"""The alerts routes walked as Globex's owner, like tests/server/test_tenant_isolation."""

from __future__ import annotations

import json

import pytest

from tests.alerts.isolation import ALERTS_ROUTES, alerts_ids, alerts_path, alerts_snapshot

pytestmark = pytest.mark.django_db
MARKERS = ("Acme", "acme-ws-01", "@acme.test")


def alerts_api_routes() -> set[tuple[str, str]]:
    from steward.alerts.agent_api import router as agent_router
    from steward.api.v1 import api

    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    agent_paths = {f"/api/v1/agent{r}" for r in agent_router.path_operations}
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method, op in operations.items()
        if "alerts" in op.get("tags", ()) or path in agent_paths
    }


def test_every_alerts_route_is_in_the_table():
    assert alerts_api_routes() == set(ALERTS_ROUTES)


def fill(value, ids):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
def ids(world):
    return {"org": world.acme.pk, **alerts_ids(world)}


@pytest.mark.parametrize(("method", "path"), sorted(ALERTS_ROUTES))
def test_outsider_cannot_read_or_change_acme(api, world, ids, method, path):
    body, allowed = ALERTS_ROUTES[(method, path)]
    before = json.dumps(alerts_snapshot(), default=str)
    url = alerts_path(path, ids)
    response = api.as_(world.outsider).call(method, url, fill(body, ids) if body else body)
    assert response.status_code in allowed, (url, response.status_code, response.content)
    if method == "GET" and response.status_code == 200:
        assert not [m for m in MARKERS if m in response.content.decode()], url
    assert json.dumps(alerts_snapshot(), default=str) == before


@pytest.mark.parametrize("path", sorted(p for m, p in ALERTS_ROUTES if "{" in p and m == "GET"))
def test_the_same_routes_work_for_acme(api, world, ids, path):
    assert api.as_(world.owner).get(alerts_path(path, ids)).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/alerts", "/api/v1/checks", "/api/v1/alert-rules",
                                  "/api/v1/silences", "/api/v1/heartbeats"])  # fmt: skip
def test_requesters_see_nothing(api, world, ids, path):
    response = api.as_(world.requester).get(path)
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_a_viewer_cannot_acknowledge_but_a_technician_can(api, world, ids):
    url = f"/api/v1/alerts/{ids['alert_id']}/ack"
    assert api.as_(world.viewer).post(url, {"note": "mine"}).status_code == 403
    response = api.as_(world.technician).post(url, {"note": "on it"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["phase"], body["acknowledged_by"], body["ack_note"]) == (
        "acknowledged",
        "tech@acme.test",
        "on it",
    )


def test_technicians_silence_but_do_not_edit_rules(api, world, ids):
    spec = {"name": "mine", "matchers": ['device="acme-ws-01"'], "duration": "1h"}
    ok = api.as_(world.technician).post(
        "/api/v1/silences", {"organization_id": world.acme.pk, "spec": spec}
    )
    assert ok.status_code == 201, ok.content
    url = f"/api/v1/alert-rules/{ids['alert_rule_id']}"
    assert api.as_(world.technician).patch(url, {"spec": {"enabled": False}}).status_code == 403
    assert api.as_(world.admin).patch(url, {"spec": {"enabled": False}}).status_code == 200
