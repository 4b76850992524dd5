"""``disk``: free space (percent and bytes) and free inodes of a mounted file system."""

from __future__ import annotations

import os
from typing import Any

from steward.checks.base import CheckResult, CheckSpec, Metric, Status, grade
from steward.checks.common import falling, require_order
from steward.checks.registry import Check, Context, Kind, Param, Side, register


@register
class DiskCheck(Check):
    name = "disk"
    summary = "Free space (% and bytes) and free inodes (%) of a mount point"
    side = Side.AGENT
    target_help = "mount point or any path on the file system"
    params = (
        Param("warn_free_pct", Kind.FLOAT, "warning below this free %", default=10.0, maximum=100),
        Param("crit_free_pct", Kind.FLOAT, "critical below this free %", default=5.0, maximum=100),
        Param("warn_free_bytes", Kind.INT, "warning below this many free bytes", minimum=0),
        Param("crit_free_bytes", Kind.INT, "critical below this many free bytes", minimum=0),
        Param("warn_inodes_pct", Kind.FLOAT, "warning below this free inode %", maximum=100),
        Param("crit_inodes_pct", Kind.FLOAT, "critical below this free inode %", maximum=100),
    )

    def check_params(self, values: dict[str, Any], spec: CheckSpec) -> None:
        for warn, crit in (
            ("warn_free_pct", "crit_free_pct"),
            ("warn_free_bytes", "crit_free_bytes"),
            ("warn_inodes_pct", "crit_inodes_pct"),
        ):
            require_order(values, warn, crit, rising=False)

    def execute(self, ctx: Context) -> CheckResult:
        p = ctx.params
        path = ctx.spec.target
        st = os.statvfs(path)
        # f_bavail, not f_bfree: the blocks reserved for root (5% on ext4 by default) are
        # not available to the services being monitored; df(1) computes "Use%" the same way.
        total = st.f_blocks * st.f_frsize
        free = st.f_bavail * st.f_frsize
        usable = (st.f_blocks - st.f_bfree + st.f_bavail) * st.f_frsize
        free_pct = 100.0 * free / usable if usable else 0.0
        metrics = []
        statuses = []
        rules = (
            ("free_pct", free_pct, "%", "warn_free_pct", "crit_free_pct", 100.0),
            ("free", float(free), "B", "warn_free_bytes", "crit_free_bytes", float(total)),
        )
        for name, value, unit, wkey, ckey, top in rules:
            warn, crit = falling(p[wkey]), falling(p[ckey])
            metrics.append(Metric(name, round(value, 2), unit, warn, crit, min=0, max=top))
            statuses.append(grade(value, warn, crit))
        message = f"{path}: {free_pct:.1f}% free ({_human(free)} of {_human(total)})"
        if st.f_files:  # some file systems (btrfs, NFS, FAT) report no inode counts
            inode_pct = 100.0 * st.f_favail / st.f_files
            warn, crit = falling(p["warn_inodes_pct"]), falling(p["crit_inodes_pct"])
            metrics.append(Metric("inodes_free_pct", round(inode_pct, 2), "%", warn, crit, 0, 100))
            statuses.append(grade(inode_pct, warn, crit))
            message += f", inodes {inode_pct:.1f}% free"
        return CheckResult(Status.worst(*statuses), message, perfdata=tuple(metrics))


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} PiB"  # pragma: no cover - unreachable
