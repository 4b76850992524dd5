"""`steward apply` files with the anomaly, forecast and disk-health rule kinds."""

from __future__ import annotations

import pytest

from steward.alerting import Condition
from steward.alerts import yamlio
from steward.alerts.models import AlertRule

pytestmark = pytest.mark.django_db

FILE = """\
rules:
  - name: Data volume filling
    kind: forecast
    resource: filesystem /data
    within: 7d
    bound: late
    title: "{{ labels.mountpoint }} full soon"
    description: "{{ value }}"
  - name: Odd traffic
    kind: anomaly
    metric: node_network_receive_bytes_total
    matchers: ['device=~"eth.*"']
    level: 0.7
    for: 15m
  - name: CPU out of band
    kind: anomaly
    signal: cpu
  - name: Disk very sick
    kind: disk_health
    min_level: critical
    severity: critical
"""


def test_the_new_kinds_apply_export_and_apply_again_unchanged(world):
    report = yamlio.apply(FILE, world.acme.pk, "intel.yaml")
    assert report.changed == 4
    conditions = {r.name: r.condition for r in AlertRule.objects.filter(from_default_pack=False)}
    assert conditions["Data volume filling"] == {
        "kind": "forecast",
        "resource": "filesystem /data",
        "within_s": 7 * 86400.0,
        "bound": "late",
    }
    assert conditions["Odd traffic"] == {
        "kind": "anomaly",
        "level": 0.7,
        "metric": "node_network_receive_bytes_total",
        "matchers": ['device=~"eth.*"'],
    }
    assert conditions["CPU out of band"] == {"kind": "anomaly", "level": 0.5, "signal": "cpu"}
    assert conditions["Disk very sick"]["min_level"] == "critical"
    for cond in conditions.values():
        Condition.from_dict(cond)  # every stored condition loads in the engine
    exported = yamlio.export(world.acme.pk)
    assert yamlio.apply(exported, world.acme.pk, "exported.yaml").changed == 0
    assert yamlio.apply(FILE, world.acme.pk, "intel.yaml").changed == 0


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (("    within: 7d\n", "    within: someday\n"), "intel.yaml:5: rules[0].within:"),
        (
            ("    bound: late\n", "    bound: maybe\n"),
            "intel.yaml:6: rules[0].bound: must be one of",
        ),
        (
            ("    level: 0.7\n", "    level: 3\n"),
            "intel.yaml:13: rules[1].level: level must",
        ),
        (("    signal: cpu\n", "    resource: memory\n"), "intel.yaml:17: rules[2].resource: does"),
        (("    signal: cpu\n", ""), "intel.yaml:15: rules[2].signal: an anomaly rule needs"),
        (("min_level: critical", "min_level: dire"), "intel.yaml:20: rules[3].min_level: must be"),
    ],
)
def test_bad_fields_are_named_with_their_line(world, patch, expected):
    bad = FILE.replace(*patch, 1)
    with pytest.raises(yamlio.ApplyError) as info:
        yamlio.apply(bad, world.acme.pk, "intel.yaml")
    assert str(info.value).startswith(expected), str(info.value)
    assert not AlertRule.objects.filter(from_default_pack=False).exists()
