"""Reports page (numbers present, grouping, range) and the billing CSV; the staff knowledge
base pages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from tests.console.test_helpdesk_views import open_ticket, who

from steward.helpdesk import services
from steward.helpdesk.models import Article, SlaPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(world):
    SlaPolicy.objects.create(organization=world.acme, name="24x7", is_default=True, weekly_hours={})
    now = timezone.now()
    t = services.create_ticket(
        who(world.requester), world.acme.pk, subject="A", now=now - timedelta(hours=3)
    )
    services.add_reply(who(world.technician), t, "On it", now=now - timedelta(hours=2))
    services.set_status(who(world.technician), t, "resolved", now=now - timedelta(hours=1))
    services.add_time_entry(who(world.technician), t, 90, note="=cmd|calc", billable=True)
    services.add_time_entry(who(world.technician), t, 15, billable=False)
    return t


def test_reports_show_the_numbers(client, world, answered):
    client.force_login(world.technician)
    response = client.get("/reports/helpdesk/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Acme" in page
    assert "1h" in page  # first response median: one hour
    assert "2h" in page  # resolution median: two hours
    assert "100.0%" in page  # SLA compliance
    rows = response.context["rows"]
    assert rows[0]["created"] == 1 and rows[0]["resolved"] == 1


def test_reports_group_by_technician(client, world, answered):
    client.force_login(world.admin)
    page = client.get("/reports/helpdesk/?group_by=technician").content.decode()
    assert "By technician" in page


def test_reports_range_excludes_other_days(client, world, answered):
    client.force_login(world.technician)
    response = client.get("/reports/helpdesk/?start=2020-01-01&end=2020-01-31")
    assert response.context["rows"] == []
    assert "No tickets were created in this range." in response.content.decode()


def test_reports_refuse_a_reversed_range_gracefully(client, world):
    client.force_login(world.technician)
    response = client.get("/reports/helpdesk/?start=2026-02-01&end=2026-01-01")
    assert response.status_code == 200
    assert "must not be after" in response.content.decode()


def test_outsider_report_has_no_acme_numbers(client, world, answered):
    client.force_login(world.outsider)
    assert client.get("/reports/helpdesk/").context["rows"] == []


def test_time_csv_export(client, world, answered):
    client.force_login(world.technician)
    today = timezone.localdate()
    response = client.get(
        f"/reports/helpdesk/time.csv?start={today - timedelta(days=1)}&end={today}"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("organization,ticket,subject")
    assert any("'=cmd|calc" in line for line in lines)  # formula defused
    assert lines[-1].startswith("Acme,,TOTAL billable,,,90,1.50")


def test_time_csv_outsider_gets_only_the_header(client, world, answered):
    client.force_login(world.outsider)
    body = client.get(f"/reports/helpdesk/time.csv?end={date.today()}").content.decode()
    assert body.strip().splitlines() == [body.strip().splitlines()[0]]


# ---------------------------------------------------------------- knowledge base (staff)


def test_technician_writes_and_publishes_an_article(client, world):
    client.force_login(world.technician)
    assert client.get("/knowledge-base/new/").status_code == 200
    response = client.post(
        "/knowledge-base/new/",
        {
            "organization": world.acme.pk,
            "title": "Map a network drive",
            "body": "1. Open **Explorer**",
            "public": "on",
            "published": "on",
        },
    )
    article = Article.objects.get()
    assert response["Location"] == f"/knowledge-base/{article.pk}/"
    assert article.public and article.published and article.author == world.technician
    page = client.get(f"/knowledge-base/{article.pk}/").content.decode()
    assert "<strong>Explorer</strong>" in page  # preview
    client.post(
        f"/knowledge-base/{article.pk}/",
        {"organization": world.acme.pk, "title": "Map a drive", "body": "x"},
    )
    article.refresh_from_db()
    assert article.title == "Map a drive" and not article.public
    listing = client.get("/knowledge-base/").content.decode()
    assert "Map a drive" in listing and "Draft" in listing


def test_viewer_reads_articles_but_cannot_write(client, world):
    article = Article.objects.create(organization=world.acme, title="Internal runbook", body="x")
    client.force_login(world.viewer)
    assert "Internal runbook" in client.get("/knowledge-base/").content.decode()
    page = client.get(f"/knowledge-base/{article.pk}/")
    assert page.status_code == 200 and b"Save article" not in page.content
    assert client.post(f"/knowledge-base/{article.pk}/", {"title": "pwned"}).status_code == 403
    assert client.get("/knowledge-base/new/").status_code == 403
    assert client.post(f"/knowledge-base/{article.pk}/delete/").status_code == 403


def test_outsider_cannot_see_or_edit_acme_articles(client, world):
    article = Article.objects.create(organization=world.acme, title="Acme runbook", body="x")
    client.force_login(world.outsider)
    assert "Acme runbook" not in client.get("/knowledge-base/").content.decode()
    assert client.get(f"/knowledge-base/{article.pk}/").status_code == 404
    assert client.post(f"/knowledge-base/{article.pk}/delete/").status_code == 404
    assert Article.objects.filter(pk=article.pk).exists()


def test_article_search(client, world):
    Article.objects.create(organization=world.acme, title="VPN setup", body="WireGuard")
    Article.objects.create(organization=world.acme, title="Printer", body="Toner")
    client.force_login(world.technician)
    page = client.get("/knowledge-base/?q=wireguard").content.decode()
    assert "VPN setup" in page and "Printer" not in page


def test_reports_page_for_unused_open_ticket(client, world):
    open_ticket(world)
    client.force_login(world.technician)
    assert client.get("/reports/helpdesk/").status_code == 200
