"""Probes, Prometheus metrics, request ids and structured logs."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from steward.ops.logs import JsonFormatter, RequestIdFilter, request_id_var

pytestmark = pytest.mark.django_db


def test_healthz_and_readyz():
    client = Client()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readyz_reports_missing_migrations(monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: ["pending"])
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert "migrations not applied" in response.json()["reason"]


def test_metrics_count_requests_and_agents(world):
    from django.utils import timezone

    world.acme_device.last_seen = timezone.now()
    world.acme_device.save()
    client = Client()
    client.get("/healthz")
    text = client.get("/metrics").content.decode()
    assert 'steward_http_requests_total{group="probe",method="GET",status="200"}' in text
    assert "steward_http_request_duration_seconds_bucket" in text
    assert "steward_agents_online 1.0" in text
    assert "steward_devices 2.0" in text


def test_every_response_carries_a_request_id():
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    generated = Client().get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 16


def test_json_log_lines_carry_the_request_id():
    record = logging.LogRecord("steward.test", logging.INFO, __file__, 1, "hello %s", ("x",), None)
    token = request_id_var.set("req-42")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello x"
    assert line["request_id"] == "req-42"
    assert line["level"] == "info"


def test_production_settings_hash_passwords_with_argon2():
    import importlib

    settings_module = importlib.import_module("steward.server.settings")
    assert settings_module.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    from django.contrib.auth.hashers import make_password

    assert make_password("x" * 12, hasher="argon2").startswith("argon2$")
