"""``log``: count lines matching a regex written to a log file since the previous run.

Incremental: the state handed back (``{"dev", "inode", "offset"}``) records how far the
file was read. Rotation by rename (logrotate's default ``create`` mode) shows up as a new
inode at the path: the rest of the old file is still read, found among the siblings by
its inode (``app.log.1``), then the new file from its start. Truncation in place
(``copytruncate``) shows up as a size below the saved offset: reading restarts at zero.
A file deleted and recreated can get the *same* inode back (ext4 and tmpfs reuse freed
inodes at once), so the state also keeps a hash of the file's first bytes
(``head``/``head_len``, the fingerprint approach of Filebeat and Fluent Bit): a different
beginning means a different file, read from the start.
Only complete lines are consumed, so a line being written is counted once, whole.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from steward.checks.base import CheckResult, CheckSpec, Metric, Range, SpecError, Status
from steward.checks.registry import Check, Context, Kind, Param, Side, register

#: Bytes of the file's beginning fingerprinted to detect a recreated file on a reused inode.
HEAD_BYTES = 256
#: Siblings examined when looking for a rotated file by inode.
MAX_ROTATED_CANDIDATES = 50


@register
class LogCheck(Check):
    name = "log"
    summary = "Regex matches in a log file since the last run (rotation and truncation aware)"
    side = Side.AGENT
    target_help = "path of the log file"
    params = (
        Param("pattern", Kind.REGEX, "regular expression searched in each line", required=True),
        Param("ignore", Kind.REGEX, "lines matching this are not counted"),
        Param("case_sensitive", Kind.BOOL, "match case", default=True),
        Param("warn_count", Kind.INT, "warning at this many matches", default=1, minimum=1),
        Param("crit_count", Kind.INT, "critical at this many matches", minimum=1),
        Param(
            "first_run",
            Kind.STR,
            "where the first run starts: end (only new lines count) or start",
            default="end",
            choices=("end", "start"),
        ),
        Param(
            "max_bytes",
            Kind.INT,
            "read at most this much per run; the rest waits for the next run",
            default=16 * 1024 * 1024,
            minimum=1024,
        ),
    )

    def check_params(self, values: dict[str, Any], spec: CheckSpec) -> None:
        if values["crit_count"] is not None and values["crit_count"] < values["warn_count"]:
            raise SpecError("params.crit_count", "must not be below warn_count")

    def execute(self, ctx: Context) -> CheckResult:
        p = ctx.params
        path = Path(ctx.spec.target)
        flags = 0 if p["case_sensitive"] else re.IGNORECASE
        pattern = re.compile(p["pattern"], flags)
        ignore = re.compile(p["ignore"], flags) if p["ignore"] else None
        state = ctx.state or {}
        try:
            st = path.stat()
        except FileNotFoundError:
            return CheckResult(Status.UNKNOWN, f"{path}: no such file", state=ctx.state)
        identity = {"dev": st.st_dev, "inode": st.st_ino}

        if "offset" not in state:
            if p["first_run"] == "end":
                fresh = {**identity, "offset": st.st_size, **_head(path, st.st_size)}
                message = f"{path}: watching from offset {st.st_size}; no lines read yet"
                return CheckResult(Status.OK, message, perfdata=_perfdata(0, 0, p), state=fresh)
            state = {**identity, "offset": 0}

        scan = _Scan(pattern, ignore)
        notes = []
        offset = int(state["offset"])
        if (state.get("dev"), state.get("inode")) != (st.st_dev, st.st_ino):
            old = _find_rotated(path, int(state.get("dev", -1)), int(state.get("inode", -1)))
            if old is not None:
                scan.read(old, offset, p["max_bytes"], final=True)
                notes.append(f"rotated; finished {old.name}")
            else:
                notes.append("rotated; previous file not found")
            offset = 0
        elif st.st_size < offset:
            notes.append("truncated; reading from the start")
            offset = 0
        elif "head" in state and _head(path, int(state["head_len"]))["head"] != state["head"]:
            notes.append("replaced by a new file; reading from the start")
            offset = 0
        offset = scan.read(path, offset, p["max_bytes"], final=False)

        count = scan.matches
        status = Status.OK
        if p["crit_count"] is not None and count >= p["crit_count"]:
            status = Status.CRITICAL
        elif count >= p["warn_count"]:
            status = Status.WARNING
        message = f"{count} match{'es' if count != 1 else ''} of /{p['pattern']}/ in"
        message += f" {scan.lines} new line{'s' if scan.lines != 1 else ''}"
        if scan.last:
            message += f"; last: {scan.last[:200]}"
        if notes:
            message += f" ({'; '.join(notes)})"
        return CheckResult(
            status,
            message,
            perfdata=_perfdata(count, scan.lines, p),
            state={**identity, "offset": offset, **_head(path, offset)},
        )


class _Scan:
    """Accumulates matches over the one or two files read in a run."""

    def __init__(self, pattern: re.Pattern[str], ignore: re.Pattern[str] | None) -> None:
        self.pattern, self.ignore = pattern, ignore
        self.matches = self.lines = 0
        self.last = ""

    def read(self, path: Path, offset: int, limit: int, *, final: bool) -> int:
        """Scan complete lines from ``offset`` (at most ``limit`` bytes); return the offset
        after the last consumed line. ``final``: the file will not grow (rotated away),
        so a trailing line without newline is consumed too."""
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read(limit)
        if not final:
            # Keep a partial last line for the next run, unless the whole read window is
            # one line without a newline: then consume it, or the check would never move.
            cut = data.rfind(b"\n") + 1
            if cut or len(data) < limit:
                data = data[:cut]
        for raw in data.splitlines():
            line = raw.decode("utf-8", errors="replace")
            self.lines += 1
            if self.pattern.search(line) and not (self.ignore and self.ignore.search(line)):
                self.matches += 1
                self.last = line.strip()
        return offset + len(data)


def _find_rotated(path: Path, dev: int, inode: int) -> Path | None:
    """The sibling of ``path`` (``app.log.1``, ``app.log-20240101``) with the old inode."""
    try:
        candidates = sorted(path.parent.glob(f"{glob_escape(path.name)}?*"))
    except OSError:
        return None
    for candidate in candidates[:MAX_ROTATED_CANDIDATES]:
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (dev, inode):
            return candidate
    return None


def _head(path: Path, upto: int) -> dict[str, Any]:
    """Fingerprint of the file's first ``min(upto, HEAD_BYTES)`` bytes."""
    length = min(upto, HEAD_BYTES)
    with path.open("rb") as handle:
        data = handle.read(length)
    return {"head": hashlib.sha256(data).hexdigest()[:32], "head_len": len(data)}


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _perfdata(count: int, lines: int, p: dict[str, Any]) -> tuple[Metric, ...]:
    # Nagios ranges alert *above* the end, so "at least N" is written as an end of N-1.
    warn = Range.above(p["warn_count"] - 1)
    crit = None if p["crit_count"] is None else Range.above(p["crit_count"] - 1)
    return (
        Metric("matches", count, "c", warn=warn, crit=crit, min=0),
        Metric("lines", lines, "c", min=0),
    )
