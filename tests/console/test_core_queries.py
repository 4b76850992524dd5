"""The device list and dashboard stay cheap at 10,000 devices: a constant number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from steward.inventory.models import Device, Tag

pytestmark = pytest.mark.django_db

FLEET = 10_000
# The device list costs 13 today: session, user, the 2FA middleware's check, memberships,
# count, page, tags (prefetch), the page's firing alerts and failing checks (one grouped
# query each), the switcher's organizations and the filter choices (sites, tags, OS
# names); an organization chosen in the switcher is read once more (it is kept on the
# request: console.common.current_org).
MAX_QUERIES = 16


def grow_fleet(world, n: int, prefix: str = "ws") -> None:
    now = timezone.now()
    Device.objects.bulk_create(
        [
            Device(
                organization=world.acme,
                site=world.acme_hq,
                hostname=f"{prefix}-{i:05d}",
                credential_hash=f"{prefix}-{i:05d}",
                os_name=f"Debian GNU/Linux {i % 3 + 10}",
                os_family="linux",
                last_seen=now if i % 2 else None,
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    tags = [
        Tag.objects.get_or_create(organization=world.acme, name=f"rack-{i}")[0] for i in range(3)
    ]
    through = Device.tags.through
    devices = Device.objects.filter(hostname__startswith=f"{prefix}-").values_list("pk", flat=True)
    through.objects.bulk_create(
        [through(device_id=pk, tag_id=tags[pk % 3].pk) for pk in devices], batch_size=2000
    )


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url",
    [
        "/devices/",
        "/devices/?status=online&tag=rack-1&os=debian&q=-0&sort=-last_seen&page=3",
        "/",
    ],
)
def test_pages_issue_a_constant_number_of_queries(client, world, url):
    client.force_login(world.admin)
    grow_fleet(world, 200, prefix="lab")  # enough for page 3 to exist
    small = count_queries(client, url)
    grow_fleet(world, FLEET)
    large = count_queries(client, url)
    assert large == small
    assert large <= MAX_QUERIES


def test_the_device_list_renders_ten_thousand_devices(client, world, django_assert_max_num_queries):
    grow_fleet(world, FLEET)
    client.force_login(world.admin)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get("/devices/?per_page=200")
    assert response.context["page_obj"].paginator.count == FLEET + 1  # + acme-ws-01
    assert len(response.context["page_obj"]) == 200
    assert b"rack-" in response.content


def test_the_device_page_issues_a_bounded_number_of_queries(
    client, world, django_assert_max_num_queries
):
    client.force_login(world.admin)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(f"/devices/{world.acme_device.pk}/").status_code == 200


# The dashboard costs 13 today: session, user, the 2FA check, memberships, device counts,
# firing alerts (counts, rows), failing checks (counts, rows), open tickets (counts), the
# switcher's organizations, sites, recently offline; an organization chosen in the
# switcher is read once more. However many alerts, checks and tickets exist.
DASHBOARD_MAX_QUERIES = 14


def grow_attention(world, n: int, start: int = 0) -> None:
    """``n`` firing alerts (every severity), failing checks and open tickets in Acme,
    half of them on devices of their own."""
    from steward.alerts.models import Alert, CheckDefinition, CheckStatus
    from steward.helpdesk.models import SlaEvent, Status, Ticket

    now = timezone.now()
    grow_fleet(world, n, prefix=f"att{start}")
    devices = list(Device.objects.filter(hostname__startswith=f"att{start}-"))
    severities = ("critical", "warning", "info")
    Alert.objects.bulk_create(
        Alert(
            organization=world.acme,
            fingerprint=f"fp-{start + i}",
            rule_key=f"r{start + i}",
            rule_name=f"rule {start + i}",
            status="firing",
            phase="firing",
            severity=severities[i % 3],
            value=str(i / 7),
            device=devices[i] if i % 2 else world.acme_device,
            site=world.acme_hq,
            started_at=now,
            firing_since=now,
            updated_at=now,
        )
        for i in range(n)
    )
    checks = CheckDefinition.objects.bulk_create(
        CheckDefinition(
            organization=world.acme,
            device=devices[i] if i % 2 else None,
            name=f"check {start + i}",
            type="tcp",
            target="db:5432",
        )
        for i in range(n)
    )
    CheckStatus.objects.bulk_create(
        CheckStatus(
            definition=c, status=("critical", "warning")[i % 2], message="down", last_change_at=now
        )
        for i, c in enumerate(checks)
    )
    tickets = Ticket.objects.bulk_create(
        Ticket(
            organization=world.acme,
            number=start + i + 1,
            subject=f"ticket {start + i}",
            status=Status.OPEN,
            assignee=world.admin if i % 2 else None,
            sla_next_due_at=now + timedelta(hours=i % 8),
        )
        for i in range(n)
    )
    SlaEvent.objects.bulk_create(
        SlaEvent(ticket=t, target="resolution", kind=SlaEvent.BREACH) for t in tickets[::3]
    )


def pick_organization(client, org) -> None:
    """Set the top bar's organization switcher, as its form does."""
    session = client.session
    session["steward_org_id"] = org.pk
    session.save()


@pytest.mark.parametrize("chosen", [False, True])
def test_the_dashboard_does_not_grow_with_alerts_checks_and_tickets(client, world, chosen):
    client.force_login(world.admin)
    if chosen:
        pick_organization(client, world.acme)
    grow_attention(world, 12)
    small = count_queries(client, "/")
    grow_attention(world, 300, start=12)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/")
    assert response.context["alerts"].total == 312
    assert response.context["checks"].total == 312
    assert response.context["tickets"].open == 312
    assert len(response.context["alerts"].rows) == 8 and len(response.context["checks"].rows) == 8
    assert len(ctx.captured_queries) == small
    assert small <= DASHBOARD_MAX_QUERIES, [q["sql"][:120] for q in ctx.captured_queries]


@pytest.mark.parametrize("chosen", [False, True])
def test_the_device_lists_alerts_column_does_not_grow_with_alerts_and_checks(client, world, chosen):
    client.force_login(world.admin)
    if chosen:
        pick_organization(client, world.acme)
    url = "/devices/?per_page=200"
    grow_attention(world, 12)
    small = count_queries(client, url)
    grow_attention(world, 300, start=12)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    page = response.context["page_obj"]
    assert len(page) == 200
    # acme-ws-01 holds half of the 312 alerts; every other new device has one alert and one
    # check: 6 of att0-00000..11 and 93 of the page's att12-00000..186.
    assert page[0].hostname == "acme-ws-01" and page[0].problems.firing == 156
    assert sum(d.problems.firing for d in page) == 156 + 6 + 93
    assert sum(d.problems.failing_checks for d in page) == 6 + 93
    assert len(ctx.captured_queries) == small
    assert small <= MAX_QUERIES, [q["sql"][:120] for q in ctx.captured_queries]
