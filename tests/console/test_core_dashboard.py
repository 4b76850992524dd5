"""The dashboard's "needs attention" blocks: firing alerts by severity, failing checks and
open tickets, in the organization scope of the switcher.

Personas from tests/server/conftest.py: Acme's technician, viewer and requester; Globex's
owner (the outsider). Rows are written directly (the alert engine and the help desk have
their own tests); each count is checked against the list it links to.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone
from tests.server.conftest import make_user

from steward.alerts.models import Alert, CheckDefinition, CheckStatus
from steward.helpdesk.models import SlaEvent, Status, Ticket
from steward.tenancy.models import Membership
from steward.tenancy.roles import Role

pytestmark = pytest.mark.django_db

_serial = itertools.count(1)


def make_alert(
    device, severity="critical", phase="firing", name="", started_at=None, value=""
) -> Alert:
    """An alert row; each one made starts a minute before the previous one."""
    now = timezone.now()
    n = next(_serial)
    status = {"resolved": "resolved", "pending": "pending"}.get(phase, "firing")
    return Alert.objects.create(
        organization=device.organization,
        fingerprint=f"fp{n:08d}",
        rule_key=f"r{n}",
        rule_name=name or f"{severity} rule {n}",
        labels={"device": device.hostname},
        status=status,
        phase=phase,
        severity=severity,
        device=device,
        site=device.site,
        value=value,
        started_at=started_at or now - timedelta(minutes=n),
        firing_since=started_at or now - timedelta(minutes=n),
        resolved_at=now if status == "resolved" else None,
        updated_at=now,
    )


def make_check(org, name, status, device=None, enabled=True, message="") -> CheckStatus:
    """A check and its state; each one made changed state a minute before the previous."""
    check = CheckDefinition.objects.create(
        organization=org, device=device, name=name, type="tcp", target="db:5432", enabled=enabled
    )
    return CheckStatus.objects.create(
        definition=check,
        status=status,
        current=status,
        message=message,
        last_change_at=timezone.now() - timedelta(minutes=next(_serial)),
    )


def make_ticket(org, subject, status=Status.OPEN, **fields) -> Ticket:
    number = Ticket.objects.filter(organization=org).count() + 1
    return Ticket.objects.create(
        organization=org, number=number, subject=subject, status=status, **fields
    )


def severity_counts(response) -> dict[str, int]:
    return {s.key: s.count for s in response.context["alerts"].by_severity}


def as_org(client, org) -> None:
    session = client.session
    session["steward_org_id"] = org.pk
    session.save()


# ---------------------------------------------------------------- firing alerts


def test_firing_alerts_are_counted_by_severity_as_the_alert_list_counts_them(client, world):
    device = world.acme_device
    for _ in range(2):
        make_alert(device, "critical")
    make_alert(device, "warning")
    make_alert(device, "warning", phase="pending")  # on the list's "Firing" tab too
    make_alert(device, "info", phase="flapping")
    # Not firing: resolved, or taken care of by someone.
    make_alert(device, "critical", phase="resolved")
    make_alert(device, "critical", phase="acknowledged")
    make_alert(device, "critical", phase="snoozed")
    make_alert(device, "warning", phase="muted")
    make_alert(world.globex_device, "critical", name="globex secret rule")
    client.force_login(world.technician)

    response = client.get("/")

    assert severity_counts(response) == {"critical": 2, "warning": 2, "info": 1}
    assert response.context["alerts"].total == 5
    page = response.content.decode()
    for key, count in severity_counts(response).items():
        href = f"/alerts/?tab=firing&amp;severity={key}"
        assert href in page
        listed = client.get(href.replace("&amp;", "&")).context["page_obj"].paginator.count
        assert listed == count, key
    assert "globex secret rule" not in page


def test_the_firing_alert_table_shows_the_most_severe_first_and_at_most_eight(client, world):
    device = world.acme_device
    infos = [make_alert(device, "info") for _ in range(7)]
    warning = make_alert(device, "warning", name="Load high", value="7.25")
    critical = make_alert(device, "critical", name="Disk failing", started_at=timezone.now())
    make_alert(device, "critical", phase="resolved", name="Old news")
    client.force_login(world.viewer)

    response = client.get("/")

    rows = response.context["alerts"].rows
    assert [a.pk for a in rows] == [critical.pk, warning.pk, *[a.pk for a in infos[:6]]]
    page = response.content.decode()
    assert f'href="/alerts/{critical.pk}/"' in page and "Disk failing" in page
    assert "7.25" in page  # the value, through alert_value
    assert f'href="/devices/{device.pk}/"' in page
    assert "<time datetime=" in page
    assert "The 8 most severe of 9" in page
    assert "Old news" not in page


def test_an_alert_row_shows_its_title_with_the_rule_and_value_beneath(client, world):
    alert = make_alert(world.acme_device, "warning", name="Filesystem almost full", value="0.913")
    alert.title = "/ on acme-ws-01 is over 90 % full"
    alert.save()
    client.force_login(world.viewer)

    page = client.get("/").content.decode()

    assert f'href="/alerts/{alert.pk}/">/ on acme-ws-01 is over 90 % full</a>' in page
    assert "Filesystem almost full · 0.913" in page


# Every list that names organizations decides it the same way (console.common).
LISTS = ("/", "/devices/", "/alerts/", "/alerts/checks/", "/alerts/channels/", "/tickets/")


def test_a_superuser_sees_organization_names_only_when_there_are_several(client, world):
    make_alert(world.acme_device, "critical")
    client.force_login(world.superuser)

    for url in LISTS:  # Acme and Globex
        assert client.get(url).context["show_organization"] is True, url
    world.globex_device.delete()
    world.globex_site.delete()
    world.globex.delete()
    for url in LISTS:
        assert client.get(url).context["show_organization"] is False, url


def test_no_firing_alerts_shows_the_empty_state(client, world):
    make_alert(world.acme_device, "critical", phase="resolved")
    client.force_login(world.technician)
    response = client.get("/")
    assert severity_counts(response) == {"critical": 0, "warning": 0, "info": 0}
    assert "No alerts firing." in response.content.decode()


# ---------------------------------------------------------------- failing checks


def test_failing_checks_are_the_enabled_checks_in_a_hard_problem_state(client, world):
    acme, device = world.acme, world.acme_device
    make_check(acme, "postgres port", "critical", device, message="connection refused")
    make_check(acme, "website", "critical")  # server-side
    make_check(acme, "backup age", "warning", device)
    make_check(acme, "sshd", "ok", device)
    make_check(acme, "plugin", "unknown", device)
    make_check(acme, "new check", "pending", device)
    make_check(acme, "switched off", "critical", device, enabled=False)
    revoked = type(device).objects.create(
        organization=acme,
        site=world.acme_hq,
        hostname="retired-01",
        credential_hash="retired",
        revoked_at=timezone.now(),
    )
    make_check(acme, "on a retired box", "critical", revoked)
    make_check(world.globex, "globex secret check", "critical", world.globex_device)
    client.force_login(world.technician)

    response = client.get("/")

    checks = response.context["checks"]
    assert (checks.critical, checks.warning, checks.total) == (2, 1, 3)
    # Critical first, then the most recent change.
    assert [s.definition.name for s in checks.rows] == ["postgres port", "website", "backup age"]
    page = response.content.decode()
    assert f'href="/devices/{device.pk}/"' in page
    assert "connection refused" in page and "server-side" in page
    for absent in ("sshd", "switched off", "on a retired box", "globex secret check"):
        assert absent not in page, absent
    # The tile opens the checks list filtered the same way.
    assert 'href="/alerts/checks/?status=failing"' in page
    listed = client.get("/alerts/checks/?status=failing").context["items"]
    assert sorted(c.name for c in listed) == ["backup age", "postgres port", "website"]


def test_no_failing_checks_shows_the_empty_state(client, world):
    make_check(world.acme, "sshd", "ok", world.acme_device)
    client.force_login(world.technician)
    response = client.get("/")
    assert response.context["checks"].total == 0
    assert "No failing checks." in response.content.decode()


# ---------------------------------------------------------------- tickets


def test_open_tickets_are_counted_as_the_ticket_lists_count_them(client, world):
    acme, now = world.acme, timezone.now()
    make_ticket(acme, "mine", assignee=world.technician)
    make_ticket(acme, "someone else's", assignee=world.admin, status=Status.PENDING)
    due_soon = make_ticket(acme, "due soon", status=Status.NEW)
    Ticket.objects.filter(pk=due_soon.pk).update(sla_next_due_at=now + timedelta(hours=1))
    later = make_ticket(acme, "due later", status=Status.ON_HOLD)
    Ticket.objects.filter(pk=later.pk).update(sla_next_due_at=now + timedelta(hours=30))
    late = make_ticket(acme, "late")
    SlaEvent.objects.create(ticket=late, target="resolution", kind=SlaEvent.BREACH)
    SlaEvent.objects.create(ticket=due_soon, target="first_response", kind=SlaEvent.WARNING)
    very_late = make_ticket(acme, "very late", status=Status.ON_HOLD)  # both targets missed
    for target in ("first_response", "resolution"):
        SlaEvent.objects.create(ticket=very_late, target=target, kind=SlaEvent.BREACH)
    closed = make_ticket(acme, "closed", status=Status.CLOSED)
    SlaEvent.objects.create(ticket=closed, target="resolution", kind=SlaEvent.BREACH)
    make_ticket(acme, "resolved", status=Status.RESOLVED)
    globex = make_ticket(world.globex, "globex open", status=Status.NEW)
    SlaEvent.objects.create(ticket=globex, target="resolution", kind=SlaEvent.BREACH)
    client.force_login(world.technician)

    response = client.get("/")

    t = response.context["tickets"]
    assert (t.open, t.mine, t.unassigned, t.breaching, t.breached) == (6, 1, 4, 1, 2)
    page = response.content.decode()
    for url, count in (
        ("/tickets/", t.open),
        ("/tickets/unassigned/", t.unassigned),
        ("/tickets/breaching/", t.breaching),
        ("/tickets/breached/", t.breached),
        ("/tickets/mine/", t.mine),
    ):
        listed = client.get(url)
        assert listed.context["page_obj"].paginator.count == count, url
        # The help desk sidebar counts the same way.
        view = url.strip("/").split("/")[-1].replace("tickets", "open")
        assert listed.context["hd_counts"][view] == count, url
    for url in ("/tickets/", "/tickets/unassigned/", "/tickets/breaching/", "/tickets/breached/"):
        assert f'href="{url}"' in page, url
    assert 'href="#failing-checks"' not in page


def test_no_open_tickets_shows_the_empty_state(client, world):
    make_ticket(world.acme, "done", status=Status.CLOSED)
    client.force_login(world.viewer)
    response = client.get("/")
    assert response.context["tickets"].open == 0
    assert "No open tickets." in response.content.decode()


def test_requesters_get_the_portal_not_the_dashboard(client, world):
    make_ticket(world.acme, "my printer", requester=world.requester)
    client.force_login(world.requester)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/portal/"


def test_a_requester_somewhere_sees_only_the_tickets_of_organizations_where_they_are_staff(
    client, world
):
    # Staff in Globex, requester in Acme: their own Acme ticket is a portal matter and
    # Acme's alerts and checks are not theirs to see.
    person = make_user("mixed@example.test", world.globex, Role.VIEWER)
    Membership.objects.create(user=person, organization=world.acme, role=Role.REQUESTER)
    make_ticket(world.acme, "acme printer", requester=person)
    make_ticket(world.acme, "acme other")
    make_ticket(world.globex, "globex open")
    make_alert(world.acme_device, "critical", name="acme disk rule")
    make_check(world.acme, "acme check", "critical", world.acme_device)
    client.force_login(person)

    response = client.get("/")

    assert response.status_code == 200
    assert (response.context["tickets"].open, response.context["tickets"].unassigned) == (1, 1)
    assert severity_counts(response)["critical"] == 0
    assert response.context["checks"].total == 0
    page = response.content.decode()
    assert "acme disk rule" not in page and "acme check" not in page


# ---------------------------------------------------------------- tenant isolation


@pytest.fixture
def both(world):
    """Acme and Globex each with a firing alert, a failing check and open tickets."""
    make_alert(world.acme_device, "critical", name="acme disk rule")
    make_alert(world.acme_device, "warning", name="acme load rule")
    make_alert(world.globex_device, "critical", name="globex disk rule")
    make_check(world.acme, "acme check", "critical", world.acme_device)
    make_check(world.globex, "globex check", "warning", world.globex_device)
    make_check(world.globex, "globex other check", "warning", world.globex_device)
    for i in range(3):
        make_ticket(world.acme, f"acme ticket {i}")
    late = make_ticket(world.globex, "globex ticket")
    SlaEvent.objects.create(ticket=late, target="resolution", kind=SlaEvent.BREACH)
    Membership.objects.create(user=world.outsider, organization=world.acme, role=Role.ADMIN)
    return world


def summary(response) -> tuple:
    checks, tickets = response.context["checks"], response.context["tickets"]
    return severity_counts(response), (checks.critical, checks.warning), tickets.open


def test_an_outsider_sees_nothing_of_another_organization(client, world):
    make_alert(world.acme_device, "critical", name="acme disk rule")
    make_check(world.acme, "acme check", "critical", world.acme_device)
    make_ticket(world.acme, "acme ticket")
    make_alert(world.globex_device, "warning", name="globex load rule")
    client.force_login(world.outsider)

    response = client.get("/")

    assert summary(response) == ({"critical": 0, "warning": 1, "info": 0}, (0, 0), 0)
    page = response.content.decode()
    assert "acme disk rule" not in page and "acme check" not in page
    assert "acme-ws-01" not in page and "globex-srv-01" in page


@pytest.mark.parametrize(
    ("chosen", "expected", "present", "absent"),
    [
        (
            "globex",
            ({"critical": 1, "warning": 0, "info": 0}, (0, 2), 1),
            ["globex disk rule", "globex check"],
            ["acme disk rule", "acme load rule", "acme check"],
        ),
        (
            "acme",
            ({"critical": 1, "warning": 1, "info": 0}, (1, 0), 3),
            ["acme disk rule", "acme load rule", "acme check"],
            ["globex disk rule", "globex check"],
        ),
        (
            None,
            ({"critical": 2, "warning": 1, "info": 0}, (1, 2), 4),
            ["acme disk rule", "globex disk rule", "acme check", "globex check"],
            [],
        ),
    ],
)
def test_the_switcher_narrows_every_block_to_the_chosen_organization(
    client, both, chosen, expected, present, absent
):
    client.force_login(both.outsider)  # owner of Globex, admin of Acme
    if chosen:
        as_org(client, getattr(both, chosen))

    response = client.get("/")

    assert summary(response) == expected
    page = response.content.decode()
    for text in present:
        assert text in page, text
    for text in absent:
        assert text not in page, text
    # With both organizations in view, rows say which one they belong to.
    assert response.context["show_organization"] is (chosen is None)
    # The tiles' lists are narrowed the same way: each shows the tile's number of rows.
    checks, tickets = response.context["checks"], response.context["tickets"]
    assert tickets.breached == (0 if chosen == "acme" else 1)
    assert len(client.get("/alerts/checks/?status=failing").context["items"]) == checks.total
    breached = client.get("/tickets/breached/").context["page_obj"].paginator.count
    assert breached == tickets.breached
