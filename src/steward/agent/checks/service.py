"""The agent's check runner: assignment in, results out.

``AgentRunner`` owns the conversation with the server and calls in here: it fetches the
assignment when ``next_fetch`` is due (on start, when a heartbeat answer names another
``checks_revision`` — ``note_revision`` — and at least every 5 minutes) and hands the
answer to ``apply``. From there this package works on its own threads: the scheduler runs
each check at its interval in a bounded pool (``scheduler``), each result goes straight to
the outbox, which posts it within ~100 ms and keeps it through outages (``outbox``,
``result_spool``), and stateful checks get their state back, across restarts too
(``state_store``).

The last assignment is kept in ``<state_dir>/checks.json``: an agent that starts while
the server is down runs its checks anyway and delivers the results when it is back.

Threads: the runner's (``apply``, ``note_revision``), the scheduler's, the workers' and the
sender's. A revoked device or unknown credential seen by the sender sets ``fatal`` and the
runner's ``stop`` event, so the runner ends with the same exit status as for its own calls.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward.agent.backoff import Backoff
from steward.agent.checks.assignment import (
    AssignedCheck,
    Assignment,
    MalformedAssignment,
    parse_assignment,
)
from steward.agent.checks.outbox import ResultOutbox, ResultSender
from steward.agent.checks.result_spool import DEFAULT_MAX_BYTES, RESULTS_SPOOL_DIR, ResultSpool
from steward.agent.checks.scheduler import DEFAULT_WORKERS, CheckScheduler
from steward.agent.checks.state_store import STATE_FILE, CheckStateStore
from steward.agent.client import DeviceRevoked, InvalidCredential
from steward.agent.protocol import CHECKS_FETCH_INTERVAL, MAX_STRING, RESULTS_COALESCE_SECONDS

if TYPE_CHECKING:
    from steward.checks import CheckResult

logger = logging.getLogger(__name__)

ASSIGNMENT_FILE = "checks.json"
MAX_DETAILS = 8 * 1024


def result_to_wire(check_id: int, result: CheckResult) -> dict[str, Any]:
    """One entry of a check-results POST: ``CheckResult.to_dict()`` plus ``check_id``.

    ``state`` is sent as ``null``: it is the agent's bookkeeping (file offsets and inodes),
    kept here. Texts are capped (a plugin may print megabytes) and non-finite numbers,
    which JSON cannot carry, become ``null``."""
    wire = {"check_id": check_id, **result.to_dict(), "state": None}
    wire["message"] = wire["message"][:MAX_STRING]
    wire["details"] = wire["details"][:MAX_DETAILS]
    wire["latency_ms"] = _finite(wire["latency_ms"])
    for metric in wire["perfdata"]:
        for key in ("value", "min", "max"):
            metric[key] = _finite(metric[key])
    return wire


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def load_cached_assignment(state_dir: Path) -> Assignment | None:
    """The assignment saved by the last successful fetch, if readable."""
    try:
        data = json.loads((state_dir / ASSIGNMENT_FILE).read_text(encoding="utf-8"))
        return parse_assignment(data) if isinstance(data, dict) else None
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        logger.warning("ignoring the saved check assignment: %s", error)
        return None


class ChecksService:
    def __init__(
        self,
        sender: ResultSender,
        state_dir: Path,
        *,
        workers: int = DEFAULT_WORKERS,
        coalesce: float = RESULTS_COALESCE_SECONDS,
        fetch_interval: float = CHECKS_FETCH_INTERVAL,
        spool_max_bytes: int = DEFAULT_MAX_BYTES,
        fsync: bool = True,
        initial_backoff: float = 1.0,
        max_backoff: float = 30.0,
        spool_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.state_dir = state_dir
        self.fetch_interval = fetch_interval
        self.states = CheckStateStore(state_dir / STATE_FILE)
        self.spool = ResultSpool(state_dir / RESULTS_SPOOL_DIR, spool_max_bytes, fsync=fsync)
        self.outbox = ResultOutbox(
            sender,
            self.spool,
            on_fatal=self._on_fatal,
            coalesce=coalesce,
            spool_after=spool_after,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
            clock=clock,
        )
        self.scheduler = CheckScheduler(self._execute, workers=workers, clock=clock, rand=rand)
        self.assignment = load_cached_assignment(state_dir)
        # The revision of the last *fetched* assignment: a cached one is refetched anyway.
        self.revision: str | None = None
        self._announced: str | None = None  # the last revision a heartbeat named
        self.fatal: DeviceRevoked | InvalidCredential | None = None
        self._clock = clock
        self.next_fetch = clock()
        self._fetch_backoff = Backoff(5.0, fetch_interval, rand)
        self._lock = threading.Lock()
        self._closed = False
        self._reported: dict[int, str] = {}  # check id -> fingerprint reported as unknown
        self._stop: threading.Event | None = None

    def start(self, stop: threading.Event) -> None:
        """Start the threads; ``stop`` is set if the server ends this device's service."""
        self._stop = stop
        self.outbox.start()
        self.scheduler.start()
        if self.assignment is not None:
            self.scheduler.assign(self.assignment.checks)

    def close(self) -> None:
        """Stop within about a second: runs in progress are abandoned (their results and
        state changes discarded together, so a log check re-reads those lines after the
        restart rather than skipping them), queued results are spooled."""
        with self._lock:
            self._closed = True
        self.scheduler.close(timeout=0.5)
        self.outbox.close(grace=0.5)
        self.states.flush()

    def note_revision(self, revision: str) -> None:
        """A heartbeat answer named the current revision: refetch at once if it is neither
        ours nor one already announced, unless fetches are failing (then the retry keeps
        its backoff: a broken endpoint is not hit on every heartbeat)."""
        failing = self._fetch_backoff.failures > 0
        if revision not in (self.revision, self._announced) and not failing:
            self.next_fetch = min(self.next_fetch, self._clock())
        self._announced = revision

    def server_reachable(self) -> None:
        """The runner's last request was answered: results waiting out a backoff go now."""
        self.outbox.server_reachable()

    def fetch_failed(self, *, transient: bool = False) -> float:
        """The fetch failed: retry with a growing delay (no answer, a 5xx) or at the next
        regular fetch (a refusal, an answer that is not an assignment). Returns the delay."""
        delay = self._fetch_backoff.next_delay() if transient else self.fetch_interval
        self.next_fetch = self._clock() + delay
        return delay

    @property
    def fetch_failures(self) -> int:
        """Consecutive transient fetch failures (0 after a successful fetch)."""
        return self._fetch_backoff.failures

    def apply(self, data: Mapping[str, Any]) -> Assignment:
        """Adopt a fetched assignment. Raises ``MalformedAssignment`` (nothing changes)."""
        assignment = parse_assignment(data)
        self.next_fetch = self._clock() + self.fetch_interval
        self._fetch_backoff.reset()
        changed = self.assignment is None or self.assignment.checks != assignment.checks
        self.revision = assignment.revision
        self.assignment = assignment
        if changed:
            self._save(data)
            runnable = sum(1 for check in assignment.checks if check.runnable)
            logger.info("running %d checks (revision %s); %d not runnable here", runnable,
                        assignment.revision, len(assignment.checks) - runnable)  # fmt: skip
        self._report_problems(assignment)
        self.scheduler.assign(assignment.checks)
        self.states.retain({check.check_id for check in assignment.checks})
        return assignment

    def _report_problems(self, assignment: Assignment) -> None:
        """An ``unknown`` result, once per check and configuration, for what we cannot run:
        the server shows why instead of a check that silently never reports."""
        current: dict[int, str] = {}
        for check in assignment.checks:
            if check.problem is None:
                continue
            current[check.check_id] = check.fingerprint
            if self._reported.get(check.check_id) != check.fingerprint:
                from steward.checks import CheckResult, Status  # see assignment.py

                logger.warning("check %d: %s", check.check_id, check.problem)
                self.outbox.put(result_to_wire(check.check_id, CheckResult(
                    Status.UNKNOWN, check.problem)))  # fmt: skip
        self._reported = current

    def _execute(self, check: AssignedCheck) -> None:
        """One run, in a worker thread."""
        spec = check.spec
        if spec is None:
            return
        from steward.checks import Side, run  # loaded by the assignment already

        result = run(spec, self.states.get(check.check_id, spec), side=Side.AGENT)
        with self._lock:
            if self._closed:
                return
            self.states.put(check.check_id, spec, result.state)
            self.outbox.put(result_to_wire(check.check_id, result))

    def _on_fatal(self, error: DeviceRevoked | InvalidCredential) -> None:
        self.fatal = error
        if self._stop is not None:
            self._stop.set()

    def _save(self, data: Mapping[str, Any]) -> None:
        path = self.state_dir / ASSIGNMENT_FILE
        temporary = path.with_name(f".{ASSIGNMENT_FILE}.tmp")
        try:
            temporary.write_text(json.dumps(data), encoding="utf-8")
            os.replace(temporary, path)
        except (OSError, TypeError, ValueError) as error:
            logger.error("cannot save the check assignment to %s: %s", path, error)


__all__ = ["ChecksService", "MalformedAssignment", "result_to_wire"]
