"""The busiest processes, bounded: the top ``TOP_PROCESSES`` by CPU and by memory.

One pass over /proc/<pid>/stat (a single read per process gives name, CPU ticks, threads,
start time and RSS: cheaper than psutil's per-attribute reads) at most every ``period``
seconds, whatever the collection interval: a full process scan is the agent's costliest
work and per-process series are for finding culprits, not for 1-second graphs.

The CPU ranking is by CPU used since the previous scan (a process busy now, not one that
has been running for a month); the counter sent is the cumulative CPU time, as for every
counter. A process is identified by (pid, start time), so a recycled pid is a new process.
"""

from __future__ import annotations

import heapq
import os

from steward.agent.metrics.collectors import CLOCK_TICKS, PAGE_SIZE, Host, Sample
from steward.agent.metrics.families import TOP_PROCESSES
from steward.agent.metrics.procfs import PidStat, parse_pid_stat

# The kernel cuts comm to 15 characters (TASK_COMM_LEN - 1); longer names are recovered
# from the command line once per process, as psutil's Process.name() does.
COMM_MAX = 15


class TopProcessesCollector:
    name = "top_processes"
    period = 10.0

    def __init__(self, host: Host, top: int = TOP_PROCESSES) -> None:
        self.host = host
        self.top = top
        self._previous_ticks: dict[tuple[int, int], int] = {}
        self._names: dict[tuple[int, int], str] = {}

    def scan(self) -> list[PidStat]:
        processes: list[PidStat] = []
        for entry in os.listdir(self.host.path("proc")):
            if not entry.isdigit():
                continue
            try:
                processes.append(parse_pid_stat(self.host.read(f"proc/{entry}/stat")))
            except (OSError, ValueError, IndexError):
                continue  # exited between listdir and read, or a kernel we cannot parse
        return processes

    def collect(self) -> list[Sample]:
        processes = self.scan()
        previous = self._previous_ticks
        current = {(p.pid, p.start_ticks): p.cpu_ticks for p in processes}
        busiest = heapq.nlargest(
            self.top,
            processes,
            key=lambda p: p.cpu_ticks - previous.get((p.pid, p.start_ticks), 0),
        )
        largest = heapq.nlargest(self.top, processes, key=lambda p: p.rss_pages)
        self._previous_ticks = current
        self._names = {key: name for key, name in self._names.items() if key in current}
        samples: list[Sample] = [
            ("steward_process_cpu_seconds_total", self._labels(p), p.cpu_ticks / CLOCK_TICKS)
            for p in busiest
        ]
        samples += [
            ("steward_process_resident_memory_bytes", self._labels(p), p.rss_pages * PAGE_SIZE)
            for p in largest
        ]
        return samples

    def _labels(self, process: PidStat) -> tuple[str, str]:
        key = (process.pid, process.start_ticks)
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = self._full_name(process)
        return (str(process.pid), name)

    def _full_name(self, process: PidStat) -> str:
        if len(process.comm) < COMM_MAX:
            return process.comm
        try:
            cmdline = self.host.read(f"proc/{process.pid}/cmdline")
        except OSError:
            return process.comm
        argv0 = os.path.basename(cmdline.split("\x00", 1)[0])
        return argv0 if argv0.startswith(process.comm) else process.comm
