"""The checks list's ``status`` filter in the API and ``steward checks list``: ``failing``
is the dashboard's "Failing checks" (enabled, hard critical or warning, device not
revoked); the other values match the stored hard state. The console's list is tested in
tests/console/test_alerts_config.py with the same rows."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from steward.alerts import checklist
from steward.alerts.models import CheckDefinition
from tests.alerts.test_cli import run
from tests.console.test_core_dashboard import make_check
from tests.server.conftest import make_device

pytestmark = pytest.mark.django_db

# What each filter keeps of ``every_kind_of_check`` in Acme.
EXPECTED = {
    "failing": {"postgres port", "website", "backup age"},
    "critical": {"postgres port", "website", "switched off", "on a retired box"},
    "warning": {"backup age"},
    "unknown": {"plugin"},
    "ok": {"sshd", "retired but fine"},
    "pending": {"first run", "never run"},
}
ALL_OF_ACME = set().union(*EXPECTED.values())


def every_kind_of_check(world) -> None:
    """Acme's checks in every state, the ones ``failing`` leaves out, and Globex's."""
    acme, device = world.acme, world.acme_device
    retired = make_device(world.acme_hq, "retired-01", revoked_at=timezone.now())
    make_check(acme, "postgres port", "critical", device)
    make_check(acme, "website", "critical")  # server-side: no device to be revoked
    make_check(acme, "backup age", "warning", device)
    make_check(acme, "sshd", "ok", device)
    make_check(acme, "plugin", "unknown", device)
    make_check(acme, "first run", "pending", device)
    CheckDefinition.objects.create(organization=acme, name="never run", type="tcp", target="x:1")
    make_check(acme, "switched off", "critical", device, enabled=False)
    make_check(acme, "on a retired box", "critical", retired)
    make_check(acme, "retired but fine", "ok", retired)
    make_check(world.globex, "globex secret check", "critical", world.globex_device)


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["items"])
    return {c["spec"]["name"] for c in body["items"]}


def test_the_filter_values_are_the_models_states():
    assert checklist.FILTERS == ("failing", "critical", "warning", "unknown", "ok", "pending")


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_api_status_filter(api, world, status):
    every_kind_of_check(world)
    assert names(api.as_(world.viewer).get(f"checks?status={status}")) == EXPECTED[status]


def test_api_without_a_status_lists_every_check_and_refuses_unknown_values(api, world):
    every_kind_of_check(world)
    assert names(api.as_(world.viewer).get("checks")) == ALL_OF_ACME
    response = api.as_(world.viewer).get("checks?status=broken")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("status: expected one of failing, critical")


def test_api_status_filter_keeps_the_tenant_scope(api, world):
    every_kind_of_check(world)
    assert names(api.as_(world.outsider).get("checks?status=failing")) == {"globex secret check"}
    other = f"checks?status=failing&organization_id={world.acme.pk}"
    assert names(api.as_(world.outsider).get(other)) == set()


def test_other_kinds_have_no_status_filter():
    from steward.api.v1 import api as v1

    schema = v1.get_openapi_schema(path_prefix="/api/v1/")
    params = {p: {q["name"] for q in schema["paths"][p]["get"]["parameters"]}
              for p in ("/api/v1/checks", "/api/v1/heartbeats")}  # fmt: skip
    assert params["/api/v1/checks"] - params["/api/v1/heartbeats"] == {"status"}


def test_cli_checks_list_status(world, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("STEWARD_CLIENT_CONFIG", str(tmp_path / "none.toml"))
    every_kind_of_check(world)
    code, out = run(capsys, "checks", "list", "--status", "failing", "--org", "Acme",
                    "--local", "--json")  # fmt: skip
    assert code == 0
    assert {c["spec"]["name"] for c in json.loads(out)} == EXPECTED["failing"]
    code, out = run(capsys, "checks", "list", "--status", "pending", "--local", "--json")
    assert {c["spec"]["name"] for c in json.loads(out)} == EXPECTED["pending"]
    # The parser's choices are the filter's values (the CLI does not import Django to parse).
    from steward.cli.alerts import CHECK_STATUSES

    assert CHECK_STATUSES == checklist.FILTERS
