"""Collection rounds: run every due collector within its time budget, count what failed.

A collector that raises is logged and counted, and the round goes on without it. A
collector that overruns its budget (default 2 s: a hung NFS ``statvfs``, a huge
/proc/net/tcp) is skipped for that round and counted; while it is still stuck it is not
started again. Collectors run one after another on a worker thread so that the engine can
stop waiting; a worker stuck in a collector is abandoned and a fresh one takes the rest
(the stuck one exits when its call returns). Normally that is one thread, idle between
rounds.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from steward.agent.metrics.collectors import (
    AgentCollector,
    Collector,
    CpuCollector,
    DiskstatsCollector,
    FilesystemCollector,
    Host,
    LoadCollector,
    MeminfoCollector,
    NetdevCollector,
    NetstatCollector,
    ProcessesCollector,
    Sample,
    TcpstatCollector,
    TimeCollector,
    UnameCollector,
)
from steward.agent.metrics.hwmon import HwmonCollector
from steward.agent.metrics.processes import TopProcessesCollector
from steward.agent.metrics.smart import SmartCollector

logger = logging.getLogger(__name__)

DEFAULT_BUDGET = 2.0
# How often the engine looks at the stop event while it waits for a collector.
_POLL = 0.1


def default_collectors(root: Path | str = "/") -> list[Collector]:
    """Every Linux collector, reading below ``root``."""
    host = Host(root)
    return [
        CpuCollector(host),
        LoadCollector(host),
        MeminfoCollector(host),
        FilesystemCollector(host),
        DiskstatsCollector(host),
        NetdevCollector(host),
        NetstatCollector(host),
        TcpstatCollector(host),
        ProcessesCollector(host),
        TopProcessesCollector(host),
        TimeCollector(host),
        HwmonCollector(host),
        UnameCollector(host),
        SmartCollector(),
        AgentCollector(host),
    ]


@dataclass(slots=True)
class Round:
    """One collection round: every sample shares the round's timestamp."""

    timestamp_ms: int
    samples: list[Sample]


@dataclass(slots=True)
class CollectorStats:
    errors: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    duration: dict[str, float] = field(default_factory=dict)

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())


class _Job:
    __slots__ = ("collector", "done", "duration", "error", "result")

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.done = threading.Event()
        self.result: list[Sample] | None = None
        self.error: BaseException | None = None
        self.duration = 0.0


class _Worker:
    """A daemon thread running jobs in order until retired."""

    def __init__(self, on_finished: Callable[[_Job], None]) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._on_finished = on_finished
        self._thread = threading.Thread(target=self._run, name="steward-collector", daemon=True)
        self._thread.start()

    def submit(self, job: _Job) -> None:
        self._jobs.put(job)

    def retire(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            started = time.perf_counter()
            try:
                job.result = list(job.collector.collect())
            except Exception as error:  # a collector's failure is reported, never fatal
                job.error = error
            job.duration = time.perf_counter() - started
            job.done.set()
            self._on_finished(job)


class MetricsEngine:
    """Runs ``collectors`` each round; ``clock`` is wall time for timestamps, ``monotonic``
    decides which collectors with a ``period`` are due."""

    def __init__(
        self,
        collectors: Sequence[Collector] | None = None,
        *,
        budget: float = DEFAULT_BUDGET,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.collectors = list(collectors if collectors is not None else default_collectors())
        self.budget = budget
        self.stats = CollectorStats()
        self._clock = clock
        self._monotonic = monotonic
        self._last_run: dict[str, float] = {}
        self._stuck: set[str] = set()
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._hosts = {
            id(h): h for c in self.collectors if isinstance(h := getattr(c, "host", None), Host)
        }

    def collect(self, stop: threading.Event | None = None) -> Round:
        """One round of every due collector (stops waiting early once ``stop`` is set)."""
        timestamp_ms = int(self._clock() * 1000)
        now = self._monotonic()
        for host in self._hosts.values():
            host.new_round()
        samples: list[Sample] = []
        for collector in self.collectors:
            if stop is not None and stop.is_set():
                break
            last = self._last_run.get(collector.name)
            if last is not None and collector.period and now - last < collector.period - 0.05:
                continue
            with self._lock:
                stuck = collector.name in self._stuck
            if stuck:
                self._skip(collector.name, "is still running from an earlier round")
                continue
            self._last_run[collector.name] = now
            result = self._run(collector, stop)
            if result is not None:
                samples.extend(result)
        samples.extend(self._own_samples())
        return Round(timestamp_ms, [s for s in samples if _finite(s[2])])

    def _run(self, collector: Collector, stop: threading.Event | None) -> list[Sample] | None:
        if self._worker is None:
            self._worker = _Worker(self._finished)
        job = _Job(collector)
        self._worker.submit(job)
        deadline = time.monotonic() + self.budget
        while not job.done.wait(min(_POLL, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                with self._lock:
                    if job.done.is_set():
                        break
                    self._stuck.add(collector.name)
                # Leave the worker to the stuck call; later collectors get a new one.
                self._worker.retire()
                self._worker = None
                self._skip(collector.name, f"overran its {self.budget:g} s budget")
                return None
        self.stats.duration[collector.name] = job.duration
        if job.error is not None:
            self.stats.errors[collector.name] += 1
            first = self.stats.errors[collector.name] == 1
            logger.log(
                logging.WARNING if first else logging.DEBUG,
                "metrics collector %r failed: %s",
                collector.name,
                job.error,
                exc_info=job.error if first else None,
            )
            return None
        return job.result

    def _finished(self, job: _Job) -> None:
        with self._lock:
            self._stuck.discard(job.collector.name)

    def _skip(self, name: str, why: str) -> None:
        self.stats.skipped[name] += 1
        level = logging.WARNING if self.stats.skipped[name] == 1 else logging.DEBUG
        logger.log(level, "metrics collector %r skipped this round: it %s", name, why)

    def _own_samples(self) -> Iterable[Sample]:
        for collector in self.collectors:
            name = collector.name
            yield ("steward_agent_collector_errors_total", (name,), self.stats.errors[name])
            yield ("steward_agent_collector_skipped_total", (name,), self.stats.skipped[name])
            if name in self.stats.duration:
                yield ("steward_agent_collector_duration_seconds", (name,),
                       round(self.stats.duration[name], 6))  # fmt: skip

    def close(self) -> None:
        if self._worker is not None:
            self._worker.retire()
            self._worker = None


def _finite(value: float) -> bool:
    # JSON has no NaN or infinity; a sensor reporting one has nothing to say this round.
    return isinstance(value, int) or math.isfinite(value)
