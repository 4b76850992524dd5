"""URLs of the staff help desk (namespace "console", concatenated in console/urls.py)."""

from django.urls import path

from steward.console.helpdesk import actions, assets, create, email, kb, queues, reports, ticket

urlpatterns = [
    path("tickets/", queues.ticket_list, {"view": "open"}, name="tickets"),
    path("tickets/mine/", queues.ticket_list, {"view": "mine"}, name="tickets-mine"),
    path(
        "tickets/unassigned/",
        queues.ticket_list,
        {"view": "unassigned"},
        name="tickets-unassigned",
    ),
    path("tickets/breaching/", queues.ticket_list, {"view": "breaching"}, name="tickets-breaching"),
    path("tickets/breached/", queues.ticket_list, {"view": "breached"}, name="tickets-breached"),
    path("tickets/all/", queues.ticket_list, {"view": "all"}, name="tickets-all"),
    path("tickets/queue/<int:queue_id>/", queues.ticket_list, name="tickets-queue"),
    path("tickets/bulk/", queues.bulk, name="tickets-bulk"),
    path("tickets/new/", create.ticket_create, name="ticket-create"),
    path("tickets/<int:pk>/", ticket.ticket_detail, name="ticket"),
    path("tickets/<int:pk>/reply/", actions.reply, name="ticket-reply"),
    path("tickets/<int:pk>/update/", actions.update, name="ticket-update"),
    path("tickets/<int:pk>/follow/", actions.follow, name="ticket-follow"),
    path("tickets/<int:pk>/time/", actions.add_time, name="ticket-time"),
    path("tickets/<int:pk>/devices/", actions.devices, name="ticket-devices"),
    path("tickets/<int:pk>/merge/", actions.merge_into, name="ticket-merge"),
    path("tickets/<int:pk>/attachments/", actions.upload, name="ticket-upload"),
    path(
        "tickets/<int:pk>/attachments/<int:attachment_pk>/",
        actions.download,
        name="ticket-attachment",
    ),
    path("knowledge-base/", kb.article_list, name="kb-articles"),
    path("knowledge-base/new/", kb.article_create, name="kb-article-create"),
    path("knowledge-base/<int:pk>/", kb.article_edit, name="kb-article-edit"),
    path("knowledge-base/<int:pk>/delete/", kb.article_delete, name="kb-article-delete"),
    path("reports/helpdesk/", reports.report, name="helpdesk-reports"),
    path("reports/helpdesk/time.csv", reports.time_csv, name="helpdesk-report-time-csv"),
    path("helpdesk/email/", email.email_overview, name="helpdesk-email"),
    path("helpdesk/email/mailboxes/new/", email.mailbox_create, name="helpdesk-mailbox-create"),
    path("helpdesk/email/mailboxes/<int:pk>/", email.mailbox_edit, name="helpdesk-mailbox"),
    path(
        "helpdesk/email/mailboxes/<int:pk>/test/",
        email.mailbox_test,
        name="helpdesk-mailbox-test",
    ),
    path(
        "helpdesk/email/mailboxes/<int:pk>/delete/",
        email.mailbox_delete,
        name="helpdesk-mailbox-delete",
    ),
    path(
        "helpdesk/email/settings/<int:org_id>/",
        email.email_settings_edit,
        name="helpdesk-email-settings",
    ),
    path("helpdesk.js", assets.helpdesk_js, name="helpdesk-js"),
]
