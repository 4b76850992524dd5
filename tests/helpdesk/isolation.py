"""Help desk entries for tests/server/test_tenant_isolation.py (ROUTES, ids, paths).

tests/server/test_tenant_isolation.py merges them into its walk of every route;
``test_isolation.py`` here walks the same table on its own.
"""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from steward.helpdesk import attachments, services
from steward.helpdesk.email.models import HelpdeskEmailSettings, Mailbox
from steward.helpdesk.models import (
    AlertTicketPolicy,
    Article,
    CannedResponse,
    Category,
    DeviceAssignment,
    Queue,
    SlaPolicy,
)
from steward.notify.models import Channel

V = "/api/v1"
HELPDESK_ROUTES: dict[tuple[str, str], tuple[dict | None, set[int]]] = {
    ("GET", f"{V}/tickets"): (None, {200}),
    ("POST", f"{V}/tickets"): ({"organization_id": "{org}", "subject": "rogue"}, {404}),
    ("GET", f"{V}/tickets/{{ticket_id}}"): (None, {404}),
    ("PATCH", f"{V}/tickets/{{ticket_id}}"): ({"status": "closed", "subject": "pwned"}, {404}),
    ("POST", f"{V}/tickets/{{ticket_id}}/replies"): ({"body": "pwned"}, {404}),
    ("POST", f"{V}/tickets/{{ticket_id}}/assign"): ({"me": True}, {404}),
    ("POST", f"{V}/tickets/{{ticket_id}}/resolve"): ({}, {404}),
    ("POST", f"{V}/tickets/{{ticket_id}}/close"): ({}, {404}),
    ("POST", f"{V}/tickets/{{ticket_id}}/reopen"): ({}, {404}),
    ("POST", f"{V}/tickets/{{ticket_id}}/merge"): ({"target_id": "{ticket}"}, {404}),
    ("GET", f"{V}/tickets/{{ticket_id}}/time-entries"): (None, {404}),
    ("POST", f"{V}/tickets/{{ticket_id}}/time-entries"): ({"minutes": 5}, {404}),
    ("POST", f"{V}/tickets/{{ticket_id}}/follow"): ({}, {404}),
    ("DELETE", f"{V}/tickets/{{ticket_id}}/follow"): (None, {404}),
    ("GET", f"{V}/tickets/{{ticket_id}}/attachments"): (None, {404}),
    ("POST", f"{V}/tickets/{{ticket_id}}/attachments"): ({}, {404}),
    ("GET", f"{V}/tickets/{{ticket_id}}/attachments/{{attachment_id}}"): (None, {404}),
    ("GET", f"{V}/queues"): (None, {200}),
    ("POST", f"{V}/queues"): ({"organization_id": "{org}", "name": "rogue"}, {404}),
    ("PATCH", f"{V}/queues/{{object_id}}"): ({"name": "pwned"}, {404}),
    ("DELETE", f"{V}/queues/{{object_id}}"): (None, {404}),
    ("GET", f"{V}/categories"): (None, {200}),
    ("POST", f"{V}/categories"): ({"organization_id": "{org}", "name": "rogue"}, {404}),
    ("PATCH", f"{V}/categories/{{object_id}}"): ({"name": "pwned"}, {404}),
    ("DELETE", f"{V}/categories/{{object_id}}"): (None, {404}),
    ("GET", f"{V}/canned-responses"): (None, {200}),
    ("POST", f"{V}/canned-responses"): (
        {"organization_id": "{org}", "title": "x", "body": "x"},
        {404},
    ),
    ("PATCH", f"{V}/canned-responses/{{object_id}}"): ({"title": "pwned"}, {404}),
    ("DELETE", f"{V}/canned-responses/{{object_id}}"): (None, {404}),
    ("GET", f"{V}/alert-ticket-policies"): (None, {200}),
    ("POST", f"{V}/alert-ticket-policies"): ({"organization_id": "{org}"}, {404}),
    ("PATCH", f"{V}/alert-ticket-policies/{{object_id}}"): ({"enabled": False}, {404}),
    ("DELETE", f"{V}/alert-ticket-policies/{{object_id}}"): (None, {404}),
    ("GET", f"{V}/sla-policies"): (None, {200}),
    ("POST", f"{V}/sla-policies"): ({"organization_id": "{org}", "name": "rogue"}, {404}),
    ("GET", f"{V}/sla-policies/{{policy_id}}"): (None, {404}),
    ("PATCH", f"{V}/sla-policies/{{policy_id}}"): ({"name": "pwned"}, {404}),
    ("DELETE", f"{V}/sla-policies/{{policy_id}}"): (None, {404}),
    ("GET", f"{V}/helpdesk-settings/{{org_id}}"): (None, {404}),
    ("PATCH", f"{V}/helpdesk-settings/{{org_id}}"): ({"auto_close_days": 1}, {404}),
    ("GET", f"{V}/device-assignments"): (None, {200}),
    ("POST", f"{V}/device-assignments"): ({"device_id": "{device}", "user_id": "{user}"}, {404}),
    ("DELETE", f"{V}/device-assignments/{{assignment_id}}"): (None, {404}),
    ("GET", f"{V}/kb/articles"): (None, {200}),
    ("POST", f"{V}/kb/articles"): ({"organization_id": "{org}", "title": "rogue"}, {404}),
    ("GET", f"{V}/kb/articles/{{article_id}}"): (None, {404}),
    ("PATCH", f"{V}/kb/articles/{{article_id}}"): ({"title": "pwned"}, {404}),
    ("DELETE", f"{V}/kb/articles/{{article_id}}"): (None, {404}),
    ("GET", f"{V}/kb/suggest"): (None, {200}),
    ("GET", f"{V}/helpdesk/search"): (None, {200}),
    ("GET", f"{V}/reports/tickets"): (None, {200}),
    ("GET", f"{V}/reports/time.csv"): (None, {200}),
    ("GET", f"{V}/helpdesk/mailboxes"): (None, {200}),
    ("POST", f"{V}/helpdesk/mailboxes"): (
        {"organization_id": "{org}", "address": "rogue@globex.test", "host": "x", "username": "x"},
        {404},
    ),
    ("GET", f"{V}/helpdesk/mailboxes/{{mailbox_id}}"): (None, {404}),
    ("PATCH", f"{V}/helpdesk/mailboxes/{{mailbox_id}}"): ({"host": "imap.globex.test"}, {404}),
    ("DELETE", f"{V}/helpdesk/mailboxes/{{mailbox_id}}"): (None, {404}),
    ("POST", f"{V}/helpdesk/mailboxes/{{mailbox_id}}/test"): (None, {404}),
    ("GET", f"{V}/helpdesk/email-settings/{{org_id}}"): (None, {404}),
    ("PUT", f"{V}/helpdesk/email-settings/{{org_id}}"): ({"enabled": False}, {404}),
}

