"""One form per monitoring kind: fields <-> the kind's item shape (docs/alerts.md).

A form only arranges the item; ``steward.alerts.specs`` validates it when it is saved
(``common.save_item``), and its error names a spec field, which ``SpecForm.add_spec_error``
puts next to the matching form field. ``controlled`` lists the spec keys a form owns: on
edit, the other keys of the stored item (annotations, group timing, overrides...) are kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django import forms
from django.utils import timezone

from steward.alerts.specs import CONDITION_FIELDS
from steward.console.alerts import fields as f

DURATION_HELP = "Like 30s, 5m, 2h, 1d or 1h30m."


def duration(label: str, required: bool = False, initial: str = "", help_text: str = "") -> Any:
    return forms.CharField(label=label, required=required, initial=initial or None,
                           max_length=40, help_text=help_text or DURATION_HELP)  # fmt: skip


def local_dt(value: Any) -> str:
    """A stored ISO date-time as a datetime-local value, in the server's time zone."""
    if not value:
        return ""
    when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return timezone.localtime(when).strftime("%Y-%m-%dT%H:%M")


def iso_local(value: datetime | None) -> str | None:
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value.isoformat()


class DateTimeLocal(forms.DateTimeField):
    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class SpecForm(forms.Form):
    controlled: ClassVar[frozenset[str]] = frozenset()
    # spec path root -> form field, where the names differ
    field_of: ClassVar[dict[str, str]] = {}

    def __init__(self, *args: Any, channels: list[str] = (), devices: list[str] = (),
                 escalations: list[str] = (), **kw: Any) -> None:  # fmt: skip
        super().__init__(*args, **kw)
        if "notify" in self.fields:
            self.fields["notify"].choices = [(c, c) for c in channels]
        if "channels" in self.fields:
            self.fields["channels"].choices = [(c, c) for c in channels]
        if "device" in self.fields:
            self.fields["device"].choices = [("", "— server-side (the worker runs it)")] + [
                (d, d) for d in devices
            ]
        if "escalation" in self.fields:
            self.fields["escalation"].choices = [("", "— none")] + [(e, e) for e in escalations]

    def to_spec(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def initial_from(cls, spec: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in spec.items() if k in cls.base_fields}

    def add_spec_error(self, path: str, message: str) -> None:
        root = path.replace("[", ".").split(".")[0] if path else ""
        name = self.field_of.get(root, root)
        if name in self.fields:
            where = path if path != root else ""
            self.add_error(name, f"{where}: {message}" if where else message)
        else:
            self.add_error(None, f"{path}: {message}" if path else message)


def _put(spec: dict[str, Any], key: str, value: Any) -> None:
    if value not in (None, "", [], {}):
        spec[key] = value


# --------------------------------------------------------------------- rules

KINDS = (("threshold", "Threshold on a metric"), ("absence", "Metric stops arriving"),
         ("check", "Check failing"), ("device_offline", "Device offline"),
         ("forecast", "Resource predicted to run out"), ("anomaly", "Anomaly (learned band)"),
         ("disk_health", "Disk health (SMART)"))  # fmt: skip
BOUNDS = (("estimate", "The fitted time"), ("early", "The early edge of the interval"),
          ("late", "The late edge (only when surely)"))  # fmt: skip
DISK_LEVELS = (("warning", "Warning or worse"), ("critical", "Critical only"),
               ("watch", "Watch or worse"))  # fmt: skip
SEVERITIES = (("critical", "Critical"), ("warning", "Warning"), ("info", "Info"))
OPS = [(o, o) for o in (">", ">=", "<", "<=", "==", "!=")]
REDUCERS = [(r, r) for r in ("last", "avg", "min", "max", "percentile", "count")]
STATES = (("warning", "Warning or worse"), ("critical", "Critical or worse"),
          ("unknown", "Unknown only"))  # fmt: skip
NOTIFY = (("all", "Every enabled channel"), ("channels", "The channels chosen below"),
          ("none", "Nobody (record only)"))  # fmt: skip
_CONDITION_KEYS = frozenset(k for keys in CONDITION_FIELDS.values() for k in keys)


class RuleForm(SpecForm):
    controlled = frozenset({"name", "kind", "severity", "enabled", "for", "title",
                            "description", "scope", "labels", "notify", "escalation",
                            "repeat_interval"}) | _CONDITION_KEYS  # fmt: skip
    field_of = {"for": "for_duration", "scope": "scope_matchers", "matchers": "series_matchers"}

    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=KINDS, widget=forms.Select(attrs={"data-rule-kind": ""}))
    severity = forms.ChoiceField(choices=SEVERITIES, initial="warning")
    enabled = forms.BooleanField(required=False, initial=True)
    metric = forms.CharField(
        required=False,
        max_length=200,
        help_text="A metric name, e.g. steward_filesystem_used_ratio",
    )
    op = forms.ChoiceField(choices=OPS, required=False, initial=">")
    threshold = forms.FloatField(required=False)
    reducer = forms.ChoiceField(choices=REDUCERS, required=False, initial="last")
    window = duration("Window", help_text="Needed unless the reducer is last.")
    percentile = forms.FloatField(required=False)
    recover = forms.FloatField(required=False, help_text="Resolve only past this bound "
                               "(hysteresis). Optional.")  # fmt: skip
    after = duration("After", help_text="Absence: no sample for this long. Device offline: "
                     "no contact for this long (default 2m).")  # fmt: skip
    check = forms.CharField(
        required=False, max_length=200, initial="*", help_text="A check name, or * for every check."
    )
    min_state = forms.ChoiceField(choices=STATES, required=False, initial="warning")
    resource = forms.CharField(
        required=False,
        max_length=300,
        help_text="Forecast: filesystem /var, filesystem * (each one) or memory",
    )
    within = duration("Within", help_text="Forecast: alert when it runs out within this long.")
    bound = forms.ChoiceField(choices=BOUNDS, required=False, initial="estimate")
    signal = forms.CharField(
        required=False, max_length=200, help_text="Anomaly: cpu or memory (or give a metric)"
    )
    series_matchers = f.Lines(
        label="Series matchers", help_text='Anomaly on a metric: one a line, device=~"eth.*"'
    )
    level = forms.FloatField(
        required=False, min_value=0.01, max_value=1.0, initial=0.5,
        help_text="Anomaly: score at or above (0.5 = the detector's alarm level)",
    )  # fmt: skip
    disk = forms.CharField(required=False, max_length=200, initial="*")
    min_level = forms.ChoiceField(choices=DISK_LEVELS, required=False, initial="warning")
    for_duration = duration("For", help_text="The condition must hold this long (pending "
                            "meanwhile). Optional.")  # fmt: skip
    title = forms.CharField(
        required=False,
        max_length=2000,
        help_text="A template: {{ labels.device }}, {{ value | round }}",
    )
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    scope_site = forms.CharField(label="Only site", required=False, max_length=200)
    scope_device = forms.CharField(label="Only device", required=False, max_length=255)
    scope_tag = forms.CharField(label="Only tag", required=False, max_length=100)
    scope_matchers = f.Lines(
        label="Label matchers", help_text='One a line: team="db", device=~"web-.*"'
    )
    labels = f.Lines(label="Extra labels", help_text="name=value, one a line")
    notify_mode = forms.ChoiceField(label="Notify", choices=NOTIFY, initial="all")
    channels = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    escalation = forms.ChoiceField(required=False)
    repeat_interval = duration("Repeat every", help_text="While firing (default 1h, doubling).")

    def condition_fields(self) -> list[tuple[Any, str]]:
        """(bound field, the kinds it belongs to as "a b c") for the Condition fieldset: the
        page shows only the chosen kind's (``specs.CONDITION_FIELDS`` says which)."""
        kinds_of: dict[str, list[str]] = {}
        for kind, keys in CONDITION_FIELDS.items():
            for key in sorted(keys):
                kinds_of.setdefault(self.field_of.get(key, key), []).append(kind)
        kinds_of["for_duration"] = [kind for kind, _ in KINDS]  # every kind has a duration
        return [(self[name], " ".join(kinds_of[name])) for name in self.fields if name in kinds_of]

    def clean_labels(self) -> dict[str, str]:
        return f.pairs(self.cleaned_data["labels"])

    def to_spec(self) -> dict[str, Any]:
        d = self.cleaned_data
        kind = d["kind"]
        spec: dict[str, Any] = {"name": d["name"], "kind": kind, "severity": d["severity"],
                                "enabled": d["enabled"]}  # fmt: skip
        if kind == "threshold":
            spec.update(metric=d["metric"], op=d["op"] or ">", threshold=d["threshold"])
            if d["reducer"] and d["reducer"] != "last":
                spec["reducer"] = d["reducer"]
            _put(spec, "window", d["window"])
            _put(spec, "percentile", d["percentile"])
            _put(spec, "recover", d["recover"])
        elif kind == "absence":
            spec.update(metric=d["metric"], after=d["after"] or None)
        elif kind == "check":
            spec["check"] = d["check"] or "*"
            spec["min_state"] = d["min_state"] or "warning"
        elif kind == "forecast":
            spec.update(resource=d["resource"], within=d["within"] or None)
            if d["bound"] and d["bound"] != "estimate":
                spec["bound"] = d["bound"]
        elif kind == "anomaly":
            _put(spec, "signal", d["signal"])
            _put(spec, "metric", d["metric"])
            _put(spec, "matchers", f.lines(d["series_matchers"]))
            spec["level"] = d["level"] if d["level"] is not None else 0.5
        elif kind == "disk_health":
            spec.update(disk=d["disk"] or "*", min_level=d["min_level"] or "warning")
        else:
            _put(spec, "after", d["after"])
        _put(spec, "for", d["for_duration"])
        _put(spec, "title", d["title"])
        _put(spec, "description", d["description"])
        scope = {"site": d["scope_site"], "device": d["scope_device"], "tag": d["scope_tag"],
                 "matchers": f.lines(d["scope_matchers"])}  # fmt: skip
        _put(spec, "scope", {k: v for k, v in scope.items() if v})
        _put(spec, "labels", d["labels"])
        mode = d["notify_mode"]
        spec["notify"] = list(d["channels"]) if mode == "channels" else mode
        _put(spec, "escalation", d["escalation"])
        _put(spec, "repeat_interval", d["repeat_interval"])
        return spec

    @classmethod
    def initial_from(cls, spec: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in spec.items() if k in cls.base_fields}
        scope = spec.get("scope") or {}
        out.update(
            for_duration=spec.get("for", ""),
            scope_site=scope.get("site", ""),
            scope_device=scope.get("device", ""),
            scope_tag=scope.get("tag", ""),
            scope_matchers="\n".join(scope.get("matchers", [])),
            series_matchers="\n".join(spec.get("matchers", [])),
            labels=f.show_pairs(spec.get("labels", {})),
        )
        notify = spec.get("notify", "all")
        if isinstance(notify, list):
            out.update(notify_mode="channels", channels=notify)
        else:
            out["notify_mode"] = notify
        return out


