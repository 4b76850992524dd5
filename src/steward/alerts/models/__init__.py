"""The alerts app's tables, one module per concern."""

from steward.alerts.models.alerts import Alert, AlertEvent, EngineEntry, EngineState, Outbox
from steward.alerts.models.checks import (
    CheckDefinition,
    CheckStatus,
    HeartbeatCheck,
    HeartbeatPing,
)
from steward.alerts.models.rules import (
    AlertRule,
    EscalationPolicy,
    MaintenanceWindow,
    Rotation,
    Route,
    Silence,
)

__all__ = [
    "Alert",
    "AlertEvent",
    "AlertRule",
    "CheckDefinition",
    "CheckStatus",
    "EngineEntry",
    "EngineState",
    "EscalationPolicy",
    "HeartbeatCheck",
    "HeartbeatPing",
    "MaintenanceWindow",
    "Outbox",
    "Rotation",
    "Route",
    "Silence",
]
