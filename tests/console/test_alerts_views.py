"""The alerts pages: the list, one alert, the operator actions, and who may do what.

Personas from tests/server/conftest.py: Acme's technician acknowledges and silences, its
viewer reads, its requester and Globex's owner (the outsider) get 404s. Alerts are fired
the real way: an agent posts a failing check result.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from tests.alerts.conftest import device_auth

from steward.alerts.models import Alert, AlertEvent, CheckDefinition, Silence

pytestmark = pytest.mark.django_db


def fire(device, name: str = "sshd running", status: str = "critical") -> Alert:
    """A failing check result from ``device``'s agent: the "Check failing" alert fires."""
    check, _ = CheckDefinition.objects.get_or_create(
        organization=device.organization,
        device=device,
        name=name,
        defaults={"type": "process", "target": "sshd", "interval": 1},
    )
    now = datetime.now(UTC).isoformat()
    body = {
        "sent_at": now,
        "results": [
            {
                "check_id": check.pk,
                "status": status,
                "message": "no process sshd",
                "observed_at": now,
                "perfdata": [],
            }
        ],
    }
    response = Client().post(
        "/api/v1/agent/check-results", body, content_type="application/json", **device_auth(device)
    )
    assert response.status_code == 200, response.content
    return Alert.objects.filter(organization=device.organization, labels__check=name).latest("id")


@pytest.fixture
def alert(world) -> Alert:
    return fire(world.acme_device)


@pytest.fixture
def globex_alert(world) -> Alert:
    return fire(world.globex_device, "globex secret daemon")


# ---------------------------------------------------------------- who gets in


