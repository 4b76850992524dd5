"""URLs of the console's metrics pages (namespace "console"; see console/urls.py)."""

from django.urls import path

from steward.console.metrics import views

urlpatterns = [
    path("metrics/", views.fleet, name="fleet"),
]
