"""Monitoring as code: apply is idempotent, export round-trips, errors name file/line/field."""

from __future__ import annotations

import pytest

from steward.alerts import yamlio
from steward.alerts.models import AlertRule, CheckDefinition, HeartbeatCheck
from steward.notify.models import Channel

pytestmark = pytest.mark.django_db

FILE = """\
channels:
  - name: ops-hook
    kind: webhook
    url: http://127.0.0.1:9/hook
checks:
  - name: sshd running
    device: acme-ws-01
    type: process
    target: sshd
    interval: 1s
    notify: [ops-hook]
  - name: website
    type: http
    target: https://www.acme.test/health
    interval: 30s
    timeout: 5s
    retries: 2
    params: {expected_status: [200], warn_ms: 500}
rotations:
  - name: ops week
    participants: [tech@acme.test, owner@acme.test]
    timezone: Europe/Berlin
    start_date: 2026-01-05
escalation_policies:
  - name: ops
    steps:
      - after: 0s
        notify: [{channel: ops-hook}]
      - after: 15m
        notify: [{rotation: ops week}]
rules:
  - name: Load very high
    kind: threshold
    metric: node_load5
    op: ">"
    threshold: 8
    reducer: avg
    window: 5m
    for: 10m
    severity: critical
    scope: {site: HQ, tag: prod}
    title: "Load {{ value | round }} on {{ labels.device }}"
    notify: [ops-hook]
    escalation: ops
heartbeats:
  - name: nightly backup
    schedule: "0 3 * * *"
    timezone: Europe/Berlin
    grace: 1h
    max_runtime: 2h
    min_runtime: 1m
silences:
  - name: db migration
    matchers: ['device="acme-ws-01"']
    starts: 2030-01-01T00:00:00Z
    ends: 2030-01-01T02:00:00Z
maintenance_windows:
  - name: sunday patching
    matchers: ['site="HQ"']
    timezone: Europe/Berlin
    slots: [{days: [sun], start: "01:00", end: "05:00"}]
"""


def test_apply_creates_then_a_second_apply_changes_nothing(world):
    report = yamlio.apply(FILE, world.acme.pk, "monitoring.yaml")
    assert report.changed == 9
    check = CheckDefinition.objects.get(name="sshd running")
    assert (check.device, check.interval, check.type) == (world.acme_device, 1.0, "process")
    assert list(check.notify.values_list("name", flat=True)) == ["ops-hook"]
    rule = AlertRule.objects.get(name="Load very high")
    assert rule.condition == {
        "kind": "threshold",
        "metric": "node_load5",
        "op": ">",
        "threshold": 8.0,
        "reducer": "avg",
        "window_s": 300.0,
    }
    assert rule.escalation.name == "ops"
    assert HeartbeatCheck.objects.get().schedule == "0 3 * * *"
    again = yamlio.apply(FILE, world.acme.pk, "monitoring.yaml")
    assert again.changed == 0
    assert {c["action"] for c in again.changes} == {"unchanged"}


def test_export_round_trips(world):
    yamlio.apply(FILE, world.acme.pk, "monitoring.yaml")
    exported = yamlio.export(world.acme.pk)
    secret = Channel.objects.get(name="ops-hook").secrets
    assert "secret" not in exported
    report = yamlio.apply(exported, world.acme.pk, "exported.yaml")
    assert report.changed == 0, report.changes
    assert Channel.objects.get(name="ops-hook").secrets == secret
    assert yamlio.export(world.acme.pk) == exported


def test_dry_run_reports_and_changes_nothing(world):
    report = yamlio.apply(FILE, world.acme.pk, "monitoring.yaml", dry_run=True)
    assert report.changed == 9
    assert not CheckDefinition.objects.exists()


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (
            ("interval: 30s", "interval: soon"),
            "monitoring.yaml:15: checks[1].interval: expected a duration like 30s or 5m",
        ),
        (
            ("params: {expected_status: [200], warn_ms: 500}", "params: {expected_status: x}"),
            "monitoring.yaml:18: checks[1].params.expected_status: must be a list of integers",
        ),
        (
            ("    device: acme-ws-01", "    device: nowhere"),
            "monitoring.yaml:7: checks[0].device: no device named 'nowhere' in this organization",
        ),
        (
            ('    op: ">"', '    op: "=>"'),
            "monitoring.yaml:35: rules[0].op: must be one of: >, >=, <",
        ),
        (
            ("notify: [ops-hook]\n  - name: website", "notify: [pager]\n  - name: website"),
            "monitoring.yaml:11: checks[0].notify[0]: no channel named 'pager'",
        ),
        (
            ("      - after: 15m", "      - after: later"),
            "monitoring.yaml:29: escalation_policies[0].steps[1].after: expected a duration",
        ),
        (
            ("max_runtime: 2h", "max_runtime: 30s"),
            "monitoring.yaml:51: heartbeats[0].min_runtime: must be below max_runtime",
        ),
    ],
)
def test_errors_name_file_line_and_field(world, patch, expected):
    bad = FILE.replace(*patch, 1)
    with pytest.raises(yamlio.ApplyError) as info:
        yamlio.apply(bad, world.acme.pk, "monitoring.yaml")
    assert str(info.value).startswith(expected), str(info.value)
    assert not CheckDefinition.objects.exists()  # all or nothing


def test_invalid_yaml_and_unknown_sections_are_reported(world):
    with pytest.raises(yamlio.ApplyError, match=r"^f.yaml:3: invalid YAML"):
        yamlio.apply("checks:\n  - name: [unclosed\n", world.acme.pk, "f.yaml")
    with pytest.raises(yamlio.ApplyError, match=r"^f.yaml:1: alerts: unknown section"):
        yamlio.apply("alerts: []\n", world.acme.pk, "f.yaml")


def test_the_api_applies_and_exports(api, world):
    response = api.as_(world.admin).post(
        "/api/v1/monitoring/apply",
        {"organization_id": world.acme.pk, "yaml": FILE, "filename": "m.yaml"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["changed"] == 9
    bad = api.as_(world.admin).post(
        "/api/v1/monitoring/apply",
        {"organization_id": world.acme.pk, "yaml": "checks:\n  - name: x\n", "filename": "m.yaml"},
    )
    assert bad.status_code == 400
    assert bad.json()["detail"] == "m.yaml:2: checks[0].type: is required"
    out = api.as_(world.admin).get(f"/api/v1/monitoring/export?organization_id={world.acme.pk}")
    assert "sshd running" in out.json()["yaml"]
    assert (
        api.as_(world.technician)
        .post("/api/v1/monitoring/apply", {"organization_id": world.acme.pk, "yaml": FILE})
        .status_code
        == 403
    )
