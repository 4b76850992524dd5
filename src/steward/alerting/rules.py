"""Rules: a condition, where it applies, how bad it is, and what to say about it.

The alert for one problem is identified by :meth:`Rule.fingerprint`: the rule id plus the
alert's identifying labels. Everything that varies from one evaluation to the next (the value,
the rendered title) stays out of it, so one failing disk is one alert for its whole life, not
one per sample (the duplicate storm Zabbix users meet when a trigger name embeds the value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from steward.alerting._serde import Serde
from steward.alerting.conditions import Condition
from steward.alerting.errors import InvalidRule
from steward.alerting.labels import Labels, Matcher, fingerprint, matches_all
from steward.alerting.model import Severity
from steward.alerting.templates import compile_template, render

DEFAULT_TITLE = "{{ alertname }}: {{ labels.device }} (value {{ value }})"


@dataclass(frozen=True)
class Rule(Serde):
    """One alerting rule for one organization.

    ``scope`` restricts the rule to alerts whose labels match (see
    :func:`steward.alerting.labels.scope`). ``for_s`` is the Prometheus ``for``: the condition
    must hold continuously that long before the alert fires (it is *pending* meanwhile).
    ``keep_firing_for_s`` delays resolution the same way, which absorbs short recoveries.
    ``identity_labels``, when set, restricts which input labels identify the alert (drop
    volatile labels such as a process id). ``policies`` are notification-policy ids.
    ``annotations`` are templates; ``title`` and ``description`` are the well-known ones.
    """

    id: str
    name: str
    condition: Condition
    severity: Severity = Severity.WARNING
    scope: tuple[Matcher, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    group_by: tuple[str, ...] = ("alertname", "site")
    policies: tuple[str, ...] = ()
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    identity_labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.id or not self.name:
            raise InvalidRule("a rule needs an id and a name")
        try:
            object.__setattr__(self, "severity", Severity(self.severity))
        except ValueError:
            raise InvalidRule(f"unknown severity {self.severity!r}") from None
        if self.for_s < 0 or self.keep_firing_for_s < 0:
            raise InvalidRule("for_s and keep_firing_for_s must be >= 0")
        for text in self.annotations.values():
            compile_template(text)  # raises TemplateError when the rule is saved

    def alert_labels(self, input_labels: Labels) -> dict[str, str]:
        """The alert's labels: identifying input labels, the rule's labels, and three the
        engine adds (``alertname``, ``severity``, ``alertkind``) for routing and inhibition."""
        if self.identity_labels is None:
            base = dict(input_labels)
        else:
            base = {k: input_labels[k] for k in self.identity_labels if k in input_labels}
        base.update(self.labels)
        base["alertname"] = self.name
        base["severity"] = self.severity.value
        base["alertkind"] = self.condition.kind
        return base

    def applies_to(self, alert_labels: Labels) -> bool:
        return matches_all(self.scope, alert_labels)

    def fingerprint(self, alert_labels: Labels) -> str:
        return fingerprint(self.id, alert_labels)

    def render(self, alert_labels: Labels, value: Any, extra: Mapping[str, Any]) -> dict[str, str]:
        """Render every annotation; ``title`` falls back to a generic one."""
        context: dict[str, Any] = {
            **self.condition.template_context(),
            **extra,
            "value": value,
            "labels": dict(alert_labels),
            "alertname": self.name,
            "severity": self.severity.value,
        }
        templates = {"title": DEFAULT_TITLE, **self.annotations}
        return {key: render(text, context) for key, text in templates.items()}