OBJECT_IDS = {
    "/queues/": "queue_id",
    "/categories/": "category_id",
    "/canned-responses/": "canned_id",
    "/alert-ticket-policies/": "alert_policy_id",
}


def helpdesk_ids(world) -> dict[str, int]:
    """Acme help desk objects for the walk (a ticket with a reply, a file, time...)."""
    ticket = services.create_ticket(
        None, world.acme.pk, subject="Acme printer", requester_id=world.requester.pk
    )
    services.add_reply(None, ticket, "Acme internal note", public=False, author=world.technician)
    services.add_time_entry(None, ticket, 10, user=world.technician)
    att = attachments.save_attachment(None, ticket, SimpleUploadedFile("acme.txt", b"Acme file"))
    policy = SlaPolicy.objects.create(organization=world.acme, name="Acme SLA")
    mail = Channel.objects.create(
        organization=world.acme,
        name="Acme help desk mail",
        kind="email",
        config={"host": "smtp.acme.test", "port": 587, "from_address": "help@acme.test"},
        secrets={"password": "acme-smtp-secret"},
    )
    HelpdeskEmailSettings.objects.create(
        organization=world.acme, channel=mail, from_address="help@acme.test", from_name="Acme"
    )
    mailbox = Mailbox.objects.create(
        organization=world.acme,
        address="help@acme.test",
        host="imap.acme.test",
        username="help@acme.test",
        password="acme-imap-secret",
    )
    return {
        "ticket_id": ticket.pk,
        "ticket": ticket.pk,
        "attachment_id": att.pk,
        "queue_id": Queue.objects.create(organization=world.acme, name="Acme queue").pk,
        "category_id": Category.objects.create(organization=world.acme, name="Acme cat").pk,
        "canned_id": CannedResponse.objects.create(
            organization=world.acme, title="Acme canned", body="x"
        ).pk,
        "alert_policy_id": AlertTicketPolicy.objects.create(organization=world.acme).pk,
        "policy_id": policy.pk,
        "article_id": Article.objects.create(
            organization=world.acme, title="Acme article", body="x", published=True, public=True
        ).pk,
        "assignment_id": DeviceAssignment.objects.create(
            organization=world.acme, device=world.acme_device, user=world.requester
        ).pk,
        "mailbox_id": mailbox.pk,
        "device": world.acme_device.pk,
        "user": world.requester.pk,
    }


def helpdesk_path(path: str, ids: dict) -> str:
    """Fill the help desk placeholders of a route path with Acme's ids."""
    for prefix, key in OBJECT_IDS.items():
        if prefix in path:
            path = path.replace("{object_id}", str(ids[key]))
    for key in (
        "ticket_id",
        "attachment_id",
        "policy_id",
        "article_id",
        "assignment_id",
        "mailbox_id",
    ):
        path = path.replace("{" + key + "}", str(ids[key]))
    return path


def helpdesk_snapshot() -> list:
    """Acme's help desk rows, to prove a route changed nothing."""
    from steward.helpdesk import models as m

    acme = {"organization__name": "Acme"}
    via_ticket = {"ticket__organization__name": "Acme"}
    return [
        list(m.Ticket.objects.filter(**acme).values()),
        list(m.Reply.objects.filter(**via_ticket).values()),
        list(m.TimeEntry.objects.filter(**via_ticket).values()),
        list(m.Attachment.objects.filter(**via_ticket).values()),
        list(m.Queue.objects.filter(**acme).values()),
        list(m.Category.objects.filter(**acme).values()),
        list(m.CannedResponse.objects.filter(**acme).values()),
        list(m.AlertTicketPolicy.objects.filter(**acme).values()),
        list(m.SlaPolicy.objects.filter(**acme).values()),
        list(m.Article.objects.filter(**acme).values()),
        list(m.DeviceAssignment.objects.filter(**acme).values()),
        list(m.HelpdeskSettings.objects.filter(**acme).values()),
        list(Mailbox.objects.filter(**acme).values()),
        list(HelpdeskEmailSettings.objects.filter(**acme).values()),
    ]
