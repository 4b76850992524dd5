from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "steward.helpdesk"
    label = "helpdesk"
    verbose_name = "Help desk"

    def ready(self) -> None:
        from steward.audit import registry
        from steward.helpdesk import models, search

        for model in (
            models.Ticket,
            models.Queue,
            models.Category,
            models.CannedResponse,
            models.TimeEntry,
            models.SlaPolicy,
            models.Holiday,
            models.Article,
            models.AlertTicketPolicy,
            models.HelpdeskSettings,
            models.DeviceAssignment,
            models.Attachment,
        ):
            registry.register(
                model, ignore_fields={"updated_at", "sla_next_due_at", "sla_next_check_at"}
            )
        from steward.helpdesk.email.models import HelpdeskEmailSettings, Mailbox

        registry.register(
            Mailbox,
            secret_fields={"password"},
            ignore_fields={"last_polled_at", "last_success_at", "last_error", "claimed_until"},
        )
        registry.register(HelpdeskEmailSettings)
        search.connect_signals()
