"""What needs attention on a device: its firing alerts and its failing checks.

One definition for every place that counts them: the console's device list and dashboard
(whose numbers link to the alert list's "Firing" tab and the checks list's
``?status=failing``), the devices API and ``steward devices list``. "Firing" is the alert
list's tab: pending, firing and flapping alerts (acknowledged, snoozed, muted and resolved
ones have someone on them or are over). "Failing" is ``checklist``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Count, F, Q

from steward.alerts import checklist
from steward.alerts.models import Alert, CheckDefinition

FIRING_PHASES = ("pending", "firing", "flapping")
SEVERITY_ORDER = ("critical", "warning", "info")  # most severe first
_RANK = {severity: rank for rank, severity in enumerate(SEVERITY_ORDER)}


def firing_q() -> Q:
    """Alerts on the "Firing" tab."""
    return Q(phase__in=FIRING_PHASES)


def most_severe(severities: Iterable[str]) -> str:
    """The most severe of ``severities`` ("" for none; unknown ones rank last)."""
    return min(severities, key=lambda s: _RANK.get(s, len(_RANK)), default="")


@dataclass(frozen=True)
class Problems:
    """One device's firing alerts (count and the most severe one's severity) and failing
    checks."""

    firing: int = 0
    severity: str = ""  # "" when nothing fires
    failing_checks: int = 0

    @property
    def alerts_label(self) -> str:
        """An accessible name for a badge of the most severe alert, its word first."""
        plural = "" if self.firing == 1 else "s"
        return (
            f"{self.severity.capitalize()}: the most severe of {self.firing} firing alert{plural}"
        )


NONE = Problems()


def for_devices(device_ids: Sequence[int]) -> dict[int, Problems]:
    """Problems of each device that has any, in two grouped queries however many devices.

    An alert or check counts for its own device only, and only when it belongs to the
    device's organization: the caller scopes the devices, and no row of another
    organization can add to them.
    """
    if not device_ids:
        return {}
    firing = (
        Alert.objects.filter(
            firing_q(), device_id__in=device_ids, organization_id=F("device__organization_id")
        )
        .order_by()
        .values_list("device_id", "severity")
        .annotate(n=Count("pk"))
    )
    failing = (
        checklist.with_status(
            CheckDefinition.objects.filter(
                device_id__in=device_ids, organization_id=F("device__organization_id")
            ),
            "failing",
        )
        .order_by()
        .values_list("device_id")
        .annotate(n=Count("pk"))
    )
    alerts: dict[int, dict[str, int]] = {}
    for device_id, severity, n in firing:
        alerts.setdefault(device_id, {})[severity] = n
    checks = dict(failing)
    return {
        pk: Problems(
            firing=sum(alerts.get(pk, {}).values()),
            severity=most_severe(alerts.get(pk, {})),
            failing_checks=checks.get(pk, 0),
        )
        for pk in device_ids
        if pk in alerts or pk in checks
    }