# --------------------------------------------------------------------- silences, windows

SILENCE_FOR = (("1h", "1 hour"), ("4h", "4 hours"), ("1d", "1 day"), ("1w", "1 week"),
               ("", "Until the end time below"))  # fmt: skip


class SilenceForm(SpecForm):
    controlled = frozenset({"name", "matchers", "starts", "ends", "duration", "reason"})

    name = forms.CharField(
        required=False, max_length=200, help_text="Optional; made from the matchers when empty."
    )
    matchers = f.Lines(required=True, help_text='Alerts matching every line are silenced: '
                       'device="web-01", alertname=~"Disk.*"')  # fmt: skip
    starts = DateTimeLocal(required=False, help_text="Empty: now.")
    duration = forms.ChoiceField(label="For", choices=SILENCE_FOR, required=False, initial="4h")
    ends = DateTimeLocal(required=False)
    reason = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def to_spec(self) -> dict[str, Any]:
        d = self.cleaned_data
        found = f.lines(d["matchers"])
        name = d["name"] or f"{', '.join(found)[:150]} · {timezone.localtime():%Y-%m-%d %H:%M:%S}"
        spec: dict[str, Any] = {"name": name, "matchers": found}
        _put(spec, "starts", iso_local(d["starts"]))
        if d["ends"]:
            spec["ends"] = iso_local(d["ends"])
        elif d["duration"]:
            spec["duration"] = d["duration"]
        _put(spec, "reason", d["reason"])
        return spec

    @classmethod
    def initial_from(cls, spec: dict[str, Any]) -> dict[str, Any]:
        return {"name": spec.get("name", ""), "matchers": "\n".join(spec.get("matchers", [])),
                "starts": local_dt(spec.get("starts")), "ends": local_dt(spec.get("ends")),
                "duration": "", "reason": spec.get("reason", "")}  # fmt: skip


