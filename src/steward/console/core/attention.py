"""What needs a technician, for the dashboard: firing alerts by severity, checks in a hard
problem state and open tickets, in the switcher's organization scope.

Each summary is a fixed number of queries however many alerts, checks or tickets exist
(one aggregate with ``Count(filter=...)`` and one sliced list), and each count is the
number of rows the list it links to shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, F, IntegerField, Q, Value, When
from django.http import HttpRequest

from steward.alerts import checklist
from steward.alerts.checklist import FAILING
from steward.alerts.models import Alert, CheckStatus
from steward.console.alerts.alerts import SEVERITIES, SEVERITY_RANK, in_tab, list_queryset
from steward.console.common import in_current_org
from steward.console.helpdesk.common import is_staff
from steward.console.helpdesk.queues import BREACHING_MINUTES, view_counts

ALERTS_SHOWN = 8
CHECKS_SHOWN = 8

CHECK_RANK = Case(
    When(status="critical", then=Value(0)),
    default=Value(1),
    output_field=IntegerField(),
)


@dataclass(frozen=True)
class SeverityCount:
    key: str  # the alert list's ``severity`` parameter
    label: str
    count: int


@dataclass(frozen=True)
class FiringAlerts:
    by_severity: list[SeverityCount]
    total: int
    rows: list[Alert]  # the most severe, then the most recent, first


@dataclass(frozen=True)
class FailingChecks:
    critical: int
    warning: int
    rows: list[CheckStatus]  # critical first, then the most recent change

    @property
    def total(self) -> int:
        return self.critical + self.warning


@dataclass(frozen=True)
class OpenTickets:
    open: int
    unassigned: int
    mine: int
    breaching: int  # a running SLA deadline within BREACHING_MINUTES
    breached: int  # open, and an SLA target already missed (the "SLA breached" view)
    breaching_minutes: int = BREACHING_MINUTES

    @property
    def breaching_hours(self) -> float:
        return self.breaching_minutes / 60


def firing_alerts(request: HttpRequest) -> FiringAlerts:
    """Alerts on the alert list's "Firing" tab, counted per severity (two queries)."""
    firing = in_current_org(request, list_queryset()).filter(in_tab("firing"))
    counts = firing.aggregate(
        total=Count("pk"), **{key: Count("pk", filter=Q(severity=key)) for key, _ in SEVERITIES}
    )
    rows = (
        firing.defer("device__inventory", "device__notes")
        .annotate(rank=SEVERITY_RANK)
        .order_by("rank", "-started_at", "-id")[:ALERTS_SHOWN]
    )
    return FiringAlerts(
        by_severity=[SeverityCount(key, label, counts[key] or 0) for key, label in SEVERITIES],
        total=counts["total"] or 0,
        rows=list(rows),
    )


def failing_checks(request: HttpRequest) -> FailingChecks:
    """Enabled checks whose hard state is critical or warning (two queries): the checks
    list's ``?status=failing``, so checks of a revoked device are left out there too."""
    failing = in_current_org(request, checklist.with_status(CheckStatus.objects.all(), "failing"))
    counts = failing.aggregate(
        **{key: Count("pk", filter=Q(status=key)) for key in FAILING},
    )
    rows = (
        failing.select_related("definition__device", "definition__organization")
        .defer("state", "last_result", "definition__device__inventory", "definition__device__notes")
        .annotate(rank=CHECK_RANK)
        .order_by("rank", F("last_change_at").desc(nulls_last=True), "pk")[:CHECKS_SHOWN]
    )
    return FailingChecks(
        critical=counts["critical"] or 0, warning=counts["warning"] or 0, rows=list(rows)
    )


def open_tickets(request: HttpRequest, now: datetime) -> OpenTickets | None:
    """Open tickets per saved view of the ticket list, as its sidebar counts them (one
    query); ``None`` for someone who may not use the staff help desk pages."""
    if not is_staff(request):
        return None
    counts = view_counts(request, now)
    return OpenTickets(
        open=counts["open"] or 0,
        unassigned=counts["unassigned"] or 0,
        mine=counts["mine"] or 0,
        breaching=counts["breaching"] or 0,
        breached=counts["breached"] or 0,
    )
