"""Mounted at the root: ``path("", include("steward.alerts.urls"))``."""

from django.urls import path

from steward.alerts import views

urlpatterns = [
    path("ping/<uuid:slug>", views.ping, name="heartbeat-ping"),
    path("ping/<uuid:slug>/<str:action>", views.ping, name="heartbeat-ping-action"),
]
