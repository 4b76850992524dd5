"""Help desk reports: volume, response and resolution times, SLA compliance, billing CSV.

The numbers come from ``helpdesk.reports`` (the same as the API's); this page only picks
the range and the grouping and formats durations.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from steward.console.common import current_org, principal
from steward.console.helpdesk.common import staff_view
from steward.console.helpdesk.forms import ReportForm
from steward.console.helpdesk.presenters import duration
from steward.console.helpdesk.queues import sidebar
from steward.helpdesk import reports

DEFAULT_DAYS = 30


def _range(request: HttpRequest) -> tuple[ReportForm, date, date, str]:
    today = timezone.localdate()
    defaults = {"start": today - timedelta(days=DEFAULT_DAYS - 1), "end": today}
    form = ReportForm({**{k: v.isoformat() for k, v in defaults.items()}, **request.GET.dict()})
    if form.is_valid():
        data = form.cleaned_data
        return form, data["start"], data["end"], data["group_by"] or "organization"
    return form, defaults["start"], defaults["end"], "organization"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _time(seconds: float | None) -> str:
    return "—" if seconds is None else duration(seconds)


@staff_view
def report(request: HttpRequest) -> HttpResponse:
    form, start, end, group_by = _range(request)
    org = current_org(request)
    rows = reports.ticket_report(
        principal(request), start, end, group_by, org.pk if org is not None else None
    )
    totals = reports.ReportRow(None, "Total")
    for row in rows:
        totals.created += row.created
        totals.resolved += row.resolved
        totals.sla_tickets += row.sla_tickets
        totals.sla_breached += row.sla_breached
    if totals.sla_tickets:
        totals.sla_compliance = 1 - totals.sla_breached / totals.sla_tickets
    table = [
        {
            "label": r.label,
            "created": r.created,
            "resolved": r.resolved,
            "first_median": _time(r.first_response_median_s),
            "first_p90": _time(r.first_response_p90_s),
            "resolution_median": _time(r.resolution_median_s),
            "resolution_p90": _time(r.resolution_p90_s),
            "sla_tickets": r.sla_tickets,
            "sla_breached": r.sla_breached,
            "compliance": _percent(r.sla_compliance),
            "compliance_value": None if r.sla_compliance is None else 100 * r.sla_compliance,
        }
        for r in rows
    ]
    return render(
        request,
        "console/helpdesk/reports.html",
        {
            **sidebar(request, "reports"),
            "form": form,
            "start": start,
            "end": end,
            "group_by": group_by,
            "rows": table,
            "totals": totals,
            "total_compliance": _percent(totals.sla_compliance),
            "organization": org,
        },
    )


@staff_view
def time_csv(request: HttpRequest) -> HttpResponse:
    """Time tracked per organization, for billing (the same CSV as the API's)."""
    _, start, end, _ = _range(request)
    org = current_org(request)
    body = reports.time_csv(principal(request), start, end, org.pk if org is not None else None)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = f"steward-time-{start.isoformat()}-{end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
