"""The ticket list stays cheap with many tickets: the number of queries does not grow with
the tickets on the page (each SLA clock reads prefetched history), nor with the total."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from steward.helpdesk import search
from steward.helpdesk.models import (
    Queue,
    SlaEvent,
    SlaPolicy,
    Status,
    Ticket,
    TicketStatusChange,
)

pytestmark = pytest.mark.django_db

# 14 today: session, user, the 2FA check, memberships, the sidebar's counts (views, per
# queue) and queue list, count + page, status histories and SLA holidays (prefetches), the
# filter and bulk choices (categories, technicians), the organization switcher. An
# organization chosen in the switcher is read once more (console.common.current_org).
MAX_QUERIES = 15


def grow(world, n: int, start: int = 1) -> None:
    policy = SlaPolicy.objects.get_or_create(
        organization=world.acme, name="24x7", defaults={"is_default": True, "weekly_hours": {}}
    )[0]
    queue = Queue.objects.get_or_create(organization=world.acme, name="Service desk")[0]
    now = timezone.now()
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                organization=world.acme,
                number=start + i,
                subject=f"Ticket {start + i}",
                requester=world.requester,
                assignee=world.technician if i % 2 else None,
                queue=queue,
                sla_policy=policy,
                status=Status.OPEN if i % 3 else Status.NEW,
                sla_next_due_at=now + timedelta(minutes=30 + i % 500),
                created_at=now - timedelta(minutes=i),
            )
            for i in range(n)
        ],
        batch_size=1000,
    )
    TicketStatusChange.objects.bulk_create(
        [TicketStatusChange(ticket=t, to_status=t.status, at=t.created_at) for t in tickets],
        batch_size=1000,
    )
    SlaEvent.objects.bulk_create(
        [SlaEvent(ticket=t, target="first_response", kind=SlaEvent.BREACH) for t in tickets[::4]],
        batch_size=1000,
    )


def count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url",
    [
        "/tickets/",
        "/tickets/mine/",
        "/tickets/breaching/",
        "/tickets/breached/",
        "/tickets/all/?status=open&priority=P3&sort=due&per_page=100",
    ],
)
def test_ticket_list_issues_a_constant_number_of_queries(client, world, url):
    client.force_login(world.technician)
    grow(world, 120)
    small = count(client, url)
    grow(world, 3000, start=1000)
    large = count(client, url)
    assert large == small
    assert large <= MAX_QUERIES, large


def test_search_in_a_large_list_stays_bounded(client, world):
    grow(world, 2000)
    search.reindex()
    client.force_login(world.technician)
    assert count(client, "/tickets/all/?q=ticket") <= MAX_QUERIES


def test_ticket_page_is_bounded_too(client, world, django_assert_max_num_queries):
    grow(world, 10)
    ticket = Ticket.objects.first()
    client.force_login(world.technician)
    with django_assert_max_num_queries(40):
        assert client.get(f"/tickets/{ticket.pk}/").status_code == 200
