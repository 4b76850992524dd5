"""Monitoring as code: ``steward apply -f FILE.yaml`` and ``steward export``.

The file has top-level lists (``checks``, ``rules``, ``channels``, ``heartbeats``,
``silences``, ``maintenance_windows``, ``escalation_policies``, ``rotations``), each item
with a ``name``. Parsing keeps PyYAML's node marks, so every error names the file, the
line and the field: ``monitoring.yaml:14: checks[2].interval: expected a duration like 30s
or 5m``. Apply is an idempotent upsert by name in one transaction (all or nothing); objects
not in the file are left alone (the file need not describe everything). A second apply of
the same file reports every item ``unchanged``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import transaction

from steward.alerts import specs

TOP_LEVEL = ("channels", "rotations", "escalation_policies", "rules", "checks", "heartbeats",
             "silences", "maintenance_windows")  # fmt: skip


class ApplyError(Exception):
    def __init__(self, filename: str, line: int | None, path: str, message: str) -> None:
        where = f"{filename}:{line}" if line else filename
        super().__init__(f"{where}: {path}: {message}" if path else f"{where}: {message}")
        self.filename, self.line, self.path, self.message = filename, line, path, message


@dataclass
class Document:
    data: dict[str, Any]
    lines: dict[tuple[Any, ...], int]  # path -> 1-based line of the value (or key)

    def line(self, path: tuple[Any, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


@dataclass
class Report:
    dry_run: bool
    changes: list[dict[str, str]] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(1 for c in self.changes if c["action"] != "unchanged")

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "changed": self.changed, "changes": self.changes}


def parse(text: str, filename: str = "<input>") -> Document:
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ApplyError(filename, line, "", f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ApplyError(filename, None, "", f"invalid YAML: {exc}") from None
    if node is None:
        return Document({}, {})
    lines: dict[tuple[Any, ...], int] = {}
    constructor = yaml.SafeLoader("")

    def build(n: yaml.Node, path: tuple[Any, ...]) -> Any:
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = constructor.construct_object(key_node, deep=True)
                lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = build(value_node, (*path, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(v, (*path, i)) for i, v in enumerate(n.value)]
        return constructor.construct_object(n, deep=True)

    data = build(node, ())
    if not isinstance(data, dict):
        raise ApplyError(filename, 1, "", "expected a mapping with lists like checks: and rules:")
    return Document(data, lines)


def _path_tuple(kind: str, index: int, field_path: str) -> tuple[Any, ...]:
    out: list[Any] = [kind, index]
    for part in field_path.replace("]", "").replace("[", ".").split("."):
        if part == "":
            continue
        out.append(int(part) if part.isdigit() else part)
    return tuple(out)


def validate(doc: Document, organization_id: int, filename: str) -> list[tuple[Any, int, Any]]:
    """Clean every item (first error raised as ApplyError); returns (kind, index, clean)."""
    unknown = sorted(set(doc.data) - set(TOP_LEVEL))
    if unknown:
        raise ApplyError(filename, doc.line((unknown[0],)), unknown[0],
                         f"unknown section (expected: {', '.join(TOP_LEVEL)})")  # fmt: skip
    ctx = specs.Context(organization_id)
    for key in TOP_LEVEL:
        items = doc.data.get(key) or []
        if not isinstance(items, list):
            raise ApplyError(filename, doc.line((key,)), key, "must be a list")
        ctx.pending[key] = {i.get("name") for i in items if isinstance(i, Mapping)}
    out = []
    for kind in specs.kinds():
        items = doc.data.get(kind.key) or []
        seen: set[str] = set()
        for index, item in enumerate(items):
            where = f"{kind.key}[{index}]"
            if not isinstance(item, Mapping):
                raise ApplyError(filename, doc.line((kind.key, index)), where, "must be a mapping")
            try:
                clean = kind.clean(item, ctx)
            except specs.Invalid as exc:
                line = doc.line(_path_tuple(kind.key, index, exc.path))
                path = f"{where}.{exc.path}" if exc.path else where
                raise ApplyError(filename, line, path, exc.message) from None
            if clean.name in seen:
                raise ApplyError(filename, doc.line((kind.key, index, "name")), f"{where}.name",
                                 f"duplicate name {clean.name!r}")  # fmt: skip
            seen.add(clean.name)
            out.append((kind, index, clean))
    return out


def apply(
    text: str, organization_id: int, filename: str = "<input>", dry_run: bool = False
) -> Report:
    doc = parse(text, filename)
    report = Report(dry_run)
    with transaction.atomic():
        cleaned = validate(doc, organization_id, filename)
        ctx = specs.Context(organization_id)
        for kind, index, clean in cleaned:
            try:
                # A dry run makes the same changes, then rolls them back.
                _, action = kind.upsert(ctx, clean)
            except specs.Invalid as exc:
                line = doc.line(_path_tuple(kind.key, index, exc.path))
                raise ApplyError(filename, line, f"{kind.key}[{index}].{exc.path}",
                                 exc.message) from None  # fmt: skip
            report.changes.append({"kind": kind.key, "name": clean.name, "action": action})
        if dry_run:
            transaction.set_rollback(True)
    return report


def export_data(organization_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in specs.kinds():
        qs = kind.model._default_manager.filter(  # type: ignore[attr-defined]
            organization_id=organization_id
        ).order_by("name", "pk")
        if kind.key == "silences":
            qs = qs.exclude(name="")
        items = [kind.export(obj) for obj in qs]
        if items:
            out[kind.key] = items
    return out


def export(organization_id: int) -> str:
    return yaml.safe_dump(export_data(organization_id), sort_keys=False, allow_unicode=True)
