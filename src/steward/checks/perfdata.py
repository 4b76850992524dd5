"""Parse Nagios plugin output: status text, long text and performance data.

Format per the Nagios Plugin Development Guidelines ("Plugin Output", "Performance
data") as monitoring-plugins implement it::

    TEXT OUTPUT | OPTIONAL PERFDATA
    LONG TEXT LINE 1
    LONG TEXT LINE N | PERFDATA LINE 2
    PERFDATA LINE 3

Perfdata items are space separated ``'label'=value[UOM];[warn];[crit];[min];[max]``;
labels with spaces are single-quoted and a quote inside is doubled (``''``); trailing
empty fields may be dropped; ``U`` as value means "could not be determined". Items that
do not parse are reported in ``errors`` rather than failing the check: one sloppy label
should not hide the plugin's verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from steward.checks.base import Metric, Range

_VALUE_RE = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|U)(\D*)$")


@dataclass(frozen=True, slots=True)
class PluginOutput:
    """The pieces of a plugin's standard output."""

    message: str
    long_text: tuple[str, ...]
    perfdata: tuple[Metric, ...]
    errors: tuple[str, ...]


def parse_plugin_output(text: str) -> PluginOutput:
    lines = text.splitlines()
    if not lines:
        return PluginOutput("", (), (), ())
    message, sep, perf = lines[0].partition("|")
    chunks = [perf] if sep else []
    long_text: list[str] = []
    in_perfdata = False
    for line in lines[1:]:
        if in_perfdata:
            chunks.append(line)
            continue
        before, sep, perf = line.partition("|")
        if sep:
            if before.strip():
                long_text.append(before.rstrip())
            chunks.append(perf)
            in_perfdata = True
        else:
            long_text.append(line.rstrip())
    metrics: list[Metric] = []
    errors: list[str] = []
    for chunk in chunks:
        found, bad = parse_perfdata(chunk)
        metrics.extend(found)
        errors.extend(bad)
    return PluginOutput(message.strip(), tuple(long_text), tuple(metrics), tuple(errors))


def parse_perfdata(text: str) -> tuple[list[Metric], list[str]]:
    """Parse one run of perfdata items; returns (metrics, descriptions of bad items)."""
    metrics: list[Metric] = []
    errors: list[str] = []
    pos, end = 0, len(text)
    while pos < end:
        if text[pos].isspace():
            pos += 1
            continue
        start = pos
        if text[pos] == "'":
            label, pos = _quoted_label(text, pos)
            if label is None:
                errors.append(f"unterminated quoted label: {text[start:]!r}")
                break
        else:
            eq = text.find("=", pos)
            space = _next_space(text, pos)
            if eq == -1 or eq > space:
                errors.append(f"no '=' in {text[start:space]!r}")
                pos = space
                continue
            label, pos = text[pos:eq], eq
        if pos >= end or text[pos] != "=":
            errors.append(f"no '=' after label {label!r}")
            pos = _next_space(text, pos)
            continue
        space = _next_space(text, pos + 1)
        item = text[pos + 1 : space]
        pos = space
        try:
            metrics.append(_metric(label, item))
        except ValueError as exc:
            errors.append(f"{label}: {exc}")
    return metrics, errors


def _next_space(text: str, pos: int) -> int:
    match = re.compile(r"\s").search(text, pos)
    return match.start() if match else len(text)


def _quoted_label(text: str, pos: int) -> tuple[str | None, int]:
    """Read a single-quoted label starting at ``pos``; ``''`` is a literal quote."""
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        if text[i] == "'":
            if i + 1 < len(text) and text[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(text[i])
        i += 1
    return None, i


def _number(field: str) -> float | None:
    field = field.strip().replace(",", ".")  # some plugins print locale decimal commas
    if field in ("", "U"):
        return None
    return float(field)


def _range(field: str) -> Range | None:
    field = field.strip().replace(",", ".")
    return Range.parse(field) if field else None


def _metric(label: str, item: str) -> Metric:
    fields = item.split(";")
    match = _VALUE_RE.match(fields[0].replace(",", "."))
    if not match:
        raise ValueError(f"bad value {fields[0]!r}")
    raw_value, unit = match.groups()
    fields += [""] * (5 - len(fields))
    return Metric(
        name=label,
        value=None if raw_value == "U" else float(raw_value),
        unit=unit,
        warn=_range(fields[1]),
        crit=_range(fields[2]),
        min=_number(fields[3]),
        max=_number(fields[4]),
    )
