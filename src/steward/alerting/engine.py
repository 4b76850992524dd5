"""The engine: one organization's rules, state and noise control behind two calls.

``observe(sample | check result | heartbeat, now)`` runs on the arrival of every input and
only evaluates the rules reading that input (an index by metric / check name), so the hot path
costs a dictionary lookup and one reduction over a short window. ``tick(now)`` handles what
time alone changes: conditions whose :attr:`Verdict.recheck_at` has passed (absence, device
offline, ``for`` durations, windows sliding), snoozes and silences ending, flap scores
decaying, group flushes and escalation steps. Call it every second or at
:meth:`Engine.next_wakeup`.

Both return :mod:`~steward.alerting.actions` and mutate only :attr:`Engine.state`, which
round-trips through :meth:`Engine.to_dict` / :meth:`Engine.from_dict`. Given the same config,
state, inputs and ``now`` the output is the same: no clock, randomness or I/O in here.

How an alert reaches people: the lifecycle gives it a phase; an alert in phase ``firing``
that no silence, maintenance window or inhibition hides is fed to the grouper as *firing*,
a resolved one as *resolved*, anything else as *withdrawn*; only changes are fed. The grouper
decides when a notification goes out; a group's first firing notification starts its
escalation, which runs while the group has firing members.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from steward.alerting._serde import Serde, dump
from steward.alerting.actions import Action, EscalateAction, NotifyAction, RecordTransition
from steward.alerting.conditions import ConditionInput, Source
from steward.alerting.errors import InvalidOperation, InvalidRule, StateError
from steward.alerting.escalation import (
    EscalationPolicy,
    EscalationState,
    TargetKind,
    next_step_at,
)
from steward.alerting.escalation import escalation_due as _escalation_due
from steward.alerting.labels import Labels, matches_all, series_key
from steward.alerting.lifecycle import (
    AlertState,
    AlertStatus,
    Observed,
    Phase,
    Transition,
    acknowledge,
    evaluate,
    mute_until_resolved,
    refresh,
    snooze,
    sync,
    unacknowledge,
    unmute,
    unsnooze,
)
from steward.alerting.model import (
    CheckResult,
    CheckState,
    CheckTrack,
    DeviceTrack,
    Heartbeat,
    Insight,
    Observation,
    Sample,
    SeriesBuffer,
)
from steward.alerting.noise import (
    DEVICE_OFFLINE_INHIBITION,
    FlapConfig,
    Inhibitors,
    InhibitRule,
    equal_key,
    flap_recheck_at,
    update_flapping,
)
from steward.alerting.oncall import Rotation, who_is_on_call
from steward.alerting.routing import (
    AlertNotice,
    Grouper,
    GroupState,
    NoticeStatus,
    NotificationKind,
    NotificationPolicy,
)
from steward.alerting.rules import Rule
from steward.alerting.silences import MaintenanceWindow, Silence, is_silenced, next_change
from steward.alerting.templates import render

STATE_VERSION = 1
# A rule that raised while judging an input is tried again this much later (not every tick).
FAILED_RETRY_S = 60.0

log = logging.getLogger("steward.alerting")


@dataclass(frozen=True)
class EngineConfig(Serde):
    """Everything the app configures for one organization (rebuilt from the database)."""

    organization: str
    rules: tuple[Rule, ...] = ()
    policies: tuple[NotificationPolicy, ...] = ()
    escalations: tuple[EscalationPolicy, ...] = ()
    rotations: tuple[Rotation, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = (DEVICE_OFFLINE_INHIBITION,)
    silences: tuple[Silence, ...] = ()
    windows: tuple[MaintenanceWindow, ...] = ()
    flap: FlapConfig | None = field(default_factory=FlapConfig)
    link_template: str = ""
    resolved_retention_s: float = 3600.0
    input_retention_s: float = 86400.0


@dataclass
class EngineState(Serde):
    """Everything the engine remembers between calls (persist it as one JSON document)."""

    version: int = STATE_VERSION
    series: dict[str, SeriesBuffer] = field(default_factory=dict)
    checks: dict[str, CheckTrack] = field(default_factory=dict)
    devices: dict[str, DeviceTrack] = field(default_factory=dict)
    insights: dict[str, Insight] = field(default_factory=dict)
    alerts: dict[str, AlertState] = field(default_factory=dict)
    deadlines: dict[str, float] = field(default_factory=dict)
    fed: dict[str, NoticeStatus] = field(default_factory=dict)
    groups: dict[str, GroupState] = field(default_factory=dict)
    escalations: dict[str, EscalationState] = field(default_factory=dict)


# The maps of EngineState an app may persist entry by entry (``Engine.take_changes`` and
# ``Engine.from_parts``): they are the bulk of a large state (2-3 MB at 1,000 devices), and
# one round changes few of their entries. The rest is one small document (``core_to_dict``).
ENTRY_KINDS = ("series", "checks", "devices", "insights", "alerts")
Entry = tuple[str, str, dict[str, Any] | None]  # kind, key, data (None: removed)


def _deadline_key(rule_id: str, input_key: str) -> str:
    return f"{rule_id}\x1f{input_key}"


class Engine:
    def __init__(self, config: EngineConfig, state: EngineState | None = None) -> None:
        self.config = config
        self.state = state if state is not None else EngineState()
        if self.state.version != STATE_VERSION:
            raise StateError(f"unsupported engine state version {self.state.version}")
        self.rules = {r.id: r for r in config.rules}
        self.policies = {p.id: p for p in config.policies}
        self.escalations = {e.id: e for e in config.escalations}
        self.rotations = {r.id: r for r in config.rotations}
        for rule in config.rules:
            missing = [p for p in rule.policies if p not in self.policies]
            if missing:
                raise InvalidRule(f"rule {rule.id} refers to unknown policies {missing}")
        self.grouper = Grouper(self.policies, self.state.groups)
        self._by_input: dict[tuple[Source, str], list[Rule]] = {}
        self._history: dict[str, float] = {}
        # (rule, series) -> (alert labels, fingerprint, in scope): the series key fixes the
        # input labels, so this is derived data (never persisted), saving a hash per sample.
        self._identity: dict[str, tuple[dict[str, str], str, bool]] = {}
        for rule in config.rules:
            cond = rule.condition
            self._by_input.setdefault((cond.source, cond.input_name()), []).append(rule)
            if cond.source is Source.METRIC:
                name = cond.input_name()
                self._history[name] = max(self._history.get(name, 0.0), cond.history_s())
        self._inhibit_sources = tuple(m for r in config.inhibit_rules for m in [r.source])
        # The firing inhibiting alerts, indexed (built when first needed, dropped when one
        # of them changes): every round judges its alerts against them.
        self._inhibitors: Inhibitors | None = None
        # Keys of the ENTRY_KINDS maps changed since the last take_changes().
        self._dirty: dict[str, set[str]] = {kind: set() for kind in ENTRY_KINDS}

    # ---------------------------------------------------------------- persistence

    def to_dict(self) -> dict[str, Any]:
        return self.state.to_dict()

    @classmethod
    def from_dict(cls, config: EngineConfig, data: dict[str, Any]) -> Engine:
        return cls(config, EngineState.from_dict(data))

    def core_to_dict(self) -> dict[str, Any]:
        """``to_dict`` without the ENTRY_KINDS maps (persisted by ``take_changes``)."""
        return {
            f.name: dump(getattr(self.state, f.name))
            for f in dataclasses.fields(EngineState)
            if f.init and f.name not in ENTRY_KINDS
        }

    def take_changes(self) -> list[Entry]:
        """The entries of the ENTRY_KINDS maps changed since the last call (or since the
        engine was built), as ``(kind, key, data)``, data None for an entry removed; the
        record starts afresh. Persisting them and ``core_to_dict()`` persists the state."""
        changes: list[Entry] = []
        for kind, keys in self._dirty.items():
            entries = getattr(self.state, kind)
            for key in sorted(keys):
                value = entries.get(key)
                changes.append((kind, key, None if value is None else value.to_dict()))
            keys.clear()
        return changes

    @classmethod
    def from_parts(
        cls, config: EngineConfig, core: dict[str, Any], entries: Iterable[Entry]
    ) -> Engine:
        """The engine of ``core_to_dict()`` and the persisted entries. A ``core`` that still
        holds entry maps (a whole ``to_dict()`` document) is read too, and its entries are
        reported by the next ``take_changes()``, so the first write moves them out."""
        data = dict(core)
        legacy = {kind: set(data.get(kind) or ()) for kind in ENTRY_KINDS}
        maps: dict[str, dict[str, Any]] = {kind: dict(data.get(kind) or {}) for kind in ENTRY_KINDS}
        for kind, key, value in entries:
            if kind not in maps:
                raise StateError(f"unknown engine state entry kind {kind!r}")
            if value is not None:
                maps[kind][key] = value
        data.update(maps)
        engine = cls.from_dict(config, data)
        for kind, keys in legacy.items():
            engine._dirty[kind].update(keys)
        return engine

    # ---------------------------------------------------------------- inputs

    def observe(self, obs: Observation, now: float) -> list[Action]:
        """Take one input and return the actions it causes (often none)."""
        actions: list[Action] = []
        touched: set[str] = set()
        if isinstance(obs, Sample):
            key = self._store_sample(obs)
            for rule in self._by_input.get((Source.METRIC, obs.metric), ()):
                self._run_isolated(rule, Source.METRIC, key, now, actions, touched)
        elif isinstance(obs, CheckResult):
            key = self._store_check(obs)
            for name in (obs.check, "*"):
                for rule in self._by_input.get((Source.CHECK, name), ()):
                    self._run_isolated(rule, Source.CHECK, key, now, actions, touched)
        elif isinstance(obs, Heartbeat):
            key = self._store_heartbeat(obs)
            for rule in self._by_input.get((Source.DEVICE, ""), ()):
                self._run_isolated(rule, Source.DEVICE, key, now, actions, touched)
        elif isinstance(obs, Insight):
            key = self._store_insight(obs)
            for name in obs.input_names():
                for rule in self._by_input.get((Source.INSIGHT, name), ()):
                    self._run_isolated(rule, Source.INSIGHT, key, now, actions, touched)
        else:
            raise TypeError(f"cannot observe {type(obs).__name__}")
        self._after(now, touched, actions, full=False)
        return actions

    def tick(self, now: float) -> list[Action]:
        """Apply the passage of time; see the module docstring."""
        actions: list[Action] = []
        touched: set[str] = set()
        due = sorted((at, key) for key, at in self.state.deadlines.items() if at <= now)
        for _, dkey in due:
            rule_id, _, input_key = dkey.partition("\x1f")
            rule = self.rules.get(rule_id)
            if rule is None:
                del self.state.deadlines[dkey]
                continue
            self._run_isolated(rule, rule.condition.source, input_key, now, actions, touched)
        for fp in list(self.state.alerts):
            self._update(fp, now, actions, touched, lambda s: refresh(s, now))
        self._retire_orphans(now, actions, touched)
        self._after(now, touched, actions, full=True)
        self._prune(now)
        return actions

    def next_wakeup(self, now: float | None = None) -> float | None:
        """Earliest time :meth:`tick` has known work; given ``now``, silences and
        maintenance windows starting or ending after it are included (they change which
        alerts notify).

        Not included: housekeeping that can wait (forgetting long-resolved alerts and
        silent inputs, resolving alerts of deleted rules): tick now and then anyway."""
        times: list[float] = list(self.state.deadlines.values())
        nxt = self.grouper.next_due()
        if nxt is not None:
            times.append(nxt)
        for alert in self.state.alerts.values():
            if alert.snoozed_until is not None and alert.phase is Phase.SNOOZED:
                times.append(alert.snoozed_until)
            if self.config.flap is not None:
                at = flap_recheck_at(alert, self.config.flap)
                if at is not None:
                    times.append(at)
        for key, esc in self.state.escalations.items():
            policy = self._escalation_for_group(key)
            if policy is not None:
                at = next_step_at(policy, esc)
                if at is not None:
                    times.append(at)
        if now is not None and (self.config.silences or self.config.windows):
            boundary = next_change(now, self.config.silences, self.config.windows)
            if boundary is not None:
                times.append(boundary)
        return min(times) if times else None

    # ---------------------------------------------------------------- operator actions

    def acknowledge(self, fp: str, by: str, now: float, note: str = "") -> list[Action]:
        return self._operate(fp, now, lambda s: acknowledge(s, by, now, note))

    def unacknowledge(self, fp: str, by: str, now: float) -> list[Action]:
        return self._operate(fp, now, lambda s: unacknowledge(s, by, now))

    def snooze(self, fp: str, until: float, by: str, now: float) -> list[Action]:
        return self._operate(fp, now, lambda s: snooze(s, until, by, now))

    def unsnooze(self, fp: str, by: str, now: float) -> list[Action]:
        return self._operate(fp, now, lambda s: unsnooze(s, by, now))

    def mute_until_resolved(self, fp: str, by: str, now: float) -> list[Action]:
        return self._operate(fp, now, lambda s: mute_until_resolved(s, by, now))

    def unmute(self, fp: str, by: str, now: float) -> list[Action]:
        return self._operate(fp, now, lambda s: unmute(s, by, now))

    def _operate(self, fp: str, now: float, op: Any) -> list[Action]:
        if fp not in self.state.alerts:
            raise InvalidOperation(f"no alert {fp}")
        actions: list[Action] = []
        touched: set[str] = set()
        self._update(fp, now, actions, touched, op)
        touched.add(fp)
        self._after(now, touched, actions, full=False)
        return actions

    # ---------------------------------------------------------------- storing inputs

    def _store_sample(self, s: Sample) -> str:
        key = series_key(s.metric, s.labels)
        buf = self.state.series.get(key)
        if buf is None:
            buf = self.state.series[key] = SeriesBuffer(s.metric, dict(s.labels))
        self._dirty["series"].add(key)
        points = buf.points
        if not points or s.ts >= points[-1][0]:
            points.append((s.ts, s.value))
        else:  # out of order (agent retry): keep the buffer sorted
            bisect.insort(points, (s.ts, s.value))
        keep_from = points[-1][0] - self._history.get(s.metric, 0.0)
        cut = bisect.bisect_left(points, (keep_from, float("-inf")))
        if cut >= len(points):
            cut = len(points) - 1
        if cut > 0:
            del points[:cut]
        return key

    def _store_check(self, r: CheckResult) -> str:
        key = series_key(f"check:{r.check}", r.labels)
        track = self.state.checks.get(key)
        if track is None:
            track = self.state.checks[key] = CheckTrack(r.check, dict(r.labels))
        if r.ts < track.ts:
            return key  # stale result: the retry count must follow check order
        self._dirty["checks"].add(key)
        track.failures = 0 if r.state is CheckState.OK else track.failures + 1
        track.state, track.ts, track.output = r.state, r.ts, r.output
        return key

    def _store_heartbeat(self, h: Heartbeat) -> str:
        ident = {"device": h.labels["device"]} if "device" in h.labels else h.labels
        key = series_key("device", ident)
        track = self.state.devices.get(key)
        if track is None:
            track = self.state.devices[key] = DeviceTrack(dict(h.labels))
        if h.ts >= track.last_seen:
            track.labels, track.last_seen, track.online = dict(h.labels), h.ts, h.online
            self._dirty["devices"].add(key)
        return key

    def _store_insight(self, found: Insight) -> str:
        key = series_key(f"{found.kind}:{found.subject}", found.labels)
        known = self.state.insights.get(key)
        if known is None or found.ts >= known.ts:
            self.state.insights[key] = found
            self._dirty["insights"].add(key)
        return key

    def _input(self, source: Source, key: str) -> tuple[Labels, ConditionInput] | None:
        if source is Source.METRIC:
            buf = self.state.series.get(key)
            return None if buf is None else (buf.labels, ConditionInput(points=buf.points))
        if source is Source.CHECK:
            track = self.state.checks.get(key)
            return None if track is None else (track.labels, ConditionInput(check=track))
        if source is Source.INSIGHT:
            found = self.state.insights.get(key)
            return None if found is None else (found.labels, ConditionInput(insight=found))
        dev = self.state.devices.get(key)
        return None if dev is None else (dev.labels, ConditionInput(device=dev))

    # ---------------------------------------------------------------- evaluation

    def _run_isolated(
        self,
        rule: Rule,
        source: Source,
        input_key: str,
        now: float,
        actions: list[Action],
        touched: set[str],
    ) -> None:
        """``_run``, but a rule that raises (a bug in a condition kind, bad input data) only
        loses its own verdict: the other rules, inputs and organizations are still judged,
        and its deadline is retried ``FAILED_RETRY_S`` later instead of failing every tick.
        ``_run`` stores the alert last, so a failure leaves no half-applied alert state."""
        try:
            self._run(rule, source, input_key, now, actions, touched)
        except Exception:
            log.exception("rule %s failed on input %r; retried later", rule.id, input_key)
            self.state.deadlines[_deadline_key(rule.id, input_key)] = now + FAILED_RETRY_S

    def _run(
        self,
        rule: Rule,
        source: Source,
        input_key: str,
        now: float,
        actions: list[Action],
        touched: set[str],
    ) -> None:
        dkey = _deadline_key(rule.id, input_key)
        found = self._input(source, input_key)
        if found is None:
            self.state.deadlines.pop(dkey, None)
            return
        input_labels, data = found
        cached = self._identity.get(dkey) if source is not Source.DEVICE else None
        if cached is None:
            labels = rule.alert_labels(input_labels)
            cached = (labels, rule.fingerprint(labels), rule.applies_to(labels))
            if source is not Source.DEVICE:  # a device's labels may change (site move)
                self._identity[dkey] = cached
        labels, fp, applies = cached
        if not applies:
            return
        old = self.state.alerts.get(fp)
        was_active = old is not None and old.status in (AlertStatus.PENDING, AlertStatus.FIRING)
        verdict = rule.condition.evaluate(data, now, was_active)
        new, transitions = evaluate(rule, old, Observed(labels, verdict), now)
        recheck = verdict.recheck_at if new is None else new.recheck_at
        if recheck is not None:
            self.state.deadlines[dkey] = recheck
        else:
            self.state.deadlines.pop(dkey, None)
        if new is None:
            return
        if old is None or new.status is not old.status:
            extra = {"link": self._link(fp, labels), "fingerprint": fp}
            new = replace(new, annotations=rule.render(labels, verdict.value, extra))
        if self.config.flap is not None:
            new, more = update_flapping(new, self.config.flap, now)
            transitions.extend(more)
        self._store_alert(old, new, transitions, actions, touched)

    def _link(self, fp: str, labels: Labels) -> str:
        if not self.config.link_template:
            return ""
        return render(self.config.link_template, {"fingerprint": fp, "labels": dict(labels)})

    def _update(
        self, fp: str, now: float, actions: list[Action], touched: set[str], op: Any
    ) -> None:
        old = self.state.alerts[fp]
        new, transitions = op(old)
        if self.config.flap is not None:
            new, more = update_flapping(new, self.config.flap, now)
            transitions = [*transitions, *more]
        self._store_alert(old, new, transitions, actions, touched)

    def _store_alert(
        self,
        old: AlertState | None,
        new: AlertState,
        transitions: list[Transition],
        actions: list[Action],
        touched: set[str],
    ) -> None:
        self.state.alerts[new.fingerprint] = new
        self._dirty["alerts"].add(new.fingerprint)
        if self._inhibitors is not None and self._changes_inhibition(old, new):
            self._inhibitors = None
        actions.extend(RecordTransition(t) for t in transitions)
        if transitions or old is None or old.status is not new.status:
            touched.add(new.fingerprint)

    def _retire_orphans(self, now: float, actions: list[Action], touched: set[str]) -> None:
        """Alerts of deleted rules resolve (recorded) instead of hanging around firing."""
        for alert in list(self.state.alerts.values()):
            if alert.rule_id in self.rules or alert.status is AlertStatus.RESOLVED:
                continue
            new, ts = sync(
                replace(alert, status=AlertStatus.RESOLVED, resolved_at=now, flapping=False),
                now,
                "rule removed",
            )
            self._store_alert(alert, new, ts, actions, touched)

    # ---------------------------------------------------------------- notification

    def _changes_inhibition(self, old: AlertState | None, new: AlertState) -> bool:
        if not self._is_inhibit_source(new) and (old is None or not self._is_inhibit_source(old)):
            return False
        return old is None or old.status is not new.status or old.labels != new.labels

    def _inhibition(self) -> Inhibitors:
        if self._inhibitors is None:
            sources = [
                a
                for a in self.state.alerts.values()
                if a.status is AlertStatus.FIRING and self._is_inhibit_source(a)
            ]
            self._inhibitors = Inhibitors(self.config.inhibit_rules, sources)
        return self._inhibitors

    def _desired(self, alert: AlertState, now: float) -> NoticeStatus:
        if alert.status is AlertStatus.RESOLVED and not alert.flapping:
            return NoticeStatus.RESOLVED
        if alert.phase_at(now) is not Phase.FIRING:
            return NoticeStatus.WITHDRAWN
        if is_silenced(alert.labels, now, self.config.silences, self.config.windows):
            return NoticeStatus.WITHDRAWN
        if self._inhibition().inhibitor(alert) is not None:
            return NoticeStatus.WITHDRAWN
        return NoticeStatus.FIRING

    def _targets_of(self, sources: list[AlertState]) -> set[str]:
        """The alerts that ``sources`` may inhibit: those sharing a rule's ``equal`` labels
        with one of them (every alert, for a rule without ``equal``)."""
        keys: list[set[tuple[str, ...]]] = []
        for rule in self.config.inhibit_rules:
            if not rule.equal:
                return set(self.state.alerts)
            keys.append(
                {equal_key(rule, s.labels) for s in sources if matches_all(rule.source, s.labels)}
            )
        return {
            fp
            for fp, alert in self.state.alerts.items()
            if any(
                equal_key(rule, alert.labels) in wanted
                for rule, wanted in zip(self.config.inhibit_rules, keys, strict=True)
                if wanted
            )
        }

    def _is_inhibit_source(self, alert: AlertState) -> bool:
        return any(matches_all(src, alert.labels) for src in self._inhibit_sources)

    def _after(self, now: float, touched: set[str], actions: list[Action], full: bool) -> None:
        alerts = self.state.alerts
        # Most samples change no alert: then there are no candidates and this costs nothing.
        candidates: Iterable[str] = list(alerts) if full else sorted(touched)
        if not full:
            changed = [alerts[fp] for fp in touched if fp in alerts]
            changed = [a for a in changed if self._is_inhibit_source(a)]
            if changed:  # an inhibiting alert changed: its targets must be re-judged
                candidates = sorted(touched | self._targets_of(changed))
        for fp in candidates:
            alert = alerts.get(fp)
            if alert is None:
                continue
            rule = self.rules.get(alert.rule_id)
            desired = self._desired(alert, now)
            previous = self.state.fed.get(fp)
            if desired is previous or (previous is None and desired is not NoticeStatus.FIRING):
                continue
            self.state.fed[fp] = desired
            if rule is None:
                continue
            notice = AlertNotice(
                fp,
                alert.rule_id,
                dict(alert.labels),
                desired,
                rule.severity.value,
                dict(alert.annotations),
                alert.firing_since,
                alert.resolved_at if desired is NoticeStatus.RESOLVED else None,
                alert.value,
            )
            for policy_id in rule.policies:
                self.grouper.add(policy_id, rule.group_by, notice, now)
        for note in self.grouper.due(now):
            policy = self.policies[note.policy_id]
            actions.append(NotifyAction(policy.id, policy.channels, note))
            if (
                note.kind is NotificationKind.FIRING
                and policy.escalation in self.escalations
                and note.group_key not in self.state.escalations
            ):
                self.state.escalations[note.group_key] = EscalationState(started_at=now)
        self._escalate(now, actions)

    def _escalation_for_group(self, key: str) -> EscalationPolicy | None:
        group = self.grouper.groups.get(key)
        if group is None:
            return None
        policy = self.policies.get(group.policy_id)
        if policy is None or policy.escalation is None:
            return None
        return self.escalations.get(policy.escalation)

    def _escalate(self, now: float, actions: list[Action]) -> None:
        for key in sorted(self.state.escalations):
            group = self.grouper.groups.get(key)
            policy = self._escalation_for_group(key)
            firing = (
                []
                if group is None
                else sorted(
                    fp for fp, m in group.members.items() if m.status is NoticeStatus.FIRING
                )
            )
            if policy is None or not firing:
                # Acknowledged, silenced or resolved: escalation stops (and restarts from
                # step 0 with the group's next firing notification).
                del self.state.escalations[key]
                continue
            due, cursor = _escalation_due(policy, self.state.escalations[key], now)
            self.state.escalations[key] = cursor
            for d in due:
                users: list[str] = []
                channels: list[str] = []
                for target in d.step.targets:
                    if target.kind is TargetKind.CHANNEL:
                        channels.append(target.ref)
                    elif target.kind is TargetKind.USER:
                        users.append(target.ref)
                    else:
                        rotation = self.rotations.get(target.ref)
                        who = None if rotation is None else who_is_on_call(rotation, now)
                        if who is not None:
                            users.append(who)
                actions.append(
                    EscalateAction(
                        key,
                        policy.id,
                        d.index,
                        d.cycle,
                        tuple(users),
                        tuple(channels),
                        tuple(firing),
                        now,
                    )
                )

    # ---------------------------------------------------------------- housekeeping

    def _prune(self, now: float) -> None:
        """Forget inactive alerts and long-resolved ones no group still has to report."""
        announced = {fp for g in self.grouper.groups.values() for fp in g.announced}
        for fp, alert in list(self.state.alerts.items()):
            if fp in announced or alert.flapping or alert.changes:
                continue
            gone = alert.status is AlertStatus.INACTIVE or (
                alert.status is AlertStatus.RESOLVED
                and alert.resolved_at is not None
                and now - alert.resolved_at >= self.config.resolved_retention_s
            )
            if gone:
                del self.state.alerts[fp]
                self._dirty["alerts"].add(fp)
                self.state.fed.pop(fp, None)
        # Inputs silent for a day are forgotten (a decommissioned device); an alert they
        # raised stays as it is, since no data never resolves anything.
        horizon = now - self.config.input_retention_s
        for key in [k for k, b in self.state.series.items() if b.points[-1][0] < horizon]:
            del self.state.series[key]
            self._dirty["series"].add(key)
        for key in [k for k, c in self.state.checks.items() if c.ts < horizon]:
            del self.state.checks[key]
            self._dirty["checks"].add(key)
        for key in [k for k, d in self.state.devices.items() if d.last_seen < horizon]:
            del self.state.devices[key]
            self._dirty["devices"].add(key)
        for key in [k for k, i in self.state.insights.items() if i.ts < horizon]:
            del self.state.insights[key]
            self._dirty["insights"].add(key)
