"""Heartbeat ping endpoints with a controllable clock; the default pack; a webhook channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from steward.alerts import heartbeats, runtime
from steward.alerts.defaults import PACK, ensure_default_rules
from steward.alerts.models import Alert, AlertRule, CheckDefinition, HeartbeatCheck, Outbox
from steward.checks.heartbeat import PingKind
from steward.tenancy.models import Organization
from tests.alerts.conftest import device_auth, wait_for, webhook

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def backup(world):
    return HeartbeatCheck.objects.create(
        organization=world.acme, name="nightly backup", period_s=3600, grace_s=600,
        max_runtime_s=1800, min_runtime_s=60,
    )  # fmt: skip


def firing():
    return list(Alert.objects.filter(status="firing").values_list("rule_name", flat=True))


@pytest.mark.django_db
def test_ping_endpoints_answer_in_plain_text(world, backup):
    client = Client()
    for suffix in ("", "/start", "/fail", "/0", "/3"):
        response = client.get(f"/ping/{backup.slug}{suffix}")
        assert (response.status_code, response.content) == (200, b"OK")
    assert client.post(f"/ping/{backup.slug}").content == b"OK"
    assert client.get("/ping/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get(f"/ping/{backup.slug}/bogus").status_code == 404
    assert list(backup.pings.values_list("kind", "exit_status"))[:2] == [
        ("success", None),
        ("fail", 3),
    ]


@pytest.mark.django_db
def test_a_late_heartbeat_alerts_after_the_grace(world, backup):
    heartbeats.record_ping(backup, PingKind.SUCCESS, now=T0)
    heartbeats.evaluate_due(T0 + timedelta(minutes=65))
    backup.refresh_from_db()
    assert (backup.status, firing()) == ("late", [])
    assert heartbeats.evaluate_due(T0 + timedelta(minutes=71)) == 1
    backup.refresh_from_db()
    assert (backup.status, backup.reason) == ("down", "missed")
    assert firing() == ["Heartbeat late"]
    heartbeats.record_ping(backup, PingKind.SUCCESS, now=T0 + timedelta(minutes=72))
    assert firing() == []


@pytest.mark.django_db
def test_a_fail_ping_alerts_at_once(world, backup):
    heartbeats.record_ping(backup, PingKind.START, now=T0)
    heartbeats.record_ping(backup, PingKind.FAIL, exit_status=2, now=T0 + timedelta(minutes=5))
    backup.refresh_from_db()
    assert (backup.status, backup.reason) == ("down", "failed")
    assert firing() == ["Heartbeat late"]


@pytest.mark.django_db
def test_a_run_that_does_not_finish_in_time_alerts(world, backup):
    heartbeats.record_ping(backup, PingKind.START, now=T0)
    heartbeats.evaluate_due(T0 + timedelta(minutes=29))
    assert firing() == []
    heartbeats.evaluate_due(T0 + timedelta(minutes=31))
    backup.refresh_from_db()
    assert backup.reason == "run_too_long"
    assert firing() == ["Heartbeat late"]


@pytest.mark.django_db
def test_a_run_that_finishes_suspiciously_fast_alerts(world, backup):
    heartbeats.record_ping(backup, PingKind.START, now=T0)
    heartbeats.record_ping(backup, PingKind.SUCCESS, now=T0 + timedelta(seconds=5))
    backup.refresh_from_db()
    assert backup.reason == "run_too_short"
    assert firing() == ["Heartbeat late"]


@pytest.mark.django_db
def test_the_api_returns_the_ping_url(api, world):
    response = api.as_(world.admin).post(
        "/api/v1/heartbeats",
        {"organization_id": world.acme.pk, "spec": {"name": "cron", "period": "5m"}},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["extra"]["ping_url"].endswith(f"/ping/{body['extra']['slug']}")
    bad = api.as_(world.admin).post(
        "/api/v1/heartbeats", {"organization_id": world.acme.pk, "spec": {"name": "x"}}
    )
    assert bad.status_code == 400
    assert bad.json()["detail"] == "period: give either a period or a cron schedule"


@pytest.mark.django_db
def test_a_new_organization_gets_the_default_pack_once(world):
    org = Organization.objects.create(name="Initech")
    runtime.state_row(org.pk)
    keys = set(AlertRule.objects.filter(organization=org).values_list("pack_key", flat=True))
    assert keys == {item["key"] for item in PACK}
    rule = AlertRule.objects.get(organization=org, pack_key="cpu-high")
    rule.enabled = False
    rule.save()
    AlertRule.objects.get(organization=org, pack_key="swap-heavy").delete()
    assert ensure_default_rules(org) == []
    assert not AlertRule.objects.get(organization=org, pack_key="cpu-high").enabled
    assert not AlertRule.objects.filter(organization=org, pack_key="swap-heavy").exists()


@pytest.mark.django_db(transaction=True)
def test_a_webhook_channel_receives_the_alert(world, receiver):
    hook = webhook(world, receiver.url("/alerts"))
    check = CheckDefinition.objects.create(
        organization=world.acme,
        device=world.acme_device,
        name="nginx",
        type="process",
        target="nginx",
    )
    check.notify.add(hook)
    body = {"sent_at": datetime.now(UTC).isoformat(), "results": [
        {"check_id": check.pk, "status": "critical", "message": "gone",
         "observed_at": datetime.now(UTC).isoformat()}]}  # fmt: skip
    Client().post("/api/v1/agent/check-results", body, content_type="application/json",
                  **device_auth(world.acme_device))  # fmt: skip
    assert wait_for(lambda: receiver.to("/alerts"))
    payload = json.loads(receiver.to("/alerts")[0].body)
    assert payload["event_kind"] == "alert.firing"
    assert payload["subject"] == "[FIRING] Check nginx is critical"
    assert payload["idempotency_key"] == Outbox.objects.get().key
