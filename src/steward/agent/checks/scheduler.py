"""Each check on its own interval, run by a small bounded pool of worker threads.

Rules:

* A check never overlaps itself: its next run is dispatched only once the previous one
  returned, so a stuck check holds one worker at most, for at most its timeout + 1 s
  (``steward.checks.run`` enforces that bound), and the other workers keep the other
  checks on time.
* Runs keep a fixed rate (next due = previous due + interval, no drift). A run that
  overran its interval is followed at once by the next one, and after a stall (suspend,
  a stuck disk) the schedule restarts from now rather than firing a burst of catch-up runs.
* A new check's first run is jittered over ``min(interval, MAX_FIRST_JITTER)`` so that
  checks (and agents started together) spread out; a 24 h check still reports within a
  minute of its assignment.
* A re-fetched assignment leaves unchanged checks on their schedule.

Workers are daemon threads, created on demand up to ``workers``: the agent must stop
within about a second, and a check stuck in a 300 s timeout must not hold the process.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from steward.agent.checks.assignment import AssignedCheck

logger = logging.getLogger(__name__)

DEFAULT_WORKERS = 8
MAX_FIRST_JITTER = 30.0


@dataclass(eq=False, slots=True)
class _Entry:
    check: AssignedCheck
    interval: float
    next_due: float


class CheckScheduler:
    """Calls ``execute(check)`` in a worker whenever a check is due."""

    def __init__(
        self,
        execute: Callable[[AssignedCheck], None],
        *,
        workers: int = DEFAULT_WORKERS,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._execute = execute
        self._max_workers = max(1, workers)
        self._clock = clock
        self._rand = rand
        self._cond = threading.Condition()
        self._entries: dict[int, _Entry] = {}
        # Ids, not entries: a check re-configured mid-run must still wait for that run.
        self._running: set[int] = set()
        self._jobs: queue.SimpleQueue[_Entry | None] = queue.SimpleQueue()
        self._workers = 0
        # Workers waiting for a job, minus jobs waiting for a worker (negative when busy).
        self._idle = 0
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="steward-checks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def assign(self, checks: Iterable[AssignedCheck]) -> None:
        """Replace the scheduled set with the runnable ``checks``."""
        now = self._clock()
        with self._cond:
            previous, self._entries = self._entries, {}
            for check in checks:
                if check.spec is None:
                    continue
                old = previous.get(check.check_id)
                if old is not None and old.check.fingerprint == check.fingerprint:
                    self._entries[check.check_id] = old
                    continue
                interval = float(check.spec.interval)
                first = now + self._rand() * min(interval, MAX_FIRST_JITTER)
                if old is not None:  # re-configured: no later than it was due anyway
                    first = min(first, old.next_due)
                self._entries[check.check_id] = _Entry(check, interval, first)
            self._cond.notify_all()

    def close(self, timeout: float = 1.0) -> None:
        """Stop dispatching; idle workers exit, busy ones once their check returns."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            workers = self._workers
        for _ in range(workers):
            self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                now = self._clock()
                wait: float | None = None
                for entry in list(self._entries.values()):
                    if entry.check.check_id in self._running:
                        continue
                    if entry.next_due <= now:
                        self._dispatch(entry, now)
                    else:
                        remaining = entry.next_due - now
                        wait = remaining if wait is None else min(wait, remaining)
                self._cond.wait(wait)

    def _dispatch(self, entry: _Entry, now: float) -> None:
        self._running.add(entry.check.check_id)
        entry.next_due += entry.interval
        if entry.next_due <= now:
            entry.next_due = now + entry.interval
        if self._idle <= 0 and self._workers < self._max_workers:
            self._workers += 1
            name = f"steward-check-worker-{self._workers}"
            threading.Thread(target=self._work, name=name, daemon=True).start()
        else:
            self._idle -= 1
        self._jobs.put(entry)

    def _work(self) -> None:
        while True:
            entry = self._jobs.get()
            if entry is None:
                return
            try:
                self._execute(entry.check)
            except Exception:  # a bug in the glue must not kill the worker and its check
                logger.exception("check %d: unexpected error", entry.check.check_id)
            with self._cond:
                self._running.discard(entry.check.check_id)
                self._idle += 1
                if self._closed:
                    return
                self._cond.notify_all()
