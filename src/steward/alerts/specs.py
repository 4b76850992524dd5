"""One validation for every front door: the API bodies and the YAML items share a shape.

Each kind (``checks``, ``rules``, ``channels``, ``silences``, ``maintenance_windows``,
``escalation_policies``, ``rotations``, ``heartbeats``) has a :class:`Kind` with

* ``clean(item, ctx)``: the item (YAML/JSON shape, see docs/alerts.md) -> ``Clean`` (model
  field values + many-to-many names), raising :class:`Invalid` whose ``path`` names the
  field (``interval``, ``params.port``, ``steps[0].after``);
* ``export(obj)``: the inverse, so ``steward export`` round-trips and a PATCH is
  ``clean({**export(obj), **body})``;
* ``upsert(ctx, clean)``: create or update by name; returns whether anything changed, so a
  second ``apply`` of the same file reports no changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import models as dj
from django.utils import timezone

from steward.alerting import (
    AlertingError,
    Condition,
    EscalationPolicy,
    MaintenanceWindow,
    Matcher,
    Rotation,
    Rule,
    Step,
    Target,
    WeeklySlot,
)
from steward.alerts import models as m
from steward.alerts.config import scope_matchers

NAME_MAX = 200
DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
DAY_NAMES = {v: k for k, v in DAYS.items()}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Invalid(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def at(prefix: str, error: Invalid) -> Invalid:
    path = f"{prefix}.{error.path}" if error.path and not error.path.startswith("[") else (
        prefix + error.path)  # fmt: skip
    return Invalid(path, error.message)


# --------------------------------------------------------------------- scalars


def duration(value: Any, path: str, minimum: float = 0.0) -> float:
    """``30s``, ``5m``, ``1h30m``, ``500ms``, ``2d`` or a number of seconds."""
    if isinstance(value, bool):
        raise Invalid(path, "expected a duration like 30s or 5m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace(" ", "")
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise Invalid(path, "expected a duration like 30s or 5m")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise Invalid(path, "expected a duration like 30s or 5m")
    if seconds < minimum:
        raise Invalid(path, f"must be at least {fmt_duration(minimum)}")
    return seconds


def fmt_duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 1 and seconds > 0:
        return f"{round(seconds * 1000)}ms"
    if float(seconds).is_integer():
        s = int(seconds)
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if s >= size and s % size == 0:
                return f"{s // size}{unit}"
        return f"{s}s"
    return f"{seconds:g}s"


def text(value: Any, path: str, required: bool = True, max_len: int = 500) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise Invalid(path, "is required" if value in (None, "") else "must be a string")
    if len(value) > max_len:
        raise Invalid(path, f"must be at most {max_len} characters")
    return value


def boolean(value: Any, path: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Invalid(path, "must be true or false")
    return value


def integer(value: Any, path: str, default: int, lo: int, hi: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(path, "must be an integer")
    if not lo <= value <= hi:
        raise Invalid(path, f"must be between {lo} and {hi}")
    return value


def number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(path, "must be a number")
    return float(value)


def str_list(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(path, "must be a list of strings")
    return list(value)


def mapping(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Invalid(path, "must be a mapping")
    return dict(value)


def when(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(path, "expected a date-time like 2026-01-31T22:00:00Z") from None
    else:
        raise Invalid(path, "expected a date-time like 2026-01-31T22:00:00Z")
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def matchers(value: Any, path: str) -> list[str]:
    """A list of ``name="value"`` strings, or a mapping of label -> exact value."""
    if isinstance(value, Mapping):
        items = [f'{k}="{v}"' for k, v in value.items()]
    else:
        items = str_list(value, path)
    for i, item in enumerate(items):
        try:
            Matcher.parse(item)
        except AlertingError as exc:
            raise Invalid(f"{path}[{i}]", str(exc)) from None
    return items


def keys(item: Mapping[str, Any], allowed: set[str], path: str = "") -> None:
    extra = sorted(set(item) - allowed)
    if extra:
        where = f"{path}.{extra[0]}" if path else extra[0]
        raise Invalid(where, f"unknown field (expected one of: {', '.join(sorted(allowed))})")


# --------------------------------------------------------------------- context


@dataclass
class Context:
    """Name lookups in one organization; ``pending`` holds names a file is about to
    create (a dry run validates references to them)."""

    organization_id: int
    pending: dict[str, set[str]] = field(default_factory=dict)

    def _pk(self, model: type[dj.Model], name: str, kind: str, path: str, key: str = "name"):
        obj = model._default_manager.filter(  # type: ignore[attr-defined]
            organization_id=self.organization_id, **{key: name}
        ).first()
        if obj is not None:
            return obj.pk
        if name in self.pending.get(kind, set()):
            return None  # created by this same apply (resolved when it runs)
        raise Invalid(path, f"no {kind.rstrip('s').replace('_', ' ')} named {name!r}")

    def channels(self, names: list[str], path: str) -> list[str]:
        from steward.notify.models import Channel

        for i, name in enumerate(names):
            self._pk(Channel, name, "channels", f"{path}[{i}]")
        return names

    def device(self, hostname: str, path: str) -> int:
        from steward.inventory.models import Device

        obj = (
            Device.objects.active()
            .filter(organization_id=self.organization_id, hostname=hostname)
            .first()
        )
        if obj is None:
            raise Invalid(path, f"no device named {hostname!r} in this organization")
        return obj.pk

    def escalation(self, name: str, path: str) -> str:
        self._pk(m.EscalationPolicy, name, "escalation_policies", path)
        return name

    def rotation(self, name: str, path: str) -> str:
        self._pk(m.Rotation, name, "rotations", path)
        return name


def channel_pks(organization_id: int, names: list[str]) -> list[int]:
    from steward.notify.models import Channel

    found = dict(
        Channel.objects.filter(organization_id=organization_id, name__in=names).values_list(
            "name", "pk"
        )
    )
    return [found[n] for n in names if n in found]


@dataclass
class Clean:
    name: str
    fields: dict[str, Any]
    m2m: dict[str, list[str]] = field(default_factory=dict)  # relation -> channel names
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    key: str  # the YAML list name
    model: type[dj.Model]
    clean: Callable[[Mapping[str, Any], Context], Clean]
    export: Callable[[Any], dict[str, Any]]

    def upsert(self, ctx: Context, clean: Clean) -> tuple[Any, str]:
        """Create or update by name; returns (object, "created" | "updated" | "unchanged")."""
        return _upsert(self, ctx, clean)


def _upsert(kind: Kind, ctx: Context, clean: Clean) -> tuple[Any, str]:
    if kind.key == "channels":
        from steward.alerts.specs_channels import upsert_channel

        return upsert_channel(ctx, clean)
    manager = kind.model._default_manager  # type: ignore[attr-defined]
    obj = manager.filter(organization_id=ctx.organization_id, name=clean.name).first()
    fields = _resolve(ctx, clean.fields)
    if obj is None:
        obj = manager.create(organization_id=ctx.organization_id, name=clean.name, **fields)
        outcome = "created"
    else:
        changed = {k: v for k, v in fields.items() if getattr(obj, k) != v}
        if changed:
            for k, v in changed.items():
                setattr(obj, k, v)
            obj.save()
        outcome = "updated" if changed else "unchanged"
    for relation, names in clean.m2m.items():
        wanted = set(channel_pks(ctx.organization_id, names))
        current = set(getattr(obj, relation).values_list("pk", flat=True))
        if wanted != current:
            getattr(obj, relation).set(sorted(wanted))
            outcome = "created" if outcome == "created" else "updated"
    return obj, outcome


def _resolve(ctx: Context, fields: dict[str, Any]) -> dict[str, Any]:
    """Names kept symbolic during cleaning (created by the same file) -> objects."""
    out = dict(fields)
    esc = out.pop("escalation_name", None)
    if "escalation_name" in fields:
        out["escalation_id"] = (
            m.EscalationPolicy.objects.filter(organization_id=ctx.organization_id, name=esc)
            .values_list("pk", flat=True)
            .first()
            if esc
            else None
        )
    return out


# --------------------------------------------------------------------- checks

CHECK_FIELDS = {"name", "device", "type", "target", "params", "interval", "timeout", "retries",
                "enabled", "notify"}  # fmt: skip


def clean_check(item: Mapping[str, Any], ctx: Context) -> Clean:
    from steward.checks import CheckSpec, Side, SpecError, validate

    keys(item, CHECK_FIELDS)
    name = text(item.get("name"), "name", max_len=NAME_MAX)
    device_id = None
    if item.get("device"):
        device_id = ctx.device(text(item["device"], "device", max_len=255), "device")
    ctype = text(item.get("type"), "type", max_len=20)
    interval = duration(item.get("interval", 60), "interval")
    timeout = duration(item.get("timeout", 10), "timeout")
    try:
        spec = CheckSpec(
            type=ctype,
            target=text(item.get("target", ""), "target", required=False),
            params=mapping(item.get("params"), "params"),
            interval=interval,
            timeout=timeout,
            retries=integer(item.get("retries"), "retries", 0, 0, 10),
        )
        params = validate(spec, Side.AGENT if device_id else Side.SERVER)
    except SpecError as exc:
        raise Invalid(exc.field, exc.message) from None
    explicit = mapping(item.get("params"), "params")
    return Clean(
        name,
        {
            "device_id": device_id,
            "type": ctype,
            "target": spec.target,
            # Only what the user wrote is stored (defaults stay defaults across upgrades);
            # ``validate`` above proved the whole set.
            "params": {k: params[k] for k in explicit} if explicit else {},
            "interval": interval,
            "timeout": timeout,
            "retries": spec.retries,
            "enabled": boolean(item.get("enabled"), "enabled", True),
        },
        {"notify": ctx.channels(str_list(item.get("notify"), "notify"), "notify")},
    )


def export_check(obj: m.CheckDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {"name": obj.name}
    if obj.device_id:
        out["device"] = obj.device.hostname
    out.update(type=obj.type, target=obj.target)
    if obj.params:
        out["params"] = dict(obj.params)
    out.update(interval=fmt_duration(obj.interval), timeout=fmt_duration(obj.timeout),
               retries=obj.retries, enabled=obj.enabled)  # fmt: skip
    notify = sorted(obj.notify.values_list("name", flat=True))
    if notify:
        out["notify"] = notify
    return out


# --------------------------------------------------------------------- rules

RULE_FIELDS = {"name", "enabled", "kind", "severity", "scope", "labels", "title", "description",
               "annotations", "group_by", "for", "keep_firing_for", "notify", "group_wait",
               "group_interval", "repeat_interval", "escalation",
               # condition fields, by kind
               "metric", "op", "threshold", "reducer", "window", "percentile", "recover",
               "after", "check", "min_state", "retries",
               "signal", "matchers", "level", "resource", "within", "bound", "disk",
               "min_level"}  # fmt: skip
CONDITION_FIELDS = {
    "threshold": {"metric", "op", "threshold", "reducer", "window", "percentile", "recover"},
    "absence": {"metric", "after"},
    "check": {"check", "min_state", "retries"},
    "device_offline": {"after"},
    "anomaly": {"signal", "metric", "matchers", "level"},
    "forecast": {"resource", "within", "bound"},
    "disk_health": {"disk", "min_level"},
}
STATES = {"warning": 1, "critical": 2, "unknown": 3}


def _condition(item: Mapping[str, Any]) -> dict[str, Any]:
    kind = item.get("kind")
    if kind not in CONDITION_FIELDS:
        raise Invalid("kind", f"must be one of: {', '.join(CONDITION_FIELDS)}")
    for key in set(CONDITION_FIELDS) - {kind}:
        for f in CONDITION_FIELDS[key] - CONDITION_FIELDS[kind]:
            if f in item and f not in ("retries",):
                raise Invalid(f, f"does not apply to a {kind} rule")
    if kind == "threshold":
        cond: dict[str, Any] = {
            "kind": kind,
            "metric": text(item.get("metric"), "metric", max_len=200),
            "op": text(item.get("op"), "op", max_len=2),
            "threshold": number(item.get("threshold"), "threshold"),
            "reducer": text(item.get("reducer", "last"), "reducer", max_len=20),
            "window_s": duration(item.get("window", 0), "window"),
        }
        if "percentile" in item:
            cond["percentile"] = number(item["percentile"], "percentile")
        if item.get("recover") is not None:
            cond["recover"] = number(item["recover"], "recover")
    elif kind == "absence":
        cond = {"kind": kind, "metric": text(item.get("metric"), "metric", max_len=200),
                "seconds": duration(item.get("after"), "after", 1)}  # fmt: skip
    elif kind == "check":
        state = item.get("min_state", "warning")
        if state not in STATES:
            raise Invalid("min_state", "must be one of: warning, critical, unknown")
        cond = {"kind": kind, "check": text(item.get("check", "*"), "check", max_len=200),
                "min_state": STATES[state],
                "retries": integer(item.get("retries"), "retries", 1, 1, 100)}  # fmt: skip
    elif kind == "anomaly":
        cond = {"kind": kind, "level": number(item.get("level", 0.5), "level")}
        if item.get("signal") is not None:
            cond["signal"] = text(item["signal"], "signal", max_len=200)
        if item.get("metric") is not None:
            cond["metric"] = text(item["metric"], "metric", max_len=200)
        if item.get("matchers") is not None:
            cond["matchers"] = matchers(item["matchers"], "matchers")
        if ("signal" in cond) == ("metric" in cond):
            raise Invalid("signal", "an anomaly rule needs either a signal (cpu, memory) or "
                          "a metric")  # fmt: skip
    elif kind == "forecast":
        cond = {"kind": kind, "resource": text(item.get("resource"), "resource", max_len=300),
                "within_s": duration(item.get("within"), "within", 1),
                "bound": text(item.get("bound", "estimate"), "bound", max_len=20)}  # fmt: skip
        if cond["bound"] not in ("estimate", "early", "late"):
            raise Invalid("bound", "must be one of: estimate, early, late")
    elif kind == "disk_health":
        level = text(item.get("min_level", "warning"), "min_level", max_len=20)
        cond = {"kind": kind, "disk": text(item.get("disk", "*"), "disk", max_len=200),
                "min_level": level}  # fmt: skip
        if cond["min_level"] not in ("watch", "warning", "critical"):
            raise Invalid("min_level", "must be one of: watch, warning, critical")
    else:
        cond = {"kind": kind, "after_s": duration(item.get("after", 120), "after", 1)}
    try:
        Condition.from_dict(cond)
    except (AlertingError, ValueError) as exc:
        raise Invalid(_guess_field(str(exc)), _friendly(str(exc))) from None
    return cond


def _friendly(message: str) -> str:
    if "is not a valid Op" in message:
        return "must be one of: >, >=, <, <=, ==, !="
    if "is not a valid Reducer" in message:
        return "must be one of: last, avg, min, max, percentile, count"
    return message


def _guess_field(message: str) -> str:
    if "valid Op" in message:
        return "op"
    if "valid Reducer" in message:
        return "reducer"
    for name in ("op", "reducer", "window", "percentile", "retries", "after", "seconds", "level",
                 "within", "resource"):  # fmt: skip
        if name in message:
            return {"seconds": "after", "window_s": "window"}.get(name, name)
    return "kind"


def clean_rule(item: Mapping[str, Any], ctx: Context) -> Clean:
    keys(item, RULE_FIELDS)
    name = text(item.get("name"), "name", max_len=NAME_MAX)
    condition = _condition(item)
    scope = mapping(item.get("scope"), "scope")
    keys(scope, {"site", "device", "tag", "group", "matchers"}, "scope")
    if "matchers" in scope:
        scope["matchers"] = matchers(scope["matchers"], "scope.matchers")
    annotations = {k: str(v) for k, v in mapping(item.get("annotations"), "annotations").items()}
    for key in ("title", "description"):
        if item.get(key) is not None:
            annotations[key] = text(item[key], key, max_len=2000)
    severity = item.get("severity", "warning")
    if severity not in ("info", "warning", "critical"):
        raise Invalid("severity", "must be one of: info, warning, critical")
    notify = item.get("notify", "all")
    names: list[str] = []
    if notify in ("all", "none"):
        route = notify
    else:
        route, names = "channels", ctx.channels(str_list(notify, "notify"), "notify")
    fields = {
        "enabled": boolean(item.get("enabled"), "enabled", True),
        "condition": condition,
        "scope": {k: v for k, v in scope.items() if v},
        "severity": severity,
        "labels": {str(k): str(v) for k, v in mapping(item.get("labels"), "labels").items()},
        "annotations": annotations,
        "group_by": str_list(item.get("group_by", ["alertname", "site"]), "group_by"),
        "for_s": duration(item.get("for", 0), "for"),
        "keep_firing_for_s": duration(item.get("keep_firing_for", 0), "keep_firing_for"),
        "route": route,
        "group_wait_s": duration(item.get("group_wait", 0), "group_wait"),
        "group_interval_s": duration(item.get("group_interval", 60), "group_interval"),
        "repeat_interval_s": duration(item.get("repeat_interval", 3600), "repeat_interval", 1),
        "escalation_name": (
            ctx.escalation(text(item["escalation"], "escalation"), "escalation")
            if item.get("escalation") else None
        ),
    }  # fmt: skip
    try:
        Rule(
            id="x",
            name=name,
            condition=Condition.from_dict(condition),
            severity=severity,
            scope=scope_matchers(fields["scope"]),
            labels=fields["labels"],
            annotations=annotations,
            for_s=fields["for_s"],
        )
    except AlertingError as exc:
        where = "title" if "template" in str(exc).lower() else "scope"
        raise Invalid(where, str(exc)) from None
    return Clean(name, fields, {"channels": names})


def export_rule(obj: m.AlertRule) -> dict[str, Any]:
    cond = dict(obj.condition)
    kind = cond.pop("kind")
    out: dict[str, Any] = {"name": obj.name, "kind": kind}
    if kind == "threshold":
        out.update(metric=cond["metric"], op=cond["op"], threshold=cond["threshold"])
        if cond.get("reducer", "last") != "last":
            out["reducer"] = cond["reducer"]
        if cond.get("window_s"):
            out["window"] = fmt_duration(cond["window_s"])
        if "percentile" in cond:
            out["percentile"] = cond["percentile"]
        if cond.get("recover") is not None:
            out["recover"] = cond["recover"]
    elif kind == "absence":
        out.update(metric=cond["metric"], after=fmt_duration(cond["seconds"]))
    elif kind == "check":
        out["check"] = cond.get("check", "*")
        state = {v: k for k, v in STATES.items()}.get(cond.get("min_state", 1), "warning")
        if state != "warning":
            out["min_state"] = state
        if cond.get("retries", 1) != 1:
            out["retries"] = cond["retries"]
    elif kind == "anomaly":
        for key in ("signal", "metric"):
            if cond.get(key):
                out[key] = cond[key]
        if cond.get("matchers"):
            out["matchers"] = list(cond["matchers"])
        out["level"] = cond.get("level", 0.5)
    elif kind == "forecast":
        out.update(resource=cond["resource"], within=fmt_duration(cond["within_s"]))
        if cond.get("bound", "estimate") != "estimate":
            out["bound"] = cond["bound"]
    elif kind == "disk_health":
        out.update(disk=cond.get("disk", "*"), min_level=cond.get("min_level", "warning"))
    else:
        out["after"] = fmt_duration(cond.get("after_s", 120))
    out["severity"] = obj.severity
    out["enabled"] = obj.enabled
    if obj.scope:
        out["scope"] = dict(obj.scope)
    if obj.labels:
        out["labels"] = dict(obj.labels)
    ann = dict(obj.annotations)
    for key in ("title", "description"):
        if key in ann:
            out[key] = ann.pop(key)
    if ann:
        out["annotations"] = ann
    if list(obj.group_by) != ["alertname", "site"]:
        out["group_by"] = list(obj.group_by)
    for key, attr, default in (("for", "for_s", 0), ("keep_firing_for", "keep_firing_for_s", 0),
                               ("group_wait", "group_wait_s", 0),
                               ("group_interval", "group_interval_s", 60),
                               ("repeat_interval", "repeat_interval_s", 3600)):  # fmt: skip
        if getattr(obj, attr) != default:
            out[key] = fmt_duration(getattr(obj, attr))
    if obj.route == "channels":
        out["notify"] = sorted(obj.channels.values_list("name", flat=True))
    elif obj.route == "none":
        out["notify"] = "none"
    if obj.escalation_id:
        out["escalation"] = obj.escalation.name
    return out


# --------------------------------------------------------------------- silences, windows


def clean_silence(item: Mapping[str, Any], ctx: Context) -> Clean:
    keys(item, {"name", "matchers", "starts", "ends", "duration", "reason", "author"})
    name = text(item.get("name"), "name", max_len=NAME_MAX)
    found = matchers(item.get("matchers"), "matchers")
    if not found:
        raise Invalid("matchers", "a silence needs at least one matcher")
    starts = when(item["starts"], "starts") if item.get("starts") else timezone.now()
    if item.get("ends"):
        ends = when(item["ends"], "ends")
    elif item.get("duration"):
        ends = starts + timedelta(seconds=duration(item["duration"], "duration", 1))
    else:
        raise Invalid("ends", "give ends (a date-time) or duration (like 2h)")
    if ends <= starts:
        raise Invalid("ends", "must be after starts")
    return Clean(name, {"matchers": found, "starts_at": starts, "ends_at": ends,
                        "reason": text(item.get("reason"), "reason", False, 2000),
                        "author": text(item.get("author"), "author", False, 200)})  # fmt: skip


def export_silence(obj: m.Silence) -> dict[str, Any]:
    out = {"name": obj.name, "matchers": list(obj.matchers), "starts": iso(obj.starts_at),
           "ends": iso(obj.ends_at)}  # fmt: skip
    if obj.reason:
        out["reason"] = obj.reason
    if obj.author:
        out["author"] = obj.author
    return out


def _days(value: Any, path: str) -> list[int]:
    if not isinstance(value, list) or not value:
        raise Invalid(path, "must be a non-empty list of days (mon..sun or 0..6)")
    out = []
    for i, d in enumerate(value):
        if isinstance(d, str) and d.lower()[:3] in DAYS:
            out.append(DAYS[d.lower()[:3]])
        elif isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6:
            out.append(d)
        else:
            raise Invalid(f"{path}[{i}]", "expected mon..sun or 0..6 (0 = Monday)")
    return out


def clean_window(item: Mapping[str, Any], ctx: Context) -> Clean:
    keys(item, {"name", "matchers", "timezone", "slots", "valid_from", "valid_until", "enabled"})
    name = text(item.get("name"), "name", max_len=NAME_MAX)
    found = matchers(item.get("matchers"), "matchers")
    slots = item.get("slots")
    if not isinstance(slots, list) or not slots:
        raise Invalid("slots", "must be a non-empty list of {days, start, end}")
    clean_slots = []
    for i, slot in enumerate(slots):
        path = f"slots[{i}]"
        slot = mapping(slot, path)
        keys(slot, {"days", "start", "end"}, path)
        clean_slots.append({"days": _days(slot.get("days"), f"{path}.days"),
                            "start": text(slot.get("start"), f"{path}.start", max_len=5),
                            "end": text(slot.get("end"), f"{path}.end", max_len=5)})  # fmt: skip
    fields = {
        "matchers": found,
        "timezone": text(item.get("timezone", "UTC"), "timezone", max_len=64),
        "slots": clean_slots,
        "valid_from": when(item["valid_from"], "valid_from") if item.get("valid_from") else None,
        "valid_until": (when(item["valid_until"], "valid_until") if item.get("valid_until")
                        else None),
        "enabled": boolean(item.get("enabled"), "enabled", True),
    }  # fmt: skip
    try:
        MaintenanceWindow(
            "x", tuple(Matcher.parse(t) for t in found), fields["timezone"],
            tuple(WeeklySlot(tuple(s["days"]), s["start"], s["end"]) for s in clean_slots),
        )  # fmt: skip
    except AlertingError as exc:
        raise Invalid("timezone" if "zone" in str(exc) else "slots", str(exc)) from None
    return Clean(name, fields)


def export_window(obj: m.MaintenanceWindow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": obj.name, "matchers": list(obj.matchers), "timezone": obj.timezone,
        "slots": [{"days": [DAY_NAMES[d] for d in s["days"]], "start": s["start"],
                   "end": s["end"]} for s in obj.slots],
        "enabled": obj.enabled,
    }  # fmt: skip
    if obj.valid_from:
        out["valid_from"] = iso(obj.valid_from)
    if obj.valid_until:
        out["valid_until"] = iso(obj.valid_until)
    return out


# --------------------------------------------------------------------- escalation, on-call


def clean_escalation(item: Mapping[str, Any], ctx: Context) -> Clean:
    keys(item, {"name", "steps", "repeat", "repeat_delay"})
    name = text(item.get("name"), "name", max_len=NAME_MAX)
    steps = item.get("steps")
    if not isinstance(steps, list) or not steps:
        raise Invalid("steps", "must be a non-empty list of {after, notify}")
    out = []
    for i, step in enumerate(steps):
        path = f"steps[{i}]"
        step = mapping(step, path)
        keys(step, {"after", "notify"}, path)
        targets = []
        notify = step.get("notify")
        if not isinstance(notify, list) or not notify:
            raise Invalid(f"{path}.notify", "must list {channel|user|rotation: name}")
        for j, target in enumerate(notify):
            tpath = f"{path}.notify[{j}]"
            target = mapping(target, tpath)
            if len(target) != 1 or next(iter(target)) not in ("channel", "user", "rotation"):
                raise Invalid(tpath, "expected one of channel: NAME, user: EMAIL, rotation: NAME")
            kind, ref = next(iter(target.items()))
            ref = text(ref, f"{tpath}.{kind}", max_len=200)
            if kind == "channel":
                ctx.channels([ref], f"{tpath}.channel")
            elif kind == "rotation":
                ctx.rotation(ref, f"{tpath}.rotation")
            targets.append({"kind": kind, "ref": ref})
        out.append({"delay_s": duration(step.get("after", 0), f"{path}.after"),
                    "targets": targets})  # fmt: skip
    fields = {"steps": out, "repeat": integer(item.get("repeat"), "repeat", 0, 0, 100),
              "repeat_delay_s": duration(item.get("repeat_delay", 0), "repeat_delay")}  # fmt: skip
    EscalationPolicy(
        "x", tuple(Step(s["delay_s"], tuple(Target(t["kind"], t["ref"]) for t in s["targets"]))
                   for s in out), fields["repeat"], fields["repeat_delay_s"],
    )  # fmt: skip
    return Clean(name, fields)


def export_escalation(obj: m.EscalationPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": obj.name,
        "steps": [{"after": fmt_duration(s["delay_s"]),
                   "notify": [{t["kind"]: t["ref"]} for t in s["targets"]]} for s in obj.steps],
    }  # fmt: skip
    if obj.repeat:
        out["repeat"] = obj.repeat
        out["repeat_delay"] = fmt_duration(obj.repeat_delay_s)
    return out


def clean_rotation(item: Mapping[str, Any], ctx: Context) -> Clean:
    keys(item, {"name", "participants", "timezone", "start_date", "handoff", "length_days",
                "overrides"})  # fmt: skip
    name = text(item.get("name"), "name", max_len=NAME_MAX)
    people = str_list(item.get("participants"), "participants")
    if not people:
        raise Invalid("participants", "must list at least one user email")
    start = item.get("start_date")
    if isinstance(start, date):
        start = start.isoformat()
    start = text(start, "start_date", max_len=10)
    overrides = []
    for i, o in enumerate(item.get("overrides") or []):
        o = mapping(o, f"overrides[{i}]")
        overrides.append(
            {
                "user": text(o.get("user"), f"overrides[{i}].user"),
                "starts_at": iso(when(o.get("starts"), f"overrides[{i}].starts")),
                "ends_at": iso(when(o.get("ends"), f"overrides[{i}].ends")),
            }
        )
    fields = {"participants": people,
              "timezone": text(item.get("timezone", "UTC"), "timezone", max_len=64),
              "handoff": text(item.get("handoff", "09:00"), "handoff", max_len=5),
              "length_days": integer(item.get("length_days"), "length_days", 7, 1, 365),
              "overrides": overrides}  # fmt: skip
    try:
        Rotation("x", tuple(people), fields["timezone"], start, fields["handoff"],
                 fields["length_days"])  # fmt: skip
    except AlertingError as exc:
        raise Invalid("start_date" if "start_date" in str(exc) else "timezone", str(exc)) from None
    fields["start_date"] = date.fromisoformat(start)
    return Clean(name, fields)


def export_rotation(obj: m.Rotation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": obj.name, "participants": list(obj.participants), "timezone": obj.timezone,
        "start_date": obj.start_date.isoformat(), "handoff": obj.handoff,
        "length_days": obj.length_days,
    }  # fmt: skip
    if obj.overrides:
        out["overrides"] = [{"user": o["user"], "starts": o["starts_at"], "ends": o["ends_at"]}
                            for o in obj.overrides]  # fmt: skip
    return out


# --------------------------------------------------------------------- heartbeats


def clean_heartbeat(item: Mapping[str, Any], ctx: Context) -> Clean:
    from steward.checks.heartbeat import HeartbeatConfig, HeartbeatConfigError

    keys(item, {"name", "period", "schedule", "timezone", "grace", "max_runtime", "min_runtime",
                "enabled", "notify"})  # fmt: skip
    name = text(item.get("name"), "name", max_len=NAME_MAX)

    def opt(key: str) -> float | None:
        return duration(item[key], key) if item.get(key) is not None else None

    fields = {
        "period_s": opt("period"),
        "schedule": text(item.get("schedule"), "schedule", False, 100),
        "tz": text(item.get("timezone", "UTC"), "timezone", max_len=64),
        "grace_s": duration(item.get("grace", 3600), "grace"),
        "max_runtime_s": opt("max_runtime"),
        "min_runtime_s": opt("min_runtime"),
        "enabled": boolean(item.get("enabled"), "enabled", True),
    }
    try:
        HeartbeatConfig(
            period=timedelta(seconds=fields["period_s"]) if fields["period_s"] else None,
            schedule=fields["schedule"] or None,
            tz=fields["tz"],
            grace=timedelta(seconds=fields["grace_s"]),
            max_runtime=(timedelta(seconds=fields["max_runtime_s"])
                         if fields["max_runtime_s"] else None),
            min_runtime=(timedelta(seconds=fields["min_runtime_s"])
                         if fields["min_runtime_s"] else None),
        )  # fmt: skip
    except HeartbeatConfigError as exc:
        where = {"tz": "timezone", "max_runtime": "max_runtime", "min_runtime": "min_runtime"}
        raise Invalid(where.get(exc.field, exc.field), str(exc).split(": ", 1)[-1]) from None
    return Clean(
        name, fields, {"notify": ctx.channels(str_list(item.get("notify"), "notify"), "notify")}
    )


def export_heartbeat(obj: m.HeartbeatCheck) -> dict[str, Any]:
    out: dict[str, Any] = {"name": obj.name}
    if obj.period_s:
        out["period"] = fmt_duration(obj.period_s)
    if obj.schedule:
        out["schedule"] = obj.schedule
    out["timezone"] = obj.tz
    out["grace"] = fmt_duration(obj.grace_s)
    for key in ("max_runtime", "min_runtime"):
        value = getattr(obj, f"{key}_s")
        if value:
            out[key] = fmt_duration(value)
    out["enabled"] = obj.enabled
    notify = sorted(obj.notify.values_list("name", flat=True))
    if notify:
        out["notify"] = notify
    return out


def _channel_kind() -> Kind:
    from steward.alerts.specs_channels import clean_channel, export_channel
    from steward.notify.models import Channel

    return Kind("channels", Channel, clean_channel, export_channel)


# Apply order: what others refer to comes first.
def kinds() -> list[Kind]:
    return [
        _channel_kind(),
        Kind("rotations", m.Rotation, clean_rotation, export_rotation),
        Kind("escalation_policies", m.EscalationPolicy, clean_escalation, export_escalation),
        Kind("rules", m.AlertRule, clean_rule, export_rule),
        Kind("checks", m.CheckDefinition, clean_check, export_check),
        Kind("heartbeats", m.HeartbeatCheck, clean_heartbeat, export_heartbeat),
        Kind("silences", m.Silence, clean_silence, export_silence),
        Kind("maintenance_windows", m.MaintenanceWindow, clean_window, export_window),
    ]


def kind(key: str) -> Kind:
    return next(k for k in kinds() if k.key == key)
