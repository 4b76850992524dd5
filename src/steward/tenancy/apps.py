from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "steward.tenancy"
    label = "tenancy"

    def ready(self) -> None:
        from steward.audit import registry
        from steward.tenancy.models import Membership, Organization, Site

        registry.register(Organization)
        registry.register(Site)
        registry.register(Membership)
