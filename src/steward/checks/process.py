"""``process``: are the expected processes running, and how many of them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psutil

from steward.checks.base import CheckResult, CheckSpec, Metric, Range, SpecError, Status
from steward.checks.registry import Check, Context, Kind, Param, Side, register


@register
class ProcessCheck(Check):
    name = "process"
    summary = "Processes running by name, command-line regex or pid file; min/max count"
    side = Side.AGENT
    target_help = "process name, command-line regex or pid file path (per 'match')"
    params = (
        Param(
            "match",
            Kind.STR,
            "how to read the target: name (exact process name), cmdline (regex searched in "
            "the space-joined command line) or pidfile (path of a file holding a pid)",
            default="name",
            choices=("name", "cmdline", "pidfile"),
        ),
        Param("min_count", Kind.INT, "critical below this many processes", default=1, minimum=0),
        Param("max_count", Kind.INT, "critical above this many processes", minimum=0),
    )

    def check_params(self, values: dict[str, Any], spec: CheckSpec) -> None:
        if values["match"] == "cmdline":
            try:
                re.compile(spec.target)
            except re.error as exc:
                raise SpecError("target", f"is not a valid regular expression: {exc}") from None
        if values["max_count"] is not None and values["max_count"] < values["min_count"]:
            raise SpecError("params.max_count", "must not be below min_count")

    def execute(self, ctx: Context) -> CheckResult:
        target, how = ctx.spec.target, ctx.params["match"]
        if how == "pidfile":
            pids, why = _pidfile_pids(Path(target))
        else:
            pids, why = _matching_pids(target, how), ""
        lo, hi = ctx.params["min_count"], ctx.params["max_count"]
        count = len(pids)
        crit = Range(start=float(lo), end=None if hi is None else float(hi))
        metric = Metric("processes", count, "", crit=crit, min=0)
        label = {"name": "named", "cmdline": "matching", "pidfile": "from pid file"}[how]
        message = f"{count} process{'es' if count != 1 else ''} {label} {target!r}"
        if pids:
            message += f" (pid {', '.join(str(p) for p in sorted(pids)[:5])})"
        if why:
            message += f"; {why}"
        status = Status.CRITICAL if crit.alerts(count) else Status.OK
        if status is Status.CRITICAL:
            bound = f"at least {lo}" if count < lo else f"at most {hi}"
            message += f"; expected {bound}"
        return CheckResult(status, message, perfdata=(metric,))


def _matching_pids(target: str, how: str) -> list[int]:
    """Pids whose name equals ``target`` (name) or whose command line matches it (cmdline).

    Linux truncates ``comm`` to 15 characters, so a name also matches the basename of the
    executable or of argv[0]. Processes that vanish or deny access while being read are
    skipped: they cannot be confirmed, and the count must not fail because of them."""
    pattern = re.compile(target) if how == "cmdline" else None
    me = psutil.Process().pid
    pids = []
    for proc in psutil.process_iter(["name", "cmdline", "exe"]):
        info = proc.info
        cmdline = info.get("cmdline") or []
        if pattern is not None:
            # Exclude ourselves: a regex given on our own command line would match us.
            if proc.pid != me and pattern.search(" ".join(cmdline)):
                pids.append(proc.pid)
            continue
        names = {info.get("name") or ""}
        if info.get("exe"):
            names.add(Path(info["exe"]).name)
        if cmdline:
            names.add(Path(cmdline[0]).name)
        if target in names:
            pids.append(proc.pid)
    return pids


def _pidfile_pids(path: Path) -> tuple[list[int], str]:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return [], "pid file does not exist"
    except OSError as exc:
        return [], f"pid file unreadable: {exc.strerror}"
    try:
        pid = int(text.split()[0])
    except (ValueError, IndexError):
        return [], f"pid file holds no pid: {text[:40]!r}"
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return [], f"pid {pid} is a zombie"
    except psutil.NoSuchProcess:
        return [], f"stale pid file: pid {pid} is not running"
    return [pid], ""
