"""Turn raw agent metrics into the inputs the default rules read (pure, no Django).

The engine compares one metric with a threshold; the default pack needs ratios of two
metrics (filesystem used = 1 - avail/size, memory available = MemAvailable/MemTotal, swap
used, load per core) and a rate (CPU busy from ``node_cpu_seconds_total`` counters).
``Deriver`` computes them per device from each batch an agent posts (node_exporter names,
see steward/agent/metrics/collectors.py). CPU needs the previous batch's counters: they
are kept in memory per device (a restarted server simply skips one interval).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping

FS_USED = "steward_filesystem_used_ratio"
MEM_AVAILABLE = "steward_memory_available_ratio"
SWAP_USED = "steward_swap_used_ratio"
LOAD_PER_CORE = "steward_load_per_core"
CPU_BUSY = "steward_cpu_busy_ratio"
DERIVED = frozenset({FS_USED, MEM_AVAILABLE, SWAP_USED, LOAD_PER_CORE, CPU_BUSY})

NEEDED = frozenset({
    "node_filesystem_avail_bytes", "node_filesystem_size_bytes",
    "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes",
    "node_memory_SwapTotal_bytes", "node_memory_SwapFree_bytes",
    "node_load1", "node_cpu_seconds_total",
})  # fmt: skip
# File systems whose fullness is meaningless or expected (node_exporter's defaults).
PSEUDO_FS = frozenset({"tmpfs", "devtmpfs", "squashfs", "overlay", "ramfs", "iso9660"})

Point = tuple[str, dict[str, str], float, float]  # metric, extra labels, ts (s), value


class Deriver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cpu: dict[str, tuple[float, float, float]] = {}  # device -> (ts, idle, total)
        self._cores: dict[str, int] = {}

    def derive(self, device: str, samples: Iterable[tuple[str, Mapping[str, str], float, float]]
               ) -> list[Point]:  # fmt: skip
        """``samples``: (metric, labels, ts seconds, value) of one device's batch."""
        fs: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        mem: dict[str, float] = {}
        cpu_idle = cpu_total = 0.0
        cpus: set[str] = set()
        ts_max = 0.0
        load: float | None = None
        for name, labels, ts, value in samples:
            ts_max = max(ts_max, ts)
            if name.startswith("node_filesystem_"):
                if labels.get("fstype", "") in PSEUDO_FS:
                    continue
                key = (labels.get("mountpoint", ""), labels.get("device", ""))
                fs[key][name] = value
            elif name.startswith("node_memory_"):
                mem[name] = value
            elif name == "node_load1":
                load = value
            elif name == "node_cpu_seconds_total":
                cpus.add(labels.get("cpu", ""))
                cpu_total += value
                if labels.get("mode") in ("idle", "iowait"):
                    cpu_idle += value
        out: list[Point] = []
        for (mount, _dev), values in fs.items():
            size = values.get("node_filesystem_size_bytes")
            avail = values.get("node_filesystem_avail_bytes")
            if size and avail is not None:
                out.append((FS_USED, {"mountpoint": mount}, ts_max, 1.0 - avail / size))
        total = mem.get("node_memory_MemTotal_bytes")
        avail = mem.get("node_memory_MemAvailable_bytes")
        if total and avail is not None:
            out.append((MEM_AVAILABLE, {}, ts_max, avail / total))
        swap_total = mem.get("node_memory_SwapTotal_bytes")
        swap_free = mem.get("node_memory_SwapFree_bytes")
        if swap_total and swap_free is not None:
            out.append((SWAP_USED, {}, ts_max, (swap_total - swap_free) / swap_total))
        with self._lock:
            if cpus:
                self._cores[device] = len(cpus)
                previous = self._cpu.get(device)
                self._cpu[device] = (ts_max, cpu_idle, cpu_total)
                if previous is not None and cpu_total > previous[2]:
                    busy = 1.0 - (cpu_idle - previous[1]) / (cpu_total - previous[2])
                    out.append((CPU_BUSY, {}, ts_max, min(max(busy, 0.0), 1.0)))
            cores = self._cores.get(device)
        if load is not None and cores:
            out.append((LOAD_PER_CORE, {}, ts_max, load / cores))
        return out


DERIVER = Deriver()
