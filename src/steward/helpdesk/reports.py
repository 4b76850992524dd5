"""Help desk reports: volume, response and resolution times, SLA compliance, time billed.

Times are wall-clock seconds (created -> first response, created -> resolved): what the
customer experienced; SLA compliance covers business hours. Percentiles use the
nearest-rank method (p90 of n values is the ceil(0.9 n)-th smallest), so the numbers are
reproducible by hand on a small data set.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from steward.helpdesk.models import SlaEvent, Ticket, TimeEntry
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Principal, scoped

GROUPS: dict[str, tuple[str, str]] = {
    "organization": ("organization_id", "organization__name"),
    "technician": ("assignee_id", "assignee__email"),
    "category": ("category_id", "category__name"),
}


@dataclass
class ReportRow:
    key: int | None
    label: str
    created: int = 0
    resolved: int = 0
    first_response_median_s: float | None = None
    first_response_p90_s: float | None = None
    resolution_median_s: float | None = None
    resolution_p90_s: float | None = None
    sla_tickets: int = 0
    sla_breached: int = 0
    sla_compliance: float | None = None  # share of SLA tickets without a breach, 0..1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00 UTC, end+1 00:00 UTC): both dates included."""
    return (
        datetime.combine(start, time(), UTC),
        datetime.combine(end + timedelta(days=1), time(), UTC),
    )


def ticket_report(
    principal: Principal,
    start: date,
    end: date,
    group_by: str = "organization",
    organization_id: int | None = None,
) -> list[ReportRow]:
    """Tickets created in [start, end], grouped; staff of the organizations only."""
    key, label = GROUPS[group_by]
    lo, hi = _bounds(start, end)
    tickets = scoped(Ticket.objects.all(), principal, Capability.VIEW).filter(
        created_at__gte=lo, created_at__lt=hi, merged_into__isnull=True
    )
    if organization_id is not None:
        tickets = tickets.filter(organization_id=organization_id)
    rows = list(
        tickets.values_list(
            "pk", key, label, "created_at", "first_response_at", "resolved_at", "sla_policy_id"
        )
    )
    breached = set(
        SlaEvent.objects.filter(
            kind=SlaEvent.BREACH, ticket_id__in=[r[0] for r in rows]
        ).values_list("ticket_id", flat=True)
    )
    groups: dict[Any, ReportRow] = {}
    first: dict[Any, list[float]] = defaultdict(list)
    solve: dict[Any, list[float]] = defaultdict(list)
    for pk, k, name, created, answered, resolved, policy in rows:
        row = groups.setdefault(k, ReportRow(k, name or ("(none)" if k is None else str(k))))
        row.created += 1
        if answered:
            first[k].append((answered - created).total_seconds())
        if resolved:
            row.resolved += 1
            solve[k].append((resolved - created).total_seconds())
        if policy:
            row.sla_tickets += 1
            row.sla_breached += pk in breached
    for k, row in groups.items():
        row.first_response_median_s = median(first[k])
        row.first_response_p90_s = p90(first[k])
        row.resolution_median_s = median(solve[k])
        row.resolution_p90_s = p90(solve[k])
        if row.sla_tickets:
            row.sla_compliance = round(1 - row.sla_breached / row.sla_tickets, 4)
    return sorted(groups.values(), key=lambda r: (r.label or "").lower())


CSV_COLUMNS = [
    "organization",
    "ticket",
    "subject",
    "date",
    "technician",
    "minutes",
    "hours",
    "billable",
    "note",
]


def time_entries(principal: Principal, start: date, end: date, organization_id: int | None = None):
    qs = scoped(TimeEntry.objects.all(), principal, Capability.VIEW).filter(
        date__gte=start, date__lte=end
    )
    if organization_id is not None:
        qs = qs.filter(ticket__organization_id=organization_id)
    return qs.select_related("ticket__organization", "user").order_by(
        "ticket__organization__name", "date", "ticket__number", "id"
    )


def time_csv(
    principal: Principal, start: date, end: date, organization_id: int | None = None
) -> str:
    """Time entries of [start, end] as CSV for billing, one line per entry, then totals
    of billable minutes per organization."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    totals: dict[str, int] = defaultdict(int)
    for e in time_entries(principal, start, end, organization_id):
        org = e.ticket.organization.name
        writer.writerow(
            [
                org,
                e.ticket.number,
                _safe_cell(e.ticket.subject),
                e.date.isoformat(),
                e.user.email if e.user else "",
                e.minutes,
                f"{e.minutes / 60:.2f}",
                "yes" if e.billable else "no",
                _safe_cell(e.note),
            ]
        )
        if e.billable:
            totals[org] += e.minutes
    for org, minutes in sorted(totals.items()):
        writer.writerow([org, "", "TOTAL billable", "", "", minutes, f"{minutes / 60:.2f}", "", ""])
    return out.getvalue()


def _safe_cell(text: str) -> str:
    """Defuse spreadsheet formulas (CSV injection, OWASP): prefix =, +, -, @ with '."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
