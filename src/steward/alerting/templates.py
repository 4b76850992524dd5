"""A tiny, safe template renderer for alert titles and descriptions.

Syntax: ``{{ path }}`` or ``{{ path | filter }}`` where ``path`` is dotted names
(``value``, ``labels.instance``, ``threshold``, ``link``) looked up in *dictionaries only*, and
filters are ``round``/``round:N``, ``upper``, ``lower`` and ``default:text``. There is no
evaluation, no attribute access and no call, so a rule author cannot run code or reach
objects (the reason for not using Jinja or ``str.format``, whose ``{x.__class__}`` reaches
Python internals). Unknown names render as the empty string: a rule shared by devices that
lack a label should still produce a title.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from steward.alerting.errors import TemplateError

_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
_FILTERS = {"round", "upper", "lower", "default"}


@dataclass(frozen=True)
class _Expr:
    path: tuple[str, ...]
    filters: tuple[tuple[str, str], ...]


def _parse_expr(source: str) -> _Expr:
    parts = [p.strip() for p in source.split("|")]
    path = parts[0]
    if not _PATH.match(path) or any(seg.startswith("_") for seg in path.split(".")):
        raise TemplateError(f"invalid name {path!r} in template")
    filters: list[tuple[str, str]] = []
    for raw in parts[1:]:
        name, _, arg = raw.partition(":")
        name = name.strip()
        if name not in _FILTERS:
            raise TemplateError(f"unknown filter {name!r} in template")
        if name == "round" and arg and not arg.strip().isdigit():
            raise TemplateError(f"round takes a number of digits, not {arg!r}")
        filters.append((name, arg.strip()))
    return _Expr(tuple(path.split(".")), tuple(filters))


def compile_template(text: str) -> tuple[str | _Expr, ...]:
    """Parse once (at rule load) so bad templates are rejected when saved, not when paging."""
    out: list[str | _Expr] = []
    pos = 0
    for m in _TAG.finditer(text):
        out.append(text[pos : m.start()])
        out.append(_parse_expr(m.group(1)))
        pos = m.end()
    rest = text[pos:]
    if "{{" in rest:
        raise TemplateError("unclosed '{{' in template")
    out.append(rest)
    return tuple(p for p in out if p != "")


def _lookup(context: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = context
    for seg in path:
        if not isinstance(current, Mapping) or seg not in current:
            return None
        current = current[seg]
    return current


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else repr(value)
    return str(value)


def _apply(value: Any, name: str, arg: str) -> Any:
    if name == "default":
        return arg if value in (None, "") else value
    if name == "round":
        try:
            return round(float(value), int(arg or 0))
        except (TypeError, ValueError):
            return value
    text = _format(value)
    return text.upper() if name == "upper" else text.lower()


def render(template: str | tuple[str | _Expr, ...], context: Mapping[str, Any]) -> str:
    """Render ``template`` (text or :func:`compile_template` output) against ``context``."""
    parts = compile_template(template) if isinstance(template, str) else template
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = _lookup(context, part.path)
        for name, arg in part.filters:
            value = _apply(value, name, arg)
        out.append(_format(value))
    return "".join(out)
