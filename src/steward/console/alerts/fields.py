"""Text formats of the alerts forms, parsed to the monitoring-file shapes (docs/alerts.md).

Only the shape is handled here (lines, ``k=v``); every value is validated by
``steward.alerts.specs`` when the item is saved, so the console and the API reject the
same things with the same words.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

_SLOT = re.compile(r"^\s*([A-Za-z0-9,\s]+?)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")
_STEP = re.compile(r"^\s*([0-9][0-9a-z.]*)\s*:\s*(.+)$")


def lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def pairs(text: str, what: str = "label") -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines(text):
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(f"“{line}”: expected name=value, one {what} a line")
        out[key.strip()] = value.strip()
    return out


def params(text: str) -> dict[str, Any]:
    """``name=value`` lines; a value that reads as JSON (numbers, true, lists) is taken as
    such, anything else as a string."""
    out: dict[str, Any] = {}
    for key, raw in pairs(text, "parameter").items():
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def show_params(values: dict[str, Any]) -> str:
    return "\n".join(
        f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in (values or {}).items()
    )


def show_pairs(values: dict[str, Any]) -> str:
    return "\n".join(f"{k}={v}" for k, v in (values or {}).items())


def slots(text: str) -> list[dict[str, Any]]:
    """``mon,tue 01:00-05:00`` lines -> ``[{days, start, end}]``."""
    out = []
    for line in lines(text):
        match = _SLOT.match(line)
        if match is None:
            raise forms.ValidationError(f"“{line}”: expected days and hours like sun 01:00-05:00")
        days = [d.strip() for d in match.group(1).replace(" ", ",").split(",") if d.strip()]
        out.append({"days": days, "start": match.group(2), "end": match.group(3)})
    return out


def show_slots(values: list[dict[str, Any]]) -> str:
    return "\n".join(f"{','.join(str(d) for d in s['days'])} {s['start']}-{s['end']}"
                     for s in values or [])  # fmt: skip


TARGET_KINDS = ("channel", "user", "rotation")


def steps(text: str) -> list[dict[str, Any]]:
    """``15m: channel ops-hook, rotation ops week`` lines -> ``[{after, notify}]``."""
    out = []
    for line in lines(text):
        match = _STEP.match(line)
        if match is None:
            raise forms.ValidationError(
                f"“{line}”: expected a delay and targets like 15m: channel ops-hook, user a@b.c"
            )
        targets = []
        for part in match.group(2).split(","):
            kind, _, ref = part.strip().partition(" ")
            if kind not in TARGET_KINDS or not ref.strip():
                raise forms.ValidationError(
                    f"“{part.strip()}”: a target is channel NAME, user EMAIL or rotation NAME"
                )
            targets.append({kind: ref.strip()})
        out.append({"after": match.group(1), "notify": targets})
    return out


def show_steps(values: list[dict[str, Any]]) -> str:
    out = []
    for step in values or []:
        targets = ", ".join(f"{k} {v}" for t in step.get("notify", []) for k, v in t.items())
        out.append(f"{step.get('after', '0s')}: {targets}")
    return "\n".join(out)


class Lines(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 3, "class": "mono"})

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("required", False)
        super().__init__(**kw)
