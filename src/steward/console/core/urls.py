"""URLs of the console's core pages (namespace "console", see console/urls.py)."""

from django.urls import path

from steward.console.core import account, auth, device_actions, devices, home

urlpatterns = [
    path("", home.dashboard, name="home"),
    path("organization/", home.switch_organization, name="org-switch"),
    path("login/", auth.login_view, name="login"),
    path("login/2fa/", auth.login_totp, name="login-2fa"),
    path("logout/", auth.logout_view, name="logout"),
    path("account/", account.account, name="account"),
    path("account/2fa/setup/", account.totp_setup, name="totp-setup"),
    path("account/2fa/disable/", account.totp_disable, name="totp-disable"),
    path("devices/", devices.device_list, name="devices"),
    path("devices/<int:pk>/", devices.device_detail, name="device"),
    path("devices/<int:pk>/software/", devices.device_software, name="device-software"),
    path("devices/<int:pk>/edit/", device_actions.device_edit, name="device-edit"),
    path("devices/<int:pk>/revoke/", device_actions.device_revoke, name="device-revoke"),
    path("devices/<int:pk>/delete/", device_actions.device_delete, name="device-delete"),
    path(
        "devices/<int:pk>/collection/",
        device_actions.device_collection,
        name="device-collection",
    ),
]
