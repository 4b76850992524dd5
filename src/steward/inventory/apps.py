from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "steward.inventory"
    label = "inventory"

    def ready(self) -> None:
        from steward.audit import registry
        from steward.inventory.models import OBSERVED_FIELDS, Device, EnrollmentToken, Tag

        registry.register(Device, secret_fields={"credential_hash"}, ignore_fields=OBSERVED_FIELDS)
        registry.register(Tag)
        registry.register(EnrollmentToken, secret_fields={"token_hash"}, ignore_fields={"uses"})
