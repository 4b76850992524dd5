"""Monitoring configuration in the console: rules, silences, windows, escalation, rotations,
checks, heartbeats and channels — who may change them, validation with the API's own
words, tenant isolation, and the device page's checks panel."""

from __future__ import annotations

import pytest
from tests.alerts.test_checks_list import ALL_OF_ACME, EXPECTED, every_kind_of_check
from tests.console.test_alerts_views import fire

from steward.alerts import checklist
from steward.alerts.models import (
    AlertRule,
    CheckDefinition,
    EscalationPolicy,
    HeartbeatCheck,
    MaintenanceWindow,
    Rotation,
    Silence,
)
from steward.alerts.runtime import state_row
from steward.notify.models import Channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def pack(world):
    state_row(world.acme.pk)  # the default rule pack
    state_row(world.globex.pk)
    return AlertRule.objects.filter(organization=world.acme)


RULE = {
    "name": "Load very high",
    "kind": "threshold",
    "severity": "critical",
    "enabled": "on",
    "metric": "node_load5",
    "op": ">",
    "threshold": "8",
    "reducer": "avg",
    "window": "5m",
    "for_duration": "10m",
    "notify_mode": "all",
}


def test_rules_list_marks_the_default_pack(client, world, pack):
    client.force_login(world.viewer)
    body = client.get("/alerts/rules/").content.decode()
    assert "Device offline" in body and "default pack" in body
    assert "New rule" not in body


def test_admin_creates_a_threshold_rule(client, world, pack):
    client.force_login(world.admin)
    response = client.post(f"/alerts/rules/new/?org={world.acme.pk}", RULE)
    assert response.status_code == 302, response.content.decode()[-3000:]
    rule = AlertRule.objects.get(organization=world.acme, name="Load very high")
    assert rule.condition["metric"] == "node_load5" and rule.for_s == 600
    assert rule.condition["window_s"] == 300


def test_rule_form_errors_name_the_field(client, world, pack):
    client.force_login(world.admin)
    bad = {**RULE, "window": "five minutes"}
    response = client.post(f"/alerts/rules/new/?org={world.acme.pk}", bad)
    assert response.status_code == 200
    assert (
        'id="id_window_error"><li>Expected a duration like 30s or 5m' in response.content.decode()
    )
    absent = {**RULE, "kind": "absence", "after": ""}
    response = client.post(f"/alerts/rules/new/?org={world.acme.pk}", absent)
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    taken = {**RULE, "name": "Device offline", "kind": "device_offline"}
    response = client.post(f"/alerts/rules/new/?org={world.acme.pk}", taken)
    assert "exists" in response.content.decode()


