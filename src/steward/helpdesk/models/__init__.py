"""Help desk models, one module per area; imported here so Django finds them."""

from steward.helpdesk.models.alerts import AlertRecord, AlertTicketPolicy
from steward.helpdesk.models.kb import Article
from steward.helpdesk.models.sla import Holiday, SlaEvent, SlaPolicy
from steward.helpdesk.models.tickets import (
    Attachment,
    CannedResponse,
    Category,
    DeviceAssignment,
    HelpdeskSettings,
    Level,
    LinkedAlert,
    Mention,
    Notification,
    Priority,
    Queue,
    Reply,
    SearchDocument,
    Source,
    Status,
    Ticket,
    TicketCounter,
    TicketStatusChange,
    TicketTag,
    TimeEntry,
    Via,
)

__all__ = [
    "AlertRecord",
    "AlertTicketPolicy",
    "Article",
    "Attachment",
    "CannedResponse",
    "Category",
    "DeviceAssignment",
    "HelpdeskSettings",
    "Holiday",
    "Level",
    "LinkedAlert",
    "Mention",
    "Notification",
    "Priority",
    "Queue",
    "Reply",
    "SearchDocument",
    "SlaEvent",
    "SlaPolicy",
    "Source",
    "Status",
    "Ticket",
    "TicketCounter",
    "TicketStatusChange",
    "TicketTag",
    "TimeEntry",
    "Via",
]

from steward.helpdesk.email.models import *  # noqa: F403  (the email gateway's tables)
