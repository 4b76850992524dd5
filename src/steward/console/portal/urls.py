"""URLs of the requester portal (namespace "console", concatenated in console/urls.py)."""

from django.urls import path

from steward.console.portal import kb, views

urlpatterns = [
    path("portal/", views.ticket_list, name="portal"),
    path("portal/tickets/new/", views.ticket_create, name="portal-ticket-create"),
    path("portal/tickets/<int:pk>/", views.ticket_detail, name="portal-ticket"),
    path("portal/tickets/<int:pk>/reply/", views.ticket_reply, name="portal-ticket-reply"),
    path("portal/tickets/<int:pk>/close/", views.ticket_close, name="portal-ticket-close"),
    path(
        "portal/tickets/<int:pk>/attachments/<int:attachment_pk>/",
        views.download,
        name="portal-attachment",
    ),
    path("portal/kb/", kb.article_list, name="portal-kb"),
    path("portal/kb/<int:pk>/", kb.article_detail, name="portal-article"),
    path("portal/suggest/", kb.suggest, name="portal-suggest"),
]