def test_technician_sees_firing_alerts_with_bulk_acknowledge(client, world, alert):
    client.force_login(world.technician)
    response = client.get("/alerts/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Check failing" in body or "sshd running" in body
    assert "acme-ws-01" in body
    assert "Acknowledge selected" in body
    assert 'class="status status-critical"' in body


def test_viewer_reads_alerts_but_has_no_actions(client, world, alert):
    client.force_login(world.viewer)
    assert b"acme-ws-01" in client.get("/alerts/").content
    assert b"Acknowledge selected" not in client.get("/alerts/").content
    page = client.get(f"/alerts/{alert.pk}/")
    assert page.status_code == 200
    assert b'name="op" value="ack"' not in page.content
    refused = client.post(f"/alerts/{alert.pk}/action/", {"op": "ack"})
    assert refused.status_code == 403
    alert.refresh_from_db()
    assert alert.phase == "firing"


@pytest.mark.parametrize("persona", ["requester", "outsider"])
def test_requester_and_outsider_get_404(client, world, alert, persona):
    client.force_login(getattr(world, persona))
    if persona == "requester":
        assert client.get("/alerts/").status_code == 404
    assert client.get(f"/alerts/{alert.pk}/").status_code == 404
    assert client.post(f"/alerts/{alert.pk}/action/", {"op": "ack"}).status_code == 404


def test_other_organizations_alerts_are_never_listed(client, world, alert, globex_alert):
    client.force_login(world.technician)
    body = client.get("/alerts/").content.decode()
    assert "globex-srv-01" not in body and "globex secret daemon" not in body
    assert client.get(f"/alerts/{globex_alert.pk}/").status_code == 404
    client.post("/alerts/bulk-ack/", {"alert": [alert.pk, globex_alert.pk]})
    globex_alert.refresh_from_db()
    assert globex_alert.phase == "firing"


# ---------------------------------------------------------------- actions reach the engine


def test_acknowledging_in_the_console_changes_the_engine_state(client, world, alert):
    client.force_login(world.technician)
    response = client.post(f"/alerts/{alert.pk}/action/", {"op": "ack", "note": "on it"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.phase, alert.acknowledged_by, alert.ack_note) == (
        "acknowledged",
        "tech@acme.test",
        "on it",
    )
    # What the API (and so the CLI) sees, read back from the engine's own record.
    api = client.get(f"/api/v1/alerts/{alert.pk}")
    assert api.json()["phase"] == "acknowledged"
    assert AlertEvent.objects.filter(alert=alert, to_phase="acknowledged").exists()
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "on it" in page and "Remove acknowledgement" in page
    client.post(f"/alerts/{alert.pk}/action/", {"op": "unack"})
    alert.refresh_from_db()
    assert alert.phase == "firing"


def test_snooze_mute_and_their_undo(client, world, alert):
    client.force_login(world.technician)
    client.post(f"/alerts/{alert.pk}/action/", {"op": "snooze", "minutes": "60"})
    alert.refresh_from_db()
    assert alert.phase == "snoozed" and alert.snoozed_until is not None
    assert b"Snoozed &amp; muted" in client.get("/alerts/?tab=silenced").content
    client.post(f"/alerts/{alert.pk}/action/", {"op": "unsnooze"})
    client.post(f"/alerts/{alert.pk}/action/", {"op": "mute"})
    alert.refresh_from_db()
    assert alert.muted_until_resolved
    client.post(f"/alerts/{alert.pk}/action/", {"op": "unmute"})
    alert.refresh_from_db()
    assert not alert.muted_until_resolved


def test_snooze_without_a_time_is_refused_with_a_message(client, world, alert):
    client.force_login(world.technician)
    response = client.post(f"/alerts/{alert.pk}/action/", {"op": "snooze"}, follow=True)
    assert b"choose a duration" in response.content
    alert.refresh_from_db()
    assert alert.phase == "firing"


def test_bulk_acknowledge(client, world, alert):
    second = fire(world.acme_device, "nginx running")
    client.force_login(world.technician)
    response = client.post(
        "/alerts/bulk-ack/", {"alert": [alert.pk, second.pk], "note": "x"}, follow=True
    )
    assert b"Acknowledged 2 alerts" in response.content
    assert set(
        Alert.objects.filter(pk__in=[alert.pk, second.pk]).values_list("phase", flat=True)
    ) == {"acknowledged"}
    assert b"nginx running" in client.get("/alerts/?tab=acknowledged").content


def test_silence_similar_prefills_the_silence_form(client, world, alert):
    client.force_login(world.technician)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "/alerts/silences/new/?" in page
    form = client.get(
        f"/alerts/silences/new/?org={world.acme.pk}&matchers=device%3D%22acme-ws-01%22"
    )
    assert form.status_code == 200
    assert "device=&quot;acme-ws-01&quot;" in form.content.decode()


# ---------------------------------------------------------------- filters and the list


def test_filters_by_severity_label_site_and_search(client, world, alert):
    client.force_login(world.technician)
    assert b"acme-ws-01" in client.get("/alerts/?severity=critical").content
    assert b"acme-ws-01" not in client.get("/alerts/?severity=info").content
    assert b"acme-ws-01" in client.get("/alerts/?label=check%3Dsshd+running").content
    assert b"acme-ws-01" not in client.get("/alerts/?label=check%3Dother").content
    assert b"acme-ws-01" in client.get(f"/alerts/?site={world.acme_hq.pk}").content
    assert b"acme-ws-01" in client.get("/alerts/?q=acme-ws").content
    assert b"acme-ws-01" not in client.get("/alerts/?q=nothing-like-this").content
    bad = client.get("/alerts/?label=no-equals-sign")
    assert bad.status_code == 200 and b"label: expected name=value" in bad.content.lower()


def test_the_refresh_fragment_is_the_table_only(client, world, alert):
    client.force_login(world.technician)
    response = client.get("/alerts/", HTTP_X_STEWARD_FRAGMENT="alerts")
    assert b"<html" not in response.content and b"acme-ws-01" in response.content


def test_alerts_list_queries_do_not_grow_with_alerts(client, world, alert):
    client.force_login(world.technician)
    client.get("/alerts/")
    with CaptureQueriesContext(connection) as few:
        client.get("/alerts/")
    for i in range(8):
        fire(world.acme_device, f"svc {i}")
    with CaptureQueriesContext(connection) as many:
        response = client.get("/alerts/")
    assert response.content.count(b'name="alert"') >= 9
    assert len(many) == len(few)
    assert len(many) <= 20


def test_alert_detail_shows_timeline_and_check_state(client, world, alert):
    client.force_login(world.viewer)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "Timeline" in page and "status-firing" in page
    assert "no process sshd" in page  # the check's last result
    assert "steward_check_status" in page  # the chart's query around the event


def test_silences_created_by_a_technician_are_recorded(client, world, alert):
    client.force_login(world.technician)
    response = client.post(
        f"/alerts/silences/new/?org={world.acme.pk}",
        {
            "matchers": 'device="acme-ws-01"',
            "duration": "1h",
            "reason": "reboot",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    silence = Silence.objects.get(organization=world.acme)
    assert silence.author == "tech@acme.test" and silence.matchers == ['device="acme-ws-01"']


# ---------------------------------------------------------------- values


def test_a_ratio_rules_value_reads_as_a_percentage(client, world, alert):
    # The engine stores str(float): the list showed "Filesystem almost full ·
    # 0.9153804204165935" under "/ on host is over 90 % full".
    from steward.alerts.defaults import ensure_default_rules
    from steward.alerts.models import AlertRule

    ensure_default_rules(world.acme)  # if the alert's evaluation did not already
    rule = AlertRule.objects.get(organization=world.acme, pack_key="filesystem-warning")
    Alert.objects.filter(pk=alert.pk).update(rule=rule, value="0.9153804204165935")
    client.force_login(world.technician)
    for page in (client.get("/alerts/"), client.get(f"/alerts/{alert.pk}/")):
        body = page.content.decode()
        assert "91.5 %" in body
        assert "0.9153804204165935" not in body
