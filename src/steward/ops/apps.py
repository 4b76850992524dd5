from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "steward.ops"
    label = "ops"
