from __future__ import annotations

import pytest

from steward.tenancy.roles import Role

pytestmark = pytest.mark.django_db


def test_api_answers_401_without_credentials(api):
    response = api.as_(None).get("devices")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_openapi_document_is_public(api):
    response = api.as_(None).get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Steward API"


def test_it_lists_only_the_callers_devices(api, world):
    body = api.as_(world.technician).get("devices").json()
    assert [d["hostname"] for d in body["items"]] == ["acme-ws-01"]
    assert body["items"][0]["status"] == "offline"


def test_superuser_sees_every_organization(api, world):
    body = api.as_(world.superuser).get("orgs").json()
    assert {o["name"] for o in body["items"]} == {"Acme", "Globex"}


def test_token_role_ceiling_limits_an_owner(api, world):
    response = api.as_(world.owner, Role.VIEWER).patch(
        f"devices/{world.acme_device.pk}", {"display_name": "x"}
    )
    assert response.status_code == 403


def test_viewer_cannot_change_a_device_but_technician_can(api, world):
    path = f"devices/{world.acme_device.pk}"
    assert api.as_(world.viewer).patch(path, {"tags": ["db"]}).status_code == 403
    response = api.as_(world.technician).patch(path, {"tags": ["db", "linux"]})
    assert response.status_code == 200
    assert response.json()["tags"] == ["db", "linux"]


def test_requester_sees_no_inventory(api, world):
    assert api.as_(world.requester).get("devices").json()["count"] == 0
    assert api.as_(world.requester).get(f"devices/{world.acme_device.pk}").status_code == 404
