from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "steward.metrics"
    label = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        from steward.audit import registry
        from steward.metrics.models import OBSERVED_SCRAPE_FIELDS, MetricsSettings, ScrapeTarget

        registry.register(MetricsSettings)
        registry.register(ScrapeTarget, ignore_fields=OBSERVED_SCRAPE_FIELDS)
