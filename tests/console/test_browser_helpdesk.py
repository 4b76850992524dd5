"""The help desk in a real browser: a requester opens a ticket in the portal (and is
offered a knowledge base article as they type), a technician answers from the console
with a public reply and an internal note, the requester sees only the reply and answers,
the technician resolves.

Screenshots go to the test's tmp_path and to $STEWARD_SCREENSHOTS when set,
for design review.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from tests.console.test_browser import VIEWPORT
from tests.server.conftest import PASSWORD, make_user

from steward.helpdesk import services
from steward.helpdesk.models import (
    Article,
    CannedResponse,
    Category,
    DeviceAssignment,
    Queue,
    SlaPolicy,
)
from steward.tenancy.roles import Role
from steward.tenancy.scoping import Principal

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _home(settings, tmp_path):
    settings.STEWARD_HOME = tmp_path / "home"


def open_page(browser, color_scheme: str = "light"):
    context = browser.new_context(viewport=VIEWPORT, color_scheme=color_scheme)
    context.set_default_timeout(10_000)
    return context, context.new_page()


def sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def populate(world) -> None:
    """A help desk with some history, so the pages look like a real one."""
    world.requester.name = "Rita Requester"
    world.requester.save()
    world.technician.name = "Tom Tech"
    world.technician.save()
    world.admin.name = "Ada Admin"
    world.admin.save()
    dana = make_user("dana@acme.test", world.acme, Role.REQUESTER)
    dana.name = "Dana Designer"
    dana.save()
    SlaPolicy.objects.create(
        organization=world.acme, name="Business 24x7", is_default=True, weekly_hours={}
    )
    service_desk = Queue.objects.create(organization=world.acme, name="Service desk")
    network = Queue.objects.create(organization=world.acme, name="Network")
    hardware = Category.objects.create(organization=world.acme, name="Hardware")
    Category.objects.create(organization=world.acme, name="Accounts")
    CannedResponse.objects.create(
        organization=world.acme,
        title="Restart first",
        body="Could you restart the device and tell us whether the problem remains?",
    )
    Article.objects.create(
        organization=world.acme,
        title="Printer shows a paper jam",
        body="## Clear a paper jam\n\n1. Open **tray 2**.\n2. Pull the jammed sheet out "
        "slowly, towards you.\n3. Close the tray and press *Resume*.",
        public=True,
        published=True,
        category=hardware,
    )
    Article.objects.create(
        organization=world.acme,
        title="Connect to the VPN",
        body="Install WireGuard and import the profile from the intranet.",
        public=True,
        published=True,
    )
    DeviceAssignment.objects.create(
        organization=world.acme, device=world.acme_device, user=world.requester
    )
    tech = Principal(user=world.technician)
    now = timezone.now()
    samples = [
        ("VPN drops every 10 minutes", network, "high", "high", world.technician, 50),
        ("New starter: laptop and accounts for J. Doe", service_desk, "medium", "low", None, 300),
        (
            "Outlook asks for the password again and again",
            service_desk,
            "medium",
            "medium",
            world.admin,
            600,
        ),
        ("Wi-Fi slow in meeting room B", network, "low", "medium", None, 1500),
        ("Monitor flickers", service_desk, "low", "low", world.technician, 3000),
    ]
    for subject, queue, impact, urgency, assignee, minutes in samples:
        ticket = services.create_ticket(
            tech,
            world.acme.pk,
            subject=subject,
            description="Reported by phone.",
            requester_id=dana.pk,
            queue_id=queue.pk,
            impact=impact,
            urgency=urgency,
            assignee_id=assignee.pk if assignee else None,
            now=now - timedelta(minutes=minutes),
        )
        if minutes > 1000:
            services.add_reply(tech, ticket, "Looking into it.", now=now - timedelta(minutes=900))


def test_requester_and_technician_work_a_ticket(
    transactional_db, live_server, world, browser, shots
):
    from playwright.sync_api import expect

    populate(world)
    base = live_server.url

    # ------------------------------------------------ the requester opens a ticket
    rctx, rita = open_page(browser)
    sign_in(rita, base, "requester@acme.test")
    rita.goto(f"{base}/portal/")
    expect(rita.get_by_role("heading", name="Hello Rita Requester")).to_be_visible()
    rita.get_by_role("link", name="New ticket").click()
    expect(rita.get_by_role("heading", name="Open a ticket")).to_be_visible()
    rita.get_by_label("Subject").fill("Printer on floor 2 has a paper jam")
    rita.get_by_label("Description").press_sequentially("It blinks red since this morning.")
    suggestion = rita.locator("[data-suggest-list]").get_by_role(
        "link", name="Printer shows a paper jam"
    )
    expect(suggestion).to_be_visible()
    rita.get_by_label("Affected device").select_option(label="acme-ws-01")
    shots(rita, "portal-new-ticket")
    rita.get_by_role("button", name="Open ticket").click()
    expect(rita.get_by_role("heading", name="Printer on floor 2 has a paper jam")).to_be_visible()
    ticket_url = rita.url
    ticket_id = int(ticket_url.rstrip("/").rsplit("/", 1)[1])

    # ------------------------------------------------ the technician answers
    tctx, tom = open_page(browser)
    sign_in(tom, base, "tech@acme.test")
    tom.goto(f"{base}/tickets/unassigned/")
    row = tom.get_by_role("row").filter(has_text="Printer on floor 2 has a paper jam")
    expect(row).to_contain_text("Rita Requester")
    expect(row.locator(".status-sla-ok")).to_be_visible()
    shots(tom, "console-unassigned")
    tom.goto(f"{base}/tickets/")
    shots(tom, "console-all-open")
    row = tom.get_by_role("row").filter(has_text="Printer on floor 2 has a paper jam")
    row.get_by_role("link", name="Printer on floor 2 has a paper jam").click()
    expect(tom.get_by_role("heading", name="Printer on floor 2 has a paper jam")).to_be_visible()
    tom.get_by_label("Canned response").select_option(label="Restart first")
    expect(tom.locator("#id_body")).to_have_value(
        "Could you restart the device and tell us whether the problem remains?"
    )
    tom.locator("#id_body").fill("Please open **tray 2** and pull the sheet out slowly.")
    tom.get_by_role("button", name="Send reply").click()
    expect(tom.get_by_role("status").first).to_contain_text("Reply sent.")
    tom.get_by_text("Internal note", exact=True).first.click()
    tom.locator("#id_body").fill("Fuser looks worn: ordering part FU-220 from the supplier.")
    tom.get_by_role("button", name="Add note").click()
    expect(tom.get_by_role("status").first).to_contain_text("Internal note added.")
    tom.get_by_label("Minutes").fill("15")
    tom.get_by_label("Note", exact=True).fill("Remote diagnosis")
    tom.get_by_role("button", name="Log time").click()
    expect(tom.locator("#time")).to_contain_text("15 min")
    expect(tom.locator(".msg-internal")).to_contain_text("ordering part FU-220")
    shots(tom, "console-ticket")

    # ------------------------------------------------ the requester sees the reply only
    rita.goto(ticket_url)
    expect(rita.get_by_text("pull the sheet out slowly")).to_be_visible()
    expect(rita.get_by_text("FU-220")).to_have_count(0)
    expect(rita.get_by_text("Remote diagnosis")).to_have_count(0)
    rita.get_by_label("Your reply").fill("Done, but it jams again after two pages.")
    rita.get_by_role("button", name="Send reply").click()
    expect(rita.get_by_role("status").first).to_contain_text("Reply sent.")
    shots(rita, "portal-ticket")

    # ------------------------------------------------ the technician resolves
    tom.goto(f"{base}/tickets/{ticket_id}/")
    expect(tom.get_by_text("it jams again after two pages")).to_be_visible()
    tom.get_by_role("button", name="Resolve").click()
    expect(tom.get_by_role("status").first).to_contain_text("updated")
    expect(tom.locator(".hd-ticket-header .status-resolved")).to_have_text("Resolved")
    rita.goto(ticket_url)
    expect(rita.get_by_text("We think this is solved")).to_be_visible()
    shots(rita, "portal-resolved")
    rita.goto(f"{base}/portal/?show=closed")
    shots(rita, "portal-list")
    rita.goto(f"{base}/portal/kb/?q=printer")
    shots(rita, "portal-kb")

    # ------------------------------------------------ the rest of the console
    tom.goto(f"{base}/knowledge-base/")
    shots(tom, "console-kb")
    tom.goto(f"{base}/reports/helpdesk/")
    expect(tom.get_by_role("heading", name="Help desk reports")).to_be_visible()
    shots(tom, "console-reports")
    tom.goto(f"{base}/tickets/new/")
    shots(tom, "console-new-ticket")
    rctx.close()
    tctx.close()


def test_ticket_page_in_the_dark(transactional_db, live_server, world, browser, shots):
    from playwright.sync_api import expect

    populate(world)
    ticket = services.create_ticket(
        Principal(user=world.requester), world.acme.pk, subject="Keyboard missing keys"
    )
    services.add_reply(Principal(user=world.technician), ticket, "Swap planned.", public=False)
    context, page = open_page(browser, "dark")
    sign_in(page, live_server.url, "admin@acme.test")
    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")
    expect(page.locator(".msg-internal")).to_contain_text("Swap planned.")
    shots(page, "console-ticket-dark")
    page.goto(f"{live_server.url}/tickets/")
    shots(page, "console-list-dark")
    context.close()
