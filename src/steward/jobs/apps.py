from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "steward.jobs"
    label = "jobs"
