"""Agent check results -> current state -> alert on arrival -> one email; and back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from steward.alerts import runtime
from steward.alerts.agent_api import checks_revision
from steward.alerts.models import Alert, AlertEvent, CheckDefinition, CheckStatus
from steward.notify.models import Delivery
from tests.alerts.conftest import device_auth, email_channel, wait_for


def post_result(client, headers, check, status, message=""):
    body = {
        "sent_at": datetime.now(UTC).isoformat(),
        "results": [{"check_id": check.pk, "status": status, "message": message,
                     "observed_at": datetime.now(UTC).isoformat(), "perfdata": []}],
    }  # fmt: skip
    return client.post("/api/v1/agent/check-results", body, content_type="application/json",
                       **headers)  # fmt: skip


def sshd_check(world, **kw):
    return CheckDefinition.objects.create(
        organization=world.acme, device=world.acme_device, name="sshd running",
        type="process", target="sshd", interval=1, **kw,
    )  # fmt: skip


@pytest.mark.django_db
def test_agent_pulls_its_checks_with_a_revision(world):
    check = sshd_check(world)
    CheckDefinition.objects.create(organization=world.globex, device=world.globex_device,
                                   name="globex", type="process", target="x")  # fmt: skip
    headers = device_auth(world.acme_device)
    response = Client().get("/api/v1/agent/checks", **headers)
    assert response.status_code == 200
    data = response.json()
    assert [c["id"] for c in data["checks"]] == [check.pk]
    assert data["checks"][0]["interval"] == 1
    assert data["revision"] == checks_revision(world.acme_device)
    before = data["revision"]
    check.target = "nginx"
    check.save()
    assert checks_revision(world.acme_device) != before


@pytest.mark.django_db
def test_a_result_for_another_devices_check_is_ignored(world):
    theirs = CheckDefinition.objects.create(organization=world.globex, device=world.globex_device,
                                            name="globex", type="process", target="x")  # fmt: skip
    response = post_result(Client(), device_auth(world.acme_device), theirs, "critical")
    assert response.json() == {"accepted": 0, "unknown_checks": [theirs.pk]}
    assert not CheckStatus.objects.exists()


@pytest.mark.django_db
def test_soft_then_hard_state_follows_retries(world):
    check = sshd_check(world, retries=1)
    headers = device_auth(world.acme_device)
    post_result(Client(), headers, check, "critical", "no process")
    status = CheckStatus.objects.get(definition=check)
    assert (status.status, status.current, status.soft, status.attempt) == (
        "ok",
        "critical",
        True,
        1,
    )
    assert not Alert.objects.filter(status="firing").exists()
    post_result(Client(), headers, check, "critical", "no process")
    status.refresh_from_db()
    assert (status.status, status.soft) == ("critical", False)
    assert Alert.objects.get(status="firing").rule_name == "Check failing"


@pytest.mark.django_db(transaction=True)
def test_killed_process_fires_one_alert_one_email_and_one_resolved_notice(world, smtp):
    mail = email_channel(world, smtp)
    check = sshd_check(world)
    check.notify.add(mail)
    headers = device_auth(world.acme_device)
    client = Client()

    assert post_result(client, headers, check, "ok").json()["accepted"] == 1
    assert not Alert.objects.exists()

    # The fault: evaluated on arrival, no tick.
    post_result(client, headers, check, "critical", "no process named sshd")
    alert = Alert.objects.get()
    assert (alert.status, alert.severity, alert.rule_name) == ("firing", "critical", "sshd running")
    assert alert.labels["device"] == "acme-ws-01"
    assert alert.device_id == world.acme_device.pk
    assert wait_for(lambda: len(smtp.messages) == 1)
    # The sender records the attempt in a thread of its own: let it finish before the next
    # results (in-memory SQLite fails a write that races it instead of waiting).
    assert wait_for(lambda: Delivery.objects.filter(channel=mail, status="sent").count() == 1)
    # More failing results: still one alert, still one email.
    post_result(client, headers, check, "critical", "no process named sshd")
    post_result(client, headers, check, "critical", "no process named sshd")
    runtime.tick(world.acme.pk)
    assert Alert.objects.count() == 1
    _, rcpt, message = smtp.messages[0]
    assert rcpt == ["ops@acme.test"]
    assert message["Subject"].startswith("[FIRING]")
    assert "sshd running" in message["Subject"]

    post_result(client, headers, check, "ok", "1 process")
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert wait_for(lambda: len(smtp.messages) == 2)
    assert smtp.messages[1][2]["Subject"].startswith("[RESOLVED]")
    # The SMTP server has the mail a moment before the sender records the attempt.
    assert wait_for(lambda: Delivery.objects.filter(channel=mail, status="sent").count() == 2)
    runtime.tick(world.acme.pk)
    assert len(smtp.messages) == 2
    phases = list(AlertEvent.objects.filter(alert=alert).values_list("to_phase", flat=True))
    assert phases == ["firing", "resolved"]
