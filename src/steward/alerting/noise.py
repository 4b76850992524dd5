"""Noise control that depends on one alert or on pairs of alerts: flapping and inhibition.

Flapping (after Nagios' flap detection): every firing<->resolved flip of an alert is kept with
its time; the flap score is the sum of their weights over the last ``window_s``, the weights
rising linearly from 0.8 (oldest edge of the window) to 1.2 (now), so recent instability
counts more than old. Above ``high`` the alert is marked flapping and its notifications are
held; it is released once the score falls to ``low`` or below (hysteresis: a gap between the
two thresholds stops the flag itself from flapping). Nagios counts flips among the last 21
checks; we count in time because evaluation happens on arrival and check rates differ.

Inhibition (after Alertmanager's inhibit rules): a *firing* alert matching ``source``
suppresses alerts matching ``target`` that have the same values for every ``equal`` label. An
alert never inhibits itself. :data:`DEVICE_OFFLINE_INHIBITION` is the built-in "an offline
device's other alerts are noise" rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from steward.alerting._serde import Serde
from steward.alerting.errors import InvalidRule
from steward.alerting.labels import Labels, Matcher, MatchOp, matches_all
from steward.alerting.lifecycle import AlertState, Transition, sync


@dataclass(frozen=True)
class FlapConfig(Serde):
    window_s: float = 1800.0
    high: float = 4.0
    low: float = 2.0

    def __post_init__(self) -> None:
        if self.window_s <= 0 or not 0 <= self.low < self.high:
            raise InvalidRule("flap detection needs window_s > 0 and 0 <= low < high")


def flap_score(changes: Iterable[float], now: float, window_s: float) -> float:
    """Weighted count of the flips within ``(now - window_s, now]``."""
    start = now - window_s
    return sum(0.8 + 0.4 * (t - start) / window_s for t in changes if start < t <= now)


def update_flapping(
    state: AlertState, config: FlapConfig, now: float
) -> tuple[AlertState, list[Transition]]:
    """Forget flips older than the window, then set or clear the flapping flag."""
    start = now - config.window_s
    changes = tuple(t for t in state.changes if t > start)
    score = flap_score(changes, now, config.window_s)
    s = replace(state, changes=changes) if changes != state.changes else state
    if not s.flapping and score >= config.high:
        return sync(replace(s, flapping=True), now, f"flapping (score {score:.2f})")
    if s.flapping and score <= config.low:
        return sync(replace(s, flapping=False), now, f"stable again (score {score:.2f})")
    return s, []


def flap_recheck_at(state: AlertState, config: FlapConfig) -> float | None:
    """When a flapping alert should next be looked at (its oldest flip leaves the window)."""
    if not state.flapping or not state.changes:
        return None
    return state.changes[0] + config.window_s


@dataclass(frozen=True)
class InhibitRule(Serde):
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...] = ()
    equal: tuple[str, ...] = ()
    name: str = ""

    def inhibits(self, source: Labels, target: Labels) -> bool:
        return (
            matches_all(self.source, source)
            and matches_all(self.target, target)
            and all(source.get(k, "") == target.get(k, "") for k in self.equal)
        )


DEVICE_OFFLINE_INHIBITION = InhibitRule(
    source=(Matcher("alertkind", MatchOp.EQ, "device_offline"),),
    target=(Matcher("alertkind", MatchOp.NE, "device_offline"),),
    equal=("device",),
    name="device offline hides the device's other alerts",
)


def equal_key(rule: InhibitRule, labels: Labels) -> tuple[str, ...]:
    """The values of the labels ``rule.equal`` names: a source can only inhibit a target
    with the same key."""
    return tuple(labels.get(k, "") for k in rule.equal)


class Inhibitors:
    """The firing alerts that can inhibit others, indexed per rule by :func:`equal_key`.

    Judging an alert then costs a dictionary lookup per rule, not a pass over every source:
    with 450 devices offline (450 sources) every round of samples went quadratic, and one
    server process spent 44 % of its time in that pass.
    """

    def __init__(self, rules: Iterable[InhibitRule], sources: Iterable[AlertState]) -> None:
        self.rules = tuple(rules)
        self._index: list[dict[tuple[str, ...], list[AlertState]]] = [{} for _ in self.rules]
        for src in sources:
            if src.status.value != "firing":
                continue
            for rule, index in zip(self.rules, self._index, strict=True):
                if matches_all(rule.source, src.labels):
                    index.setdefault(equal_key(rule, src.labels), []).append(src)

    def inhibitor(self, target: AlertState) -> tuple[InhibitRule, AlertState] | None:
        """A (rule, firing source alert) that inhibits ``target``, or None."""
        for rule, index in zip(self.rules, self._index, strict=True):
            for src in index.get(equal_key(rule, target.labels), ()):
                if src.fingerprint != target.fingerprint and rule.inhibits(
                    src.labels, target.labels
                ):
                    return rule, src
        return None
