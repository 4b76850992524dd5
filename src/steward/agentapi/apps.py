from django.apps import AppConfig


class AgentApiConfig(AppConfig):
    name = "steward.agentapi"
    label = "agentapi"
