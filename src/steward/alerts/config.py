"""Build one organization's ``EngineConfig`` from the database, and cache it per process.

The compiled config is keyed by ``EngineState.config_version``, which every change of a
rule, silence, window, policy, rotation or check bumps (``signals.py``), so the hot path
(a sample or check result arriving) costs no config query at all while nothing changed.

Engine ids: rule ``r<pk>`` (its own notification policy ``r<pk>``), a check's ``notify``
list ``c<pk>``, a heartbeat's ``h<pk>``, escalation ``e<pk>``, rotation ``o<pk>``,
silence ``s<pk>``, window ``w<pk>``. Channel ids in policies are channel pks, or ``*``
for "every enabled channel of the organization" (resolved when sending).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from django.db.models import F
from django.utils import timezone

from steward.alerting import (
    CheckFailing,
    Condition,
    EngineConfig,
    EscalationPolicy,
    GroupTiming,
    MaintenanceWindow,
    Matcher,
    NotificationPolicy,
    Override,
    Rotation,
    Rule,
    Severity,
    Silence,
    Step,
    Target,
    WeeklySlot,
    scope,
)
from steward.alerts import models as m

log = logging.getLogger("steward.alerts")
ALL_CHANNELS = "*"
# A check's or heartbeat's own rule makes one-alert groups: no need to batch its changes,
# so its resolution is announced at once (group_interval 0); flapping is held by the
# engine's flap detection, not by the group interval.
SINGLE = GroupTiming(group_wait_s=0.0, group_interval_s=0.0)
CHECK_TITLE = "Check {{ labels.check }} is {{ value }}"
HEARTBEAT_TITLE = "Heartbeat {{ labels.check }} is down"

_lock = threading.Lock()
_compiled: dict[int, tuple[int, EngineConfig]] = {}


def bump(organization_id: int) -> None:
    """Mark the organization's compiled config stale (every process reloads it; this one
    also forgets at once which inputs the rules read, the others within a second)."""
    from steward.alerts import hooks

    m.EngineState.objects.filter(organization_id=organization_id).update(
        config_version=F("config_version") + 1
    )
    hooks.forget(organization_id)


def get(organization_id: int, config_version: int) -> EngineConfig:
    with _lock:
        hit = _compiled.get(organization_id)
    if hit is not None and hit[0] == config_version:
        return hit[1]
    config = build(organization_id)
    with _lock:
        _compiled[organization_id] = (config_version, config)
    return config


def forget() -> None:
    with _lock:
        _compiled.clear()


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def scope_matchers(data: dict[str, Any]) -> tuple[Matcher, ...]:
    """``{"site": "HQ", "device": "web-01", "tag": "prod", "group": "g", "matchers": [..]}``"""
    out = list(
        scope(
            site=data.get("site") or None,
            device=data.get("device") or None,
            tag=data.get("tag") or None,
            group=data.get("group") or None,
        )
    )
    out.extend(Matcher.parse(text) for text in data.get("matchers") or ())
    return tuple(out)


def _policy(pid: str, route: str, channel_ids: list[int], timing: GroupTiming, esc: str | None):
    channels = (ALL_CHANNELS,) if route == m.Route.ALL else tuple(str(c) for c in channel_ids)
    return NotificationPolicy(pid, channels, timing, esc)


def _rule(rule: m.AlertRule, escalations: dict[int, Any]) -> tuple[Any, ...]:
    """The engine rule of ``rule`` and its notification policy (if it notifies)."""
    rid = f"r{rule.pk}"
    has_policy = rule.route != m.Route.NONE
    built = Rule(
        id=rid,
        name=rule.name,
        condition=Condition.from_dict(rule.condition),
        severity=Severity(rule.severity),
        scope=scope_matchers(rule.scope or {}),
        labels=dict(rule.labels or {}),
        annotations=dict(rule.annotations or {}),
        group_by=tuple(rule.group_by or ("alertname", "site")),
        policies=(rid,) if has_policy else (),
        for_s=rule.for_s,
        keep_firing_for_s=rule.keep_firing_for_s,
    )
    if not has_policy:
        return (built,)
    timing = GroupTiming(
        rule.group_wait_s,
        rule.group_interval_s,
        rule.repeat_interval_s,
        repeat_max_s=max(86400.0, rule.repeat_interval_s),
    )
    esc = f"e{rule.escalation_id}" if rule.escalation_id in escalations else None
    ids = [c.pk for c in rule.channels.all()]
    return (built, _policy(rid, rule.route, ids, timing, esc))


def _usable(what: str, rows: Any, make: Any) -> list[Any]:
    out = []
    for row in rows:
        try:
            out.append(make(row))
        except Exception:
            log.exception("%s %s of org %s cannot be used", what, row.pk, row.organization_id)
    return out


def build(organization_id: int) -> EngineConfig:
    from steward.tenancy.models import Organization

    org = Organization.objects.get(pk=organization_id)
    rules: list[Rule] = []
    policies: list[NotificationPolicy] = []
    escalations = {
        e.pk: e for e in m.EscalationPolicy.objects.filter(organization_id=organization_id)
    }
    rotations = list(m.Rotation.objects.filter(organization_id=organization_id))
    rotation_ids = {r.name: f"o{r.pk}" for r in rotations}
    from steward.notify.models import Channel

    channel_ids = {
        c.name: str(c.pk) for c in Channel.objects.filter(organization_id=organization_id)
    }
    qs = m.AlertRule.objects.filter(organization_id=organization_id, enabled=True)
    for rule in qs.prefetch_related("channels"):
        try:
            built = _rule(rule, escalations)
        except Exception:  # a row the engine rejects loses its rule, not the others
            log.exception("alert rule %s of org %s cannot be used", rule.pk, organization_id)
            continue
        rules.append(built[0])
        policies.extend(built[1:])
    checks = m.CheckDefinition.objects.filter(
        organization_id=organization_id, enabled=True, notify__isnull=False
    ).distinct()
    for check in checks.prefetch_related("notify"):
        cid = f"c{check.pk}"
        ids = [c.pk for c in check.notify.all()]
        policies.append(_policy(cid, m.Route.CHANNELS, ids, SINGLE, None))
        rules.append(
            Rule(
                id=cid,
                name=check.name,
                condition=CheckFailing(check=check.name, retries=1),
                severity=Severity.CRITICAL,
                annotations={"title": CHECK_TITLE},
                group_by=("alertname",),
                policies=(cid,),
            )
        )
    beats = m.HeartbeatCheck.objects.filter(
        organization_id=organization_id, enabled=True, notify__isnull=False
    ).distinct()
    for beat in beats.prefetch_related("notify"):
        hid = f"h{beat.pk}"
        ids = [c.pk for c in beat.notify.all()]
        policies.append(_policy(hid, m.Route.CHANNELS, ids, SINGLE, None))
        rules.append(
            Rule(
                id=hid,
                name=beat.name,
                condition=CheckFailing(check=f"heartbeat:{beat.name}", retries=1),
                severity=Severity.CRITICAL,
                annotations={"title": HEARTBEAT_TITLE, "description": "{{ value }}"},
                group_by=("alertname",),
                policies=(hid,),
            )
        )
    now = timezone.now()
    # A silence or window that cannot be built is left out (logged): its alerts page
    # rather than the whole organization going unevaluated.
    silences = _usable(
        "silence",
        m.Silence.objects.filter(organization_id=organization_id, ends_at__gt=now),
        lambda s: Silence(
            id=f"s{s.pk}",
            matchers=tuple(Matcher.parse(t) for t in s.matchers),
            starts_at=s.starts_at.timestamp(),
            ends_at=s.ends_at.timestamp(),
            author=s.author or "unknown",
            reason=s.reason,
        ),
    )
    windows = _usable(
        "maintenance window",
        m.MaintenanceWindow.objects.filter(organization_id=organization_id, enabled=True),
        lambda w: MaintenanceWindow(
            id=f"w{w.pk}",
            matchers=tuple(Matcher.parse(t) for t in w.matchers),
            timezone=w.timezone,
            slots=tuple(WeeklySlot(tuple(s["days"]), s["start"], s["end"]) for s in w.slots),
            name=w.name,
            valid_from=_ts(w.valid_from),
            valid_until=_ts(w.valid_until),
        ),
    )
    return EngineConfig(
        organization=org.slug,
        rules=tuple(rules),
        policies=tuple(policies),
        escalations=tuple(
            _usable(
                "escalation policy",
                escalations.values(),
                lambda e: _escalation(e, channel_ids, rotation_ids),
            )
        ),
        rotations=tuple(_usable("rotation", rotations, _rotation)),
        silences=tuple(silences),
        windows=tuple(windows),
    )


def _escalation(
    policy: m.EscalationPolicy, channel_ids: dict[str, str], rotation_ids: dict[str, str]
) -> EscalationPolicy:
    steps = []
    for step in policy.steps:
        targets = []
        for t in step["targets"]:
            ref = t["ref"]
            if t["kind"] == "channel":
                ref = channel_ids.get(ref, f"missing:{ref}")
            elif t["kind"] == "rotation":
                ref = rotation_ids.get(ref, f"missing:{ref}")
            targets.append(Target(t["kind"], ref))
        steps.append(Step(float(step.get("delay_s", 0)), tuple(targets)))
    return EscalationPolicy(f"e{policy.pk}", tuple(steps), policy.repeat, policy.repeat_delay_s)


def _rotation(r: m.Rotation) -> Rotation:
    overrides = tuple(
        Override(
            o["user"],
            datetime.fromisoformat(o["starts_at"]).timestamp(),
            datetime.fromisoformat(o["ends_at"]).timestamp(),
        )
        for o in r.overrides or ()
    )
    return Rotation(
        f"o{r.pk}",
        tuple(r.participants),
        r.timezone,
        r.start_date.isoformat(),
        r.handoff,
        r.length_days,
        overrides,
    )
