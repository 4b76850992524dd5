"""The default rule pack: active on a new install, editable, never overwritten.

``ensure_default_rules(org)`` creates the pack's rules an organization has never had (the
keys it created are remembered in ``EngineState.pack_keys``), so editing or disabling a
default rule sticks, deleting one is respected, and a rule added to the pack in a later
release appears on upgrade. The runtime calls it lazily on an organization's first
evaluation; ``steward up``'s bootstrap calls it for every organization.

Metric names are the derived ones of ``steward.alerts.derive`` (ratios 0..1). The
``forecast``, ``anomaly`` and ``disk_health`` rules read the insights jobs' results
(docs/intelligence.md, "Alert conditions").
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from steward.alerts import derive
from steward.alerts.models import AlertRule, EngineState

log = logging.getLogger("steward.alerts")

DEVICE_TITLE = "{{ labels.device }}"

PACK: tuple[dict[str, Any], ...] = (
    {
        "key": "device-offline",
        "name": "Device offline",
        "condition": {"kind": "device_offline", "after_s": 120.0},
        "severity": "critical",
        "annotations": {
            "title": "Device {{ labels.device }} is offline",
            "description": "No contact from {{ labels.device }} ({{ labels.site }}) for "
            "{{ value | round }} s.",
        },
    },
    {
        "key": "filesystem-warning",
        "name": "Filesystem almost full",
        "condition": {"kind": "threshold", "metric": derive.FS_USED, "op": ">",
                      "threshold": 0.90, "recover": 0.88},
        "severity": "warning",
        "annotations": {"title": "{{ labels.mountpoint }} on {{ labels.device }} is over 90 % "
                                 "full"},
    },
    {
        "key": "filesystem-critical",
        "name": "Filesystem full",
        "condition": {"kind": "threshold", "metric": derive.FS_USED, "op": ">",
                      "threshold": 0.95, "recover": 0.93},
        "severity": "critical",
        "annotations": {"title": "{{ labels.mountpoint }} on {{ labels.device }} is over 95 % "
                                 "full"},
    },
    {
        "key": "memory-low",
        "name": "Memory almost exhausted",
        "condition": {"kind": "threshold", "metric": derive.MEM_AVAILABLE, "op": "<",
                      "threshold": 0.05},
        "for_s": 300.0,
        "severity": "critical",
        "annotations": {"title": "Less than 5 % memory available on {{ labels.device }}"},
    },
    {
        "key": "cpu-high",
        "name": "CPU saturated",
        "condition": {"kind": "threshold", "metric": derive.CPU_BUSY, "op": ">",
                      "threshold": 0.95},
        "for_s": 900.0,
        "severity": "warning",
        "annotations": {"title": "CPU over 95 % for 15 min on {{ labels.device }}"},
    },
    {
        "key": "load-high",
        "name": "Load high",
        "condition": {"kind": "threshold", "metric": derive.LOAD_PER_CORE, "op": ">",
                      "threshold": 2.0},
        "for_s": 900.0,
        "severity": "warning",
        "annotations": {"title": "Load above 2 x cores for 15 min on {{ labels.device }}"},
    },
    {
        "key": "swap-heavy",
        "name": "Swap in heavy use",
        "condition": {"kind": "threshold", "metric": derive.SWAP_USED, "op": ">",
                      "threshold": 0.80},
        "for_s": 600.0,
        "severity": "warning",
        "annotations": {"title": "Over 80 % of swap used for 10 min on {{ labels.device }}"},
    },
    {
        "key": "filesystem-predicted-full",
        "name": "Filesystem predicted full",
        # every filesystem of the device, one alert each; "estimate" = the fitted crossing
        "condition": {"kind": "forecast", "resource": "filesystem *",
                      "within_s": 3 * 86_400.0, "bound": "estimate"},
        "severity": "warning",
        "annotations": {
            "title": "{{ labels.mountpoint }} on {{ labels.device }} predicted full within "
                     "3 days",
            # "/var full in 2 d 4 h (1 d 20 h to 2 d 15 h): 3.1 GiB of 40 GiB free, ..."
            "description": "{{ value }}",
        },
    },
    {
        "key": "memory-leak",
        "name": "Memory leak",
        # MemAvailable over the last 6 h (forecasting.MEM_WINDOW_MS): a significant fall
        # that runs out within a week.
        "condition": {"kind": "forecast", "resource": "memory", "within_s": 7 * 86_400.0,
                      "bound": "estimate"},
        # Held for 30 min more (three forecast runs) so one noisy fit does not alert.
        "for_s": 1_800.0,
        "severity": "warning",
        "annotations": {
            "title": "Memory leak on {{ labels.device }}: available memory falling steadily "
                     "for 6 h",
            "description": "{{ value }}",
        },
    },
    {
        "key": "disk-failing",
        "name": "Disk failing",
        "condition": {"kind": "disk_health", "disk": "*", "min_level": "warning"},
        "severity": "critical",
        "annotations": {
            "title": "Disk {{ labels.disk }} on {{ labels.device }} shows signs of failure",
            # "sdb (ST4000DM000, Z302ABCD): disk health warning — 12 pending sectors; ..."
            "description": "{{ value }}",
        },
    },
    {
        "key": "cpu-anomaly",
        "name": "Unusual CPU use",
        # An example of the anomaly kind, off by default: enable it in the console. The
        # detector learns a new level within about 5 minutes (one episode alarms once), so
        # the duration is short: longer ones only catch anomalies that keep changing.
        "enabled": False,
        "condition": {"kind": "anomaly", "signal": "cpu", "level": 0.5},
        "for_s": 120.0,
        "severity": "info",
        "annotations": {
            "title": "CPU on {{ labels.device }} outside its usual band",
            "description": "{{ value }}",
        },
    },
    {
        "key": "check-failing",
        "name": "Check failing",
        "condition": {"kind": "check", "check": "*", "retries": 1},
        # Checks with their own `notify` list have their own rule (see config.py).
        "scope": {"matchers": ['alertsource="check"', 'routed!="1"']},
        "severity": "critical",
        "annotations": {
            "title": "Check {{ labels.check }} is {{ value }}",
            "description": "{{ labels.check_type }} {{ labels.target }} on "
            "{{ labels.device | default:server }}",
        },
    },
    {
        "key": "tls-expiring",
        "name": "TLS certificate expiring",
        "condition": {"kind": "threshold", "metric": "steward_tls_days_left", "op": "<",
                      "threshold": 14.0},
        "severity": "warning",
        "annotations": {"title": "TLS certificate of {{ labels.target }} expires in "
                                 "{{ value | round }} days"},
    },
    {
        "key": "heartbeat-late",
        "name": "Heartbeat late",
        "condition": {"kind": "check", "check": "*", "retries": 1},
        "scope": {"matchers": ['alertsource="heartbeat"', 'routed!="1"']},
        "severity": "critical",
        "annotations": {"title": "Heartbeat {{ labels.heartbeat }} is down"},
    },
    {
        "key": "channel-failing",
        "name": "Notification channel failing",
        "condition": {"kind": "check", "check": "*", "retries": 1},
        "scope": {"matchers": ['alertsource="channel"']},
        "severity": "warning",
        # steward.notify already tells the other channels; this alert is for the console.
        "route": "none",
        "annotations": {"title": "Notification channel {{ labels.channel }} is failing"},
    },
)  # fmt: skip


def ensure_default_rules(organization: Any) -> list[AlertRule]:
    """Create the pack's rules this organization never had; returns those created."""
    org_id = organization if isinstance(organization, int) else organization.pk
    created: list[AlertRule] = []
    with transaction.atomic():
        row, _ = EngineState.objects.get_or_create(organization_id=org_id)
        row = EngineState.objects.select_for_update().get(pk=row.pk)
        known = set(row.pack_keys or [])
        for item in PACK:
            if item["key"] in known:
                continue
            known.add(item["key"])
            if AlertRule.objects.filter(organization_id=org_id, name=item["name"]).exists():
                continue  # the user has a rule of that name: theirs wins
            try:
                with transaction.atomic():
                    created.append(
                        AlertRule.objects.create(
                            organization_id=org_id,
                            name=item["name"],
                            condition=item["condition"],
                            scope=item.get("scope", {}),
                            severity=item["severity"],
                            annotations=item.get("annotations", {}),
                            for_s=item.get("for_s", 0.0),
                            enabled=item.get("enabled", True),
                            route=item.get("route", "all"),
                            group_by=["alertname", "site"],
                            from_default_pack=True,
                            pack_key=item["key"],
                        )
                    )
            except IntegrityError:
                continue
        EngineState.objects.filter(pk=row.pk).update(pack_keys=sorted(known))
    return created


def ensure_all() -> int:
    """For every organization (``steward up``'s bootstrap, and the tick job): new
    organizations get the pack, and rules added to the pack by an upgrade appear in the
    existing ones (only keys an organization never had: see the module docstring)."""
    from steward.tenancy.models import Organization

    keys = {item["key"] for item in PACK}
    missing = list(
        Organization.objects.filter(alert_engine__isnull=True).values_list("pk", flat=True)
    )
    if len(_complete) < EngineState.objects.count():  # runs every second: check each org once
        rows = EngineState.objects.exclude(organization_id__in=_complete)
        for org_id, known in rows.values_list("organization_id", "pack_keys"):
            if keys <= set(known or []):
                _complete.add(org_id)
            else:
                missing.append(org_id)
    count = 0
    for pk in missing:
        try:  # one organization's failure must not stop the others (nor the tick)
            count += len(ensure_default_rules(pk))
        except Exception:
            log.exception("could not install the default alert rules of org %s", pk)
    return count


_complete: set[int] = set()  # organizations known to have every key of this release's pack


def forget() -> None:
    """Check every organization's pack again (tests; ``runtime.forget`` calls it)."""
    _complete.clear()
