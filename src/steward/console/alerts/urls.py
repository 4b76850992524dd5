"""URLs of the alerts pages (namespace "console", concatenated in console/urls.py).

Every name starts with "alert", which the sidebar's "Alerts" item uses as its prefix.
"""

from django.urls import path

from steward.console.alerts import alerts, channels, config

urlpatterns = [
    path("alerts/", alerts.alert_list, name="alerts"),
    path("alerts/bulk-ack/", alerts.bulk_ack, name="alerts-bulk-ack"),
    path("alerts/alerts.js", alerts.alerts_js, name="alerts-js"),
    path("alerts/<int:pk>/", alerts.alert_detail, name="alert"),
    path("alerts/<int:pk>/action/", alerts.alert_action, name="alert-action"),
    path("alerts/channels/", channels.channel_list, name="alert-channels"),
    path("alerts/channels/new/", channels.channel_create, name="alert-channel-create"),
    path("alerts/channels/<int:pk>/", channels.channel_edit, name="alert-channel-edit"),
    path("alerts/channels/<int:pk>/test/", channels.channel_test, name="alert-channel-test"),
    path("alerts/channels/<int:pk>/delete/", channels.channel_delete,
         name="alert-channel-delete"),
    path("alerts/channels/<int:pk>/deliveries/", channels.channel_deliveries,
         name="alert-channel-deliveries"),
    path("alerts/rules/<int:pk>/toggle/", config.rule_toggle, name="alert-rule-toggle"),
    path("alerts/silences/<int:pk>/expire/", config.silence_expire, name="alert-silence-expire"),
    path("alerts/checks/<int:pk>/run/", config.check_run, name="alert-check-run"),
]  # fmt: skip

# The same list / create / edit / delete views for every kind of monitoring item.
for _kind in config.KINDS.values():
    _prefix = {"maintenance_windows": "maintenance", "escalation_policies": "escalation"}.get(
        _kind.key, _kind.key
    )
    _kw = {"key": _kind.key}
    urlpatterns += [
        path(f"alerts/{_prefix}/", config.config_list, _kw, name=f"{_kind.url}s"),
        path(f"alerts/{_prefix}/new/", config.config_create, _kw, name=f"{_kind.url}-create"),
        path(f"alerts/{_prefix}/<int:pk>/", config.config_edit, _kw, name=f"{_kind.url}-edit"),
        path(f"alerts/{_prefix}/<int:pk>/delete/", config.config_delete, _kw,
             name=f"{_kind.url}-delete"),
    ]  # fmt: skip
