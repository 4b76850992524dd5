from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "steward.notify"
    label = "notify"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from steward.audit import registry
        from steward.notify.models import Channel, NotificationPreference

        # The secrets are recorded as changed, never with their values.
        registry.register(Channel, secret_fields={"secrets"})
        registry.register(NotificationPreference)
