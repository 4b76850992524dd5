"""Typed exceptions of the alerting core.

Everything the core rejects raises a subclass of :class:`AlertingError`, so the Django app can
turn a bad rule, matcher, template or schedule into one stable, readable API error instead of
catching ``ValueError`` from wherever it happened to be raised.
"""

from __future__ import annotations


class AlertingError(Exception):
    """Base class of every error raised by ``steward.alerting``."""


class InvalidMatcher(AlertingError):
    """A label matcher is malformed (unknown operator, bad regular expression, bad name)."""


class InvalidCondition(AlertingError):
    """A condition is malformed (unknown reducer/operator/kind, negative window...)."""


class InvalidRule(AlertingError):
    """A rule is malformed (empty name, bad severity, bad template...)."""


class TemplateError(AlertingError):
    """A title/description template does not parse or uses a forbidden name."""


class InvalidSchedule(AlertingError):
    """A maintenance window, rotation or escalation policy is malformed."""


class StateError(AlertingError):
    """A serialised state cannot be loaded (wrong shape or unknown version)."""


class InvalidOperation(AlertingError):
    """An operator action does not apply to the alert's state (e.g. acknowledging a resolved
    alert, snoozing into the past)."""