class WindowForm(SpecForm):
    controlled = frozenset({"name", "matchers", "timezone", "slots", "valid_from",
                            "valid_until", "enabled"})  # fmt: skip

    name = forms.CharField(max_length=200)
    matchers = f.Lines(help_text='Alerts matching every line are held: site="HQ". '
                       "Empty: every alert of the organization.")  # fmt: skip
    timezone = forms.CharField(max_length=64, initial="UTC", help_text="e.g. Europe/Berlin")
    slots = f.Lines(
        required=True,
        label="Weekly slots",
        help_text="One a line: sun 01:00-05:00, or mon,wed 22:00-02:00 "
        "(an end before the start is the next day).",
    )
    valid_from = DateTimeLocal(required=False)
    valid_until = DateTimeLocal(required=False)
    enabled = forms.BooleanField(required=False, initial=True)

    def clean_slots(self) -> list[dict[str, Any]]:
        return f.slots(self.cleaned_data["slots"])

    def to_spec(self) -> dict[str, Any]:
        d = self.cleaned_data
        spec = {
            "name": d["name"],
            "matchers": f.lines(d["matchers"]),
            "timezone": d["timezone"],
            "slots": d["slots"],
            "enabled": d["enabled"],
        }
        _put(spec, "valid_from", iso_local(d["valid_from"]))
        _put(spec, "valid_until", iso_local(d["valid_until"]))
        return spec

    @classmethod
    def initial_from(cls, spec: dict[str, Any]) -> dict[str, Any]:
        return {"name": spec["name"], "matchers": "\n".join(spec.get("matchers", [])),
                "timezone": spec.get("timezone", "UTC"), "slots": f.show_slots(spec["slots"]),
                "valid_from": local_dt(spec.get("valid_from")),
                "valid_until": local_dt(spec.get("valid_until")),
                "enabled": spec.get("enabled", True)}  # fmt: skip


