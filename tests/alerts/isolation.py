"""Alerts entries for tests/server/test_tenant_isolation.py (ROUTES, ids, paths, snapshot).

tests/server/test_tenant_isolation.py merges them into its walk of every route;
``test_isolation.py`` here walks the same table on its own, with role checks of its own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

V = "/api/v1"
R = tuple[dict | None, set[int]]

ALERTS_ROUTES: dict[tuple[str, str], R] = {
    ("GET", f"{V}/alerts"): (None, {200}),
    ("GET", f"{V}/alerts/{{alert_id}}"): (None, {404}),
    ("GET", f"{V}/alerts/{{alert_id}}/events"): (None, {404}),
    ("POST", f"{V}/alerts/{{alert_id}}/ack"): ({"note": "pwned"}, {404}),
    ("POST", f"{V}/alerts/{{alert_id}}/unack"): ({}, {404}),
    ("POST", f"{V}/alerts/{{alert_id}}/snooze"): ({"minutes": 60}, {404}),
    ("POST", f"{V}/alerts/{{alert_id}}/unsnooze"): ({}, {404}),
    ("POST", f"{V}/alerts/{{alert_id}}/mute"): ({}, {404}),
    ("POST", f"{V}/alerts/{{alert_id}}/unmute"): ({}, {404}),
    ("POST", f"{V}/checks/{{item_id}}/run"): ({}, {404}),
    ("POST", f"{V}/monitoring/apply"): (
        {"organization_id": "{org}", "yaml": "rules:\n  - {name: rogue, kind: device_offline}\n"},
        {404},
    ),
    # Without organization_id: the outsider's own (Globex) configuration.
    ("GET", f"{V}/monitoring/export"): (None, {200}),
    # Agent routes take device credentials, never a person's token.
    ("GET", f"{V}/agent/checks"): (None, {401}),
    ("POST", f"{V}/agent/check-results"): (
        {"sent_at": "2026-01-01T00:00:00Z", "results": []},
        {401},
    ),
}

ROGUE_SPECS = {
    "alert-rules": {"name": "rogue", "kind": "device_offline"},
    "checks": {"name": "rogue", "type": "tcp", "target": "127.0.0.1", "params": {"port": 1}},
    "heartbeats": {"name": "rogue", "period": "1h"},
    "silences": {"name": "rogue", "matchers": ['device="acme-ws-01"'], "duration": "1h"},
    "maintenance-windows": {"name": "rogue", "matchers": ['site="HQ"'],
                            "slots": [{"days": ["sun"], "start": "01:00", "end": "02:00"}]},
    "escalation-policies": {"name": "rogue", "steps": [{"after": "0s",
                                                       "notify": [{"user": "x@y.test"}]}]},
    "rotations": {"name": "rogue", "participants": ["x@y.test"], "start_date": "2026-01-05"},
}  # fmt: skip
for _kind, _spec in ROGUE_SPECS.items():
    ALERTS_ROUTES[("GET", f"{V}/{_kind}")] = (None, {200})
    ALERTS_ROUTES[("POST", f"{V}/{_kind}")] = ({"organization_id": "{org}", "spec": _spec}, {404})
    ALERTS_ROUTES[("GET", f"{V}/{_kind}/{{item_id}}")] = (None, {404})
    ALERTS_ROUTES[("PATCH", f"{V}/{_kind}/{{item_id}}")] = ({"spec": {"name": "pwned"}}, {404})
    ALERTS_ROUTES[("DELETE", f"{V}/{_kind}/{{item_id}}")] = (None, {404})

ITEM_IDS = {
    "/alert-rules/": "alert_rule_id",
    "/checks/": "check_id",
    "/heartbeats/": "heartbeat_id",
    "/silences/": "silence_id",
    "/maintenance-windows/": "window_id",
    "/escalation-policies/": "escalation_id",
    "/rotations/": "rotation_id",
}


def alerts_ids(world) -> dict[str, int]:
    """Acme alerting objects for the walk, including a firing alert with a timeline."""
    from steward.alerts import models as m
    from steward.alerts.defaults import ensure_default_rules
    from steward.alerts.results import record
    from steward.checks import CheckResult, Status

    ensure_default_rules(world.acme)
    check = m.CheckDefinition.objects.create(
        organization=world.acme, device=world.acme_device, name="Acme sshd", type="process",
        target="sshd",
    )  # fmt: skip
    record(check, CheckResult(Status.CRITICAL, "Acme sshd is down"))
    now = datetime.now(UTC)
    return {
        "alert_id": m.Alert.objects.get(organization=world.acme).pk,
        "alert_rule_id": m.AlertRule.objects.filter(organization=world.acme).first().pk,
        "check_id": check.pk,
        "heartbeat_id": m.HeartbeatCheck.objects.create(
            organization=world.acme, name="Acme backup", period_s=3600).pk,
        "silence_id": m.Silence.objects.create(
            organization=world.acme, name="Acme silence", matchers=['device="acme-ws-01"'],
            starts_at=now, ends_at=now + timedelta(hours=1)).pk,
        "window_id": m.MaintenanceWindow.objects.create(
            organization=world.acme, name="Acme window", matchers=['site="HQ"'],
            slots=[{"days": [6], "start": "01:00", "end": "02:00"}]).pk,
        "escalation_id": m.EscalationPolicy.objects.create(
            organization=world.acme, name="Acme escalation",
            steps=[{"delay_s": 0, "targets": [{"kind": "user", "ref": "owner@acme.test"}]}]).pk,
        "rotation_id": m.Rotation.objects.create(
            organization=world.acme, name="Acme rotation", participants=["owner@acme.test"],
            start_date=date(2026, 1, 5)).pk,
    }  # fmt: skip


def alerts_path(path: str, ids: dict) -> str:
    """Fill the alerts placeholders of a route path with Acme's ids."""
    for prefix, key in ITEM_IDS.items():
        if prefix in path:
            path = path.replace("{item_id}", str(ids[key]))
    return path.replace("{alert_id}", str(ids["alert_id"]))


def alerts_snapshot() -> list:
    """Acme's alerting rows, to prove a route changed nothing."""
    from steward.alerts import models as m

    acme = {"organization__name": "Acme"}
    return [
        list(m.Alert.objects.filter(**acme).values()),
        list(m.AlertEvent.objects.filter(alert__organization__name="Acme").values()),
        list(m.AlertRule.objects.filter(**acme).values()),
        list(m.CheckDefinition.objects.filter(**acme).values()),
        list(m.CheckStatus.objects.filter(definition__organization__name="Acme").values()),
        list(m.HeartbeatCheck.objects.filter(**acme).values()),
        list(m.Silence.objects.filter(**acme).values()),
        list(m.MaintenanceWindow.objects.filter(**acme).values()),
        list(m.EscalationPolicy.objects.filter(**acme).values()),
        list(m.Rotation.objects.filter(**acme).values()),
        list(m.EngineState.objects.filter(**acme).values("version", "config_version")),
    ]
