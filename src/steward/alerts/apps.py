from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "steward.alerts"
    label = "alerts"
    verbose_name = "Alerts and checks"

    def ready(self) -> None:
        from steward.alerts import signals

        signals.connect()
