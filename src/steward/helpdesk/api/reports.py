"""API: help desk reports and the billing export."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from django.http import HttpResponse
from django.utils import timezone
from ninja import Router, Schema

from steward.api.errors import bad_request
from steward.helpdesk import reports

router = Router(tags=["helpdesk"])
MAX_DAYS = 366 * 2


class ReportRowOut(Schema):
    key: int | None
    label: str
    created: int
    resolved: int
    first_response_median_s: float | None
    first_response_p90_s: float | None
    resolution_median_s: float | None
    resolution_p90_s: float | None
    sla_tickets: int
    sla_breached: int
    sla_compliance: float | None


class ReportOut(Schema):
    start: date
    end: date
    group_by: str
    rows: list[ReportRowOut]


def _range(start: date | None, end: date | None) -> tuple[date, date]:
    """Default: the last 30 days up to today (UTC)."""
    end = end or timezone.now().date()
    start = start or end - timedelta(days=29)
    if end < start:
        raise bad_request("end: before start")
    if (end - start).days > MAX_DAYS:
        raise bad_request("end: at most two years per report")
    return start, end


@router.get("/reports/tickets", response=ReportOut)
def ticket_report(
    request,
    start: date | None = None,
    end: date | None = None,
    group_by: Literal["organization", "technician", "category"] = "organization",
    organization_id: int | None = None,
):
    """Tickets created in [start, end] (UTC dates, both included), grouped."""
    start, end = _range(start, end)
    rows = reports.ticket_report(request.auth, start, end, group_by, organization_id)
    return ReportOut(
        start=start,
        end=end,
        group_by=group_by,
        rows=[ReportRowOut(**r.as_dict()) for r in rows],
    )


@router.get("/reports/time.csv", response={200: None})
def time_report(
    request, start: date | None = None, end: date | None = None, organization_id: int | None = None
):
    """Time entries dated in [start, end] as CSV, with billable totals per organization."""
    start, end = _range(start, end)
    body = reports.time_csv(request.auth, start, end, organization_id)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="time-{start}-{end}.csv"'
    return response