# --------------------------------------------------------------------- escalation, on-call


class EscalationForm(SpecForm):
    controlled = frozenset({"name", "steps", "repeat", "repeat_delay"})

    name = forms.CharField(max_length=200)
    steps = f.Lines(
        required=True,
        help_text="One step a line: a delay, then who — "
        "0s: channel ops-hook · 15m: rotation ops week, user lead@example.com",
    )
    repeat = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        initial=0,
        help_text="Times to run the steps again while unacknowledged.",
    )
    repeat_delay = duration("Repeat after")

    def clean_steps(self) -> list[dict[str, Any]]:
        return f.steps(self.cleaned_data["steps"])

    def to_spec(self) -> dict[str, Any]:
        d = self.cleaned_data
        spec: dict[str, Any] = {"name": d["name"], "steps": d["steps"]}
        if d["repeat"]:
            spec["repeat"] = d["repeat"]
            _put(spec, "repeat_delay", d["repeat_delay"])
        return spec

    @classmethod
    def initial_from(cls, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": spec["name"],
            "steps": f.show_steps(spec["steps"]),
            "repeat": spec.get("repeat", 0),
            "repeat_delay": spec.get("repeat_delay", ""),
        }


class RotationForm(SpecForm):
    controlled = frozenset({"name", "participants", "timezone", "start_date", "handoff",
                            "length_days"})  # fmt: skip

    name = forms.CharField(max_length=200)
    participants = f.Lines(required=True, help_text="User emails, one a line, in turn order.")
    timezone = forms.CharField(max_length=64, initial="UTC")
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    handoff = forms.CharField(max_length=5, initial="09:00", help_text="Local time, HH:MM")
    length_days = forms.IntegerField(
        min_value=1, max_value=365, initial=7, label="Shift length (days)"
    )

    def to_spec(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {"name": d["name"], "participants": f.lines(d["participants"]),
                "timezone": d["timezone"], "start_date": d["start_date"].isoformat(),
                "handoff": d["handoff"], "length_days": d["length_days"]}  # fmt: skip

    @classmethod
    def initial_from(cls, spec: dict[str, Any]) -> dict[str, Any]:
        return {**spec, "participants": "\n".join(spec.get("participants", []))}


# --------------------------------------------------------------------- checks, heartbeats


class CheckForm(SpecForm):
    controlled = frozenset({"name", "device", "type", "target", "params", "interval", "timeout",
                            "retries", "enabled", "notify"})  # fmt: skip

    name = forms.CharField(max_length=200)
    device = forms.ChoiceField(required=False, help_text="The device's agent runs the check; "
                               "without a device the server runs it (http, tcp, ping, tls, dns, "
                               "nagios).")  # fmt: skip
    type = forms.ChoiceField()
    target = forms.CharField(
        required=False,
        max_length=500,
        help_text="Per type: a process or service name, host:port, a URL…",
    )
    params = f.Lines(label="Parameters", help_text="name=value, one a line (docs/checks.md)")
    interval = duration("Interval", initial="60s", help_text="1s … 24h")
    timeout = duration("Timeout", initial="10s")
    retries = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=10,
        initial=0,
        help_text="Failures tolerated before the state changes.",
    )
    enabled = forms.BooleanField(required=False, initial=True)
    notify = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                       help_text="Optional: this check's own failing rule "
                                       "notifies these channels only.")  # fmt: skip

    def __init__(self, *args: Any, types: list[str] = (), **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["type"].choices = [(t, t) for t in types]

    def clean_params(self) -> dict[str, Any]:
        return f.params(self.cleaned_data["params"])

    def to_spec(self) -> dict[str, Any]:
        d = self.cleaned_data
        spec: dict[str, Any] = {"name": d["name"], "type": d["type"], "target": d["target"],
                                "enabled": d["enabled"]}  # fmt: skip
        _put(spec, "device", d["device"])
        _put(spec, "params", d["params"])
        _put(spec, "interval", d["interval"])
        _put(spec, "timeout", d["timeout"])
        _put(spec, "retries", d["retries"])
        _put(spec, "notify", list(d["notify"]))
        return spec

    @classmethod
    def initial_from(cls, spec: dict[str, Any]) -> dict[str, Any]:
        return {**spec, "params": f.show_params(spec.get("params", {}))}


class HeartbeatForm(SpecForm):
    controlled = frozenset({"name", "period", "schedule", "timezone", "grace", "max_runtime",
                            "min_runtime", "enabled", "notify"})  # fmt: skip

    name = forms.CharField(max_length=200)
    period = duration("Period", help_text="Expected every… (or give a schedule).")
    schedule = forms.CharField(
        required=False, max_length=100, help_text='Cron, e.g. "0 3 * * *" (in the time zone).'
    )
    timezone = forms.CharField(max_length=64, initial="UTC")
    grace = duration("Grace", initial="1h", help_text="How late a ping may be.")
    max_runtime = duration("Max runtime")
    min_runtime = duration("Min runtime")
    enabled = forms.BooleanField(required=False, initial=True)
    notify = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def to_spec(self) -> dict[str, Any]:
        d = self.cleaned_data
        spec: dict[str, Any] = {"name": d["name"], "timezone": d["timezone"],
                                "enabled": d["enabled"]}  # fmt: skip
        for key in ("period", "schedule", "grace", "max_runtime", "min_runtime"):
            _put(spec, key, d[key])
        _put(spec, "notify", list(d["notify"]))
        return spec
