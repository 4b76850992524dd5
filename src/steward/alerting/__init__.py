"""Steward's alerting core: pure rule evaluation, alert lifecycle and noise control.

Standard library only: no Django and no imports from other steward packages. The Django app
persists the state objects defined here (all dataclasses with ``to_dict``/``from_dict``) and
applies the actions :class:`Engine` returns; see ``docs/alerting-core.md``.
"""

from steward.alerting.actions import Action, EscalateAction, NotifyAction, RecordTransition
from steward.alerting.conditions import (
    Absence,
    CheckFailing,
    Condition,
    ConditionInput,
    DeviceOffline,
    Op,
    Reducer,
    Source,
    Threshold,
    Verdict,
    register_condition,
)
from steward.alerting.engine import Engine, EngineConfig, EngineState
from steward.alerting.errors import (
    AlertingError,
    InvalidCondition,
    InvalidMatcher,
    InvalidOperation,
    InvalidRule,
    InvalidSchedule,
    StateError,
    TemplateError,
)
from steward.alerting.escalation import (
    DueStep,
    EscalationPolicy,
    EscalationState,
    Step,
    Target,
    TargetKind,
    escalation_due,
)
from steward.alerting.labels import Matcher, MatchOp, fingerprint, scope
from steward.alerting.lifecycle import (
    AlertState,
    AlertStatus,
    Observed,
    Phase,
    Transition,
    acknowledge,
    evaluate,
    mute_until_resolved,
    snooze,
)
from steward.alerting.model import CheckResult, CheckState, Heartbeat, Sample, Severity
from steward.alerting.noise import DEVICE_OFFLINE_INHIBITION, FlapConfig, InhibitRule
from steward.alerting.oncall import Override, Rotation, next_handoff, who_is_on_call
from steward.alerting.routing import (
    AlertNotice,
    Grouper,
    GroupTiming,
    Notification,
    NotificationKind,
    NotificationPolicy,
)
from steward.alerting.rules import Rule
from steward.alerting.silences import MaintenanceWindow, Silence, WeeklySlot, is_silenced
from steward.alerting.templates import render

__all__ = [
    "DEVICE_OFFLINE_INHIBITION",
    "Absence",
    "Action",
    "AlertNotice",
    "AlertState",
    "AlertStatus",
    "AlertingError",
    "CheckFailing",
    "CheckResult",
    "CheckState",
    "Condition",
    "ConditionInput",
    "DeviceOffline",
    "DueStep",
    "Engine",
    "EngineConfig",
    "EngineState",
    "EscalateAction",
    "EscalationPolicy",
    "EscalationState",
    "FlapConfig",
    "GroupTiming",
    "Grouper",
    "Heartbeat",
    "InhibitRule",
    "InvalidCondition",
    "InvalidMatcher",
    "InvalidOperation",
    "InvalidRule",
    "InvalidSchedule",
    "MaintenanceWindow",
    "MatchOp",
    "Matcher",
    "Notification",
    "NotificationKind",
    "NotificationPolicy",
    "NotifyAction",
    "Observed",
    "Op",
    "Override",
    "Phase",
    "RecordTransition",
    "Reducer",
    "Rotation",
    "Rule",
    "Sample",
    "Severity",
    "Silence",
    "Source",
    "StateError",
    "Step",
    "Target",
    "TargetKind",
    "TemplateError",
    "Threshold",
    "Transition",
    "Verdict",
    "WeeklySlot",
    "acknowledge",
    "escalation_due",
    "evaluate",
    "fingerprint",
    "is_silenced",
    "mute_until_resolved",
    "next_handoff",
    "register_condition",
    "render",
    "scope",
    "snooze",
    "who_is_on_call",
]