def test_editing_a_default_rule_keeps_what_the_form_does_not_show(client, world, pack):
    rule = pack.get(name="Device offline")
    rule.annotations = {**rule.annotations, "runbook": "https://wiki/offline"}
    rule.save()
    client.force_login(world.admin)
    page = client.get(f"/alerts/rules/{rule.pk}/")
    assert page.status_code == 200
    response = client.post(
        f"/alerts/rules/{rule.pk}/",
        {
            "name": "Device offline",
            "kind": "device_offline",
            "severity": "warning",
            "enabled": "on",
            "after": "5m",
            "notify_mode": "all",
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    rule.refresh_from_db()
    assert rule.condition["after_s"] == 300 and rule.severity == "warning"
    assert rule.annotations["runbook"] == "https://wiki/offline"


def test_technician_cannot_change_rules_but_toggle_is_admins(client, world, pack):
    rule = pack.get(name="Device offline")
    client.force_login(world.technician)
    assert client.post(f"/alerts/rules/{rule.pk}/toggle/").status_code == 403
    assert client.get("/alerts/rules/new/").status_code == 404
    assert client.post(f"/alerts/rules/{rule.pk}/delete/").status_code == 403
    client.force_login(world.admin)
    client.post(f"/alerts/rules/{rule.pk}/toggle/")
    rule.refresh_from_db()
    assert not rule.enabled


def test_other_organizations_config_is_404_and_never_listed(client, world, pack):
    theirs = AlertRule.objects.filter(organization=world.globex).first()
    channel = Channel.objects.create(
        organization=world.globex,
        name="globex-hook",
        kind="webhook",
        config={"url": "https://g.test/h"},
    )
    client.force_login(world.admin)
    assert client.get(f"/alerts/rules/{theirs.pk}/").status_code == 404
    assert client.post(f"/alerts/rules/{theirs.pk}/delete/").status_code == 404
    assert client.get(f"/alerts/channels/{channel.pk}/").status_code == 404
    assert client.get(f"/alerts/channels/{channel.pk}/deliveries/").status_code == 404
    assert b"globex-hook" not in client.get("/alerts/channels/").content
    assert client.get(f"/alerts/rules/new/?org={world.globex.pk}").status_code == 200
    assert b"Which organization?" in client.get(f"/alerts/rules/new/?org={world.globex.pk}").content


def test_technician_creates_and_expires_a_silence(client, world):
    client.force_login(world.technician)
    response = client.post(
        f"/alerts/silences/new/?org={world.acme.pk}",
        {
            "name": "db migration",
            "matchers": 'device="db-01"',
            "duration": "4h",
        },
    )
    assert response.status_code == 302
    silence = Silence.objects.get(name="db migration")
    assert b"db migration" in client.get("/alerts/silences/").content
    expired = client.post(f"/alerts/silences/{silence.pk}/expire/", follow=True)
    assert "Silence “db migration” expired." in expired.content.decode()
    assert b"db migration" not in client.get("/alerts/silences/").content
    assert b"db migration" in client.get("/alerts/silences/?show=expired").content


def test_silence_matchers_are_validated(client, world):
    client.force_login(world.technician)
    response = client.post(
        f"/alerts/silences/new/?org={world.acme.pk}",
        {
            "matchers": "device",
            "duration": "1h",
        },
    )
    assert response.status_code == 200
    assert "matchers[0]" in response.content.decode()
    assert not Silence.objects.exists()


def test_window_escalation_and_rotation_forms(client, world):
    client.force_login(world.admin)
    org = f"?org={world.acme.pk}"
    r = client.post(
        "/alerts/maintenance/new/" + org,
        {
            "name": "sunday patching",
            "matchers": 'site="HQ"',
            "timezone": "Europe/Berlin",
            "slots": "sun 01:00-05:00",
            "enabled": "on",
        },
    )
    assert r.status_code == 302, r.content.decode()[-2000:]
    assert MaintenanceWindow.objects.get().slots == [
        {"days": [6], "start": "01:00", "end": "05:00"}
    ]
    bad = client.post(
        "/alerts/maintenance/new/" + org,
        {"name": "x", "timezone": "Mars/Olympus", "slots": "sun 01:00-05:00"},
    )
    assert bad.status_code == 200 and b"errorlist" in bad.content
    r = client.post(
        "/alerts/rotations/new/" + org,
        {
            "name": "ops week",
            "participants": "tech@acme.test\nadmin@acme.test",
            "timezone": "UTC",
            "start_date": "2026-01-05",
            "handoff": "09:00",
            "length_days": "7",
        },
    )
    assert r.status_code == 302, r.content.decode()[-2000:]
    assert Rotation.objects.get().participants == ["tech@acme.test", "admin@acme.test"]
    listing = client.get("/alerts/rotations/").content.decode()
    assert "data-on-call" in listing
    r = client.post(
        "/alerts/escalation/new/" + org,
        {"name": "ops", "steps": "0s: user tech@acme.test\n15m: rotation ops week"},
    )
    assert r.status_code == 302, r.content.decode()[-2000:]
    assert EscalationPolicy.objects.get().steps[1]["targets"] == [
        {"kind": "rotation", "ref": "ops week"}
    ]
    bad = client.post("/alerts/escalation/new/" + org, {"name": "y", "steps": "0s: rotation nope"})
    assert b"no rotation named" in bad.content.lower()


def test_checks_and_heartbeats(client, world):
    client.force_login(world.admin)
    org = f"?org={world.acme.pk}"
    r = client.post(
        "/alerts/checks/new/" + org,
        {
            "name": "sshd",
            "device": "acme-ws-01",
            "type": "process",
            "target": "sshd",
            "interval": "30s",
            "timeout": "10s",
            "retries": "1",
            "enabled": "on",
        },
    )
    assert r.status_code == 302, r.content.decode()[-2000:]
    check = CheckDefinition.objects.get(name="sshd")
    assert check.device_id == world.acme_device.pk and check.interval == 30
    bad = client.post(
        "/alerts/checks/new/" + org,
        {"name": "web", "type": "http", "target": "", "interval": "0.1s"},
    )
    assert bad.status_code == 200 and b"errorlist" in bad.content
    client.force_login(world.technician)
    client.post(f"/alerts/checks/{check.pk}/run/")
    check.refresh_from_db()
    assert check.run_requested_at is not None
    client.force_login(world.admin)
    r = client.post(
        "/alerts/heartbeats/new/" + org,
        {
            "name": "nightly backup",
            "period": "1d",
            "timezone": "UTC",
            "grace": "1h",
            "enabled": "on",
        },
    )
    assert r.status_code == 302
    beat = HeartbeatCheck.objects.get()
    assert str(beat.slug) in client.get("/alerts/heartbeats/").content.decode()


def test_checks_list_shows_a_tcp_checks_port_with_its_host(client, world):
    for name, target, port in (("db", "db.example", 5432), ("v6", "2001:db8::5", 22)):
        CheckDefinition.objects.create(organization=world.acme, name=name, type="tcp",
                                       target=target, params={"port": port})  # fmt: skip
    CheckDefinition.objects.create(organization=world.acme, name="web", type="http",
                                   target="https://intranet.example/")  # fmt: skip
    client.force_login(world.admin)

    page = client.get("/alerts/checks/").content.decode()

    assert "tcp db.example:5432<" in page
    assert "tcp [2001:db8::5]:22<" in page
    assert "http https://intranet.example/<" in page


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_checks_list_filters_by_state(client, world, status):
    every_kind_of_check(world)
    client.force_login(world.viewer)
    response = client.get(f"/alerts/checks/?status={status}")
    assert {c.name for c in response.context["items"]} == EXPECTED[status]
    page = response.content.decode()
    assert f'<option value="{status}" selected>' in page
    assert 'href="/alerts/checks/">Clear</a>' in page


def test_checks_list_state_filter_defaults_to_every_check(client, world):
    every_kind_of_check(world)
    client.force_login(world.viewer)
    for url in ("/alerts/checks/", "/alerts/checks/?status=", "/alerts/checks/?status=broken"):
        response = client.get(url)
        assert {c.name for c in response.context["items"]} == ALL_OF_ACME, url
        page = response.content.decode()
        select = page[page.index('id="f-status"') : page.index("</select>")]
        assert "selected" not in select and ">Clear</a>" not in page, url
    for value in checklist.FILTERS:  # every value is offered
        assert f'<option value="{value}"' in page, value


def test_checks_list_state_filter_keeps_the_device_and_the_tenant(client, world):
    every_kind_of_check(world)
    client.force_login(world.viewer)
    device = world.acme_device.pk
    response = client.get(f"/alerts/checks/?status=failing&device={device}")
    assert {c.name for c in response.context["items"]} == {"postgres port", "backup age"}
    page = response.content.decode()
    assert f'<input type="hidden" name="device" value="{device}">' in page
    assert f'href="/alerts/checks/?device={device}">Clear</a>' in page
    empty = client.get(f"/alerts/checks/?status=warning&device={device + 1000}")
    assert "No checks match the filter." in empty.content.decode()
    client.force_login(world.outsider)
    response = client.get("/alerts/checks/?status=failing")
    assert [c.name for c in response.context["items"]] == ["globex secret check"]
    assert "postgres port" not in response.content.decode()


def test_channels_keep_secrets_write_only(client, world):
    client.force_login(world.admin)
    r = client.post(
        f"/alerts/channels/new/?org={world.acme.pk}",
        {
            "name": "ops-hook",
            "kind": "webhook",
            "enabled": "on",
            "max_attempts": "5",
            "url": "https://hooks.example/steward",
            "secret": "s3cr3t-value",
        },
    )
    assert r.status_code == 302, r.content.decode()[-2000:]
    channel = Channel.objects.get(name="ops-hook")
    assert channel.secrets["secret"] == "s3cr3t-value"
    page = client.get(f"/alerts/channels/{channel.pk}/").content.decode()
    assert "s3cr3t-value" not in page and "A secret is set" in page
    r = client.post(
        f"/alerts/channels/{channel.pk}/",
        {
            "name": "ops-hook",
            "enabled": "on",
            "max_attempts": "3",
            "url": "https://hooks.example/v2",
            "secret": "",
        },
    )
    assert r.status_code == 302
    channel.refresh_from_db()
    assert channel.secrets["secret"] == "s3cr3t-value" and channel.config["url"].endswith("/v2")
    bad = client.post(
        f"/alerts/channels/new/?org={world.acme.pk}",
        {"name": "bad", "kind": "webhook", "max_attempts": "5", "url": "ftp://x"},
    )
    assert bad.status_code == 200 and b"errorlist" in bad.content
    generated = client.post(
        f"/alerts/channels/new/?org={world.acme.pk}",
        {"name": "gen", "kind": "webhook", "max_attempts": "5", "url": "https://h.example/x"},
    )
    assert b"not shown again" in generated.content


def test_viewer_and_technician_cannot_change_channels(client, world):
    channel = Channel.objects.create(
        organization=world.acme,
        name="ops-hook",
        kind="webhook",
        config={"url": "https://h.example/x"},
    )
    for persona in (world.viewer, world.technician):
        client.force_login(persona)
        assert client.get(f"/alerts/channels/{channel.pk}/").status_code == 200
        assert client.post(f"/alerts/channels/{channel.pk}/test/").status_code == 403
        assert client.post(f"/alerts/channels/{channel.pk}/delete/").status_code == 403
        assert client.get("/alerts/channels/new/").status_code == 404
    assert Channel.objects.filter(pk=channel.pk).exists()


def test_device_page_shows_its_checks(client, world):
    fire(world.acme_device)
    client.force_login(world.viewer)
    body = client.get(f"/devices/{world.acme_device.pk}/").content.decode()
    assert "sshd running" in body and "status-critical" in body
    assert "no process sshd" in body
    assert f"/alerts/?device={world.acme_device.pk}" in body
