"""Reports on a known data set; the billing CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from steward.helpdesk import reports, services
from steward.helpdesk.models import Category, SlaEvent, SlaPolicy
from tests.helpdesk.conftest import T0, who

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)


@pytest.fixture
def data(world):
    """Five Acme tickets: first responses after 10, 20, 30, 40 min (one unanswered);
    resolutions after 60 and 120 min; one SLA breach among four SLA tickets."""
    tech = who(world.technician)
    hardware = Category.objects.create(organization=world.acme, name="Hardware")
    SlaPolicy.objects.create(organization=world.acme, name="std", is_default=True, weekly_hours={})
    tickets = []
    for i, minutes in enumerate([10, 20, 30, 40, None]):
        t = services.create_ticket(
            tech, world.acme.pk, subject=f"t{i}", now=T0, category_id=hardware.pk if i < 2 else None
        )
        if minutes:
            services.add_reply(tech, t, "hi", now=T0 + minutes * MIN)
        tickets.append(t)
    services.set_status(tech, tickets[0], "resolved", T0 + 60 * MIN)
    services.set_status(tech, tickets[1], "resolved", T0 + 120 * MIN)
    SlaEvent.objects.filter(ticket__in=tickets).delete()
    SlaEvent.objects.create(ticket=tickets[2], target="resolution", kind="breach")
    tickets[4].sla_policy = None
    tickets[4].save()
    services.create_ticket(None, world.globex.pk, subject="g", now=T0)
    services.add_time_entry(tech, tickets[0], 90, note="=SUM(A1)", day=date(2026, 3, 2))
    services.add_time_entry(tech, tickets[1], 30, billable=False, day=date(2026, 3, 3))
    services.add_time_entry(tech, tickets[1], 15, day=date(2026, 4, 1))
    return tickets


def test_numbers_by_organization(world, data):
    [row] = reports.ticket_report(who(world.technician), date(2026, 3, 1), date(2026, 3, 31))
    assert row.label == "Acme" and row.created == 5 and row.resolved == 2
    assert row.first_response_median_s == 25 * 60
    assert row.first_response_p90_s == 40 * 60
    assert row.resolution_median_s == 90 * 60
    assert row.resolution_p90_s == 120 * 60
    assert (row.sla_tickets, row.sla_breached, row.sla_compliance) == (4, 1, 0.75)


def test_by_category_and_technician(world, data):
    rows = reports.ticket_report(who(world.admin), date(2026, 3, 1), date(2026, 3, 2), "category")
    assert [(r.label, r.created) for r in rows] == [("(none)", 3), ("Hardware", 2)]
    rows = reports.ticket_report(who(world.admin), date(2026, 3, 1), date(2026, 3, 2), "technician")
    assert [(r.label, r.created) for r in rows] == [("(none)", 5)]


def test_dates_outside_the_range_are_left_out(world, data):
    assert reports.ticket_report(who(world.owner), date(2026, 3, 3), date(2026, 3, 31)) == []


def test_requesters_get_no_report(world, data, api):
    r = api.as_(world.requester).get("reports/tickets?start=2026-03-01&end=2026-03-31")
    assert r.json()["rows"] == []


def test_time_csv_for_billing(world, data, api):
    r = api.as_(world.admin).get("reports/time.csv?start=2026-03-01&end=2026-03-31")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[0] == reports.CSV_COLUMNS
    assert [(x[1], x[5], x[7]) for x in rows[1:3]] == [("1", "90", "yes"), ("2", "30", "no")]
    assert rows[1][8] == "'=SUM(A1)"  # formula defused
    assert rows[-1][2] == "TOTAL billable" and rows[-1][5] == "90"
    assert len(rows) == 4
    assert (
        api.as_(world.outsider)
        .get("reports/time.csv?start=2026-03-01&end=2026-03-31")
        .content.decode()
        .count("\n")
        == 1
    )
