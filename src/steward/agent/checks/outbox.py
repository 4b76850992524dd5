"""Deliver check results as soon as they exist, in order, through outages.

The alert engine evaluates results on arrival and the target is a notification within a
second of a fault, so a result is sent at once; results that become ready within
``coalesce`` (100 ms) of the first one share its POST. Sending runs on its own thread with
its own HTTP client, so a slow inventory upload or metrics replay never holds a result.

Delivery rules (``docs/agent-protocol.md`` § Checks):

* results reach the server in the order they were produced: while older results wait in
  the spool, newer ones queue behind them (a replayed *critical* arriving after a newer
  *ok* would re-open an alert);
* no answer (connection refused, timeout, 5xx): the batch is spooled and sending backs off
  (capped, jittered); results produced meanwhile are spooled every ``spool_after``
  seconds so that a crash during an outage loses little; after recovery the spool is
  replayed oldest first, then live sending resumes. Old results are still sent: the
  server stores them and only declines to page for them;
* a 400/413/422 (other than ``clock_skew``) means the batch can never be accepted: it is
  dropped and counted rather than blocking every later result;
* another refusal (a server without the endpoint, ``clock_skew``) keeps the results and
  pauses sending with a growing delay;
* a revoked device or an unknown credential ends the agent (``on_fatal``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from steward.agent.backoff import Backoff
from steward.agent.checks.result_spool import ResultSpool, SpooledBatch
from steward.agent.client import (
    DeviceRevoked,
    InvalidCredential,
    RequestRejected,
    ServerUnavailable,
)
from steward.agent.protocol import (
    CODE_CLOCK_SKEW,
    MAX_RESULTS_PER_POST,
    RESULTS_COALESCE_SECONDS,
)

logger = logging.getLogger(__name__)

DROP_STATUSES = frozenset({400, 413, 422})
SPOOL_AFTER_SECONDS = 5.0


class ResultSender(Protocol):
    def send_check_results(self, results: list[dict[str, Any]]) -> dict[str, Any]: ...


class ResultOutbox:
    def __init__(
        self,
        sender: ResultSender,
        spool: ResultSpool,
        *,
        on_fatal: Callable[[DeviceRevoked | InvalidCredential], None],
        coalesce: float = RESULTS_COALESCE_SECONDS,
        spool_after: float = SPOOL_AFTER_SECONDS,
        initial_backoff: float = 1.0,
        max_backoff: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sender = sender
        self.spool = spool
        self.coalesce = coalesce
        self.spool_after = spool_after
        self.sent_results = 0
        self.rejected_results = 0
        self._on_fatal = on_fatal
        self._clock = clock
        self._backoff = Backoff(initial_backoff, max_backoff)
        self._cond = threading.Condition()
        self._pending: list[dict[str, Any]] = []
        self._pending_since = 0.0
        self._inflight: list[dict[str, Any]] | None = None  # a live batch being sent
        self._retry_at = 0.0
        self._holds = 0
        self._last_problem: str | None = None
        self._closed = False
        self._thread = threading.Thread(
            target=self._loop, name="steward-check-results", daemon=True
        )

    @property
    def dropped_results(self) -> int:
        return self.spool.dropped_results + self.rejected_results

    def start(self) -> None:
        self._thread.start()

    def put(self, result: dict[str, Any]) -> bool:
        """Queue one result for sending; ``False`` once closed (the result is not kept)."""
        with self._cond:
            if self._closed:
                return False
            if not self._pending:
                self._pending_since = self._clock()
            self._pending.append(result)
            self._cond.notify_all()
            return True

    def server_reachable(self) -> None:
        """Another request just got an answer: if sending waits out a backoff after a
        failed connection, try again now instead of up to ``max_backoff`` later. A pause
        after a refusal is kept (the server answered that one too)."""
        with self._cond:
            if self._backoff.failures and not self._holds and self._retry_at > self._clock():
                self._retry_at = self._clock()
                self._cond.notify_all()

    def close(self, grace: float = 0.5) -> None:
        """Stop sending; whatever was not delivered goes to the spool for the next start.

        Waits ``grace`` seconds for a request in flight; past that its batch is spooled
        too, and may reach the server twice (it de-duplicates by check and observed_at:
        a duplicate is better than a lost result)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(grace)
        with self._cond:
            leftover = ([*self._inflight] if self._inflight else []) + self._pending
            self._pending, self._inflight = [], None
        if leftover:
            self._spool(leftover)

    # -- the sender thread ------------------------------------------------------------

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                now = self._clock()
                if now < self._retry_at:
                    # Server away: keep results on disk, not only in memory, while waiting.
                    if self._pending and (
                        now - self._pending_since >= self.spool_after
                        or len(self._pending) >= MAX_RESULTS_PER_POST
                    ):
                        self._spool_pending()
                        continue
                    wake = self._retry_at
                    if self._pending:
                        wake = min(wake, self._pending_since + self.spool_after)
                    self._cond.wait(wake - now)
                    continue
                oldest = self.spool.oldest()
                if oldest is not None:
                    self._cond.release()
                    try:
                        self._replay(oldest)
                    finally:
                        self._cond.acquire()
                    continue
                if not self._pending:
                    self._cond.wait()
                    continue
                linger = self._pending_since + self.coalesce - now
                if linger > 0 and len(self._pending) < MAX_RESULTS_PER_POST:
                    self._cond.wait(linger)
                    continue
                batch = self._pending[:MAX_RESULTS_PER_POST]
                del self._pending[:MAX_RESULTS_PER_POST]
                self._pending_since = self._clock()
                self._inflight = batch
                self._cond.release()
                try:
                    self._deliver_live(batch)
                finally:
                    self._cond.acquire()

    def _deliver_live(self, batch: list[dict[str, Any]]) -> None:
        outcome = self._send(batch)
        with self._cond:
            if self._inflight is not batch:
                return  # close() took it over (and spooled it)
            self._inflight = None
            if outcome == "keep":
                # Under the lock, so that close() cannot spool the newer pending results
                # first: the spool must stay in production order.
                self._spool(batch)

    def _replay(self, batch: SpooledBatch) -> None:
        results = self.spool.read(batch)
        if results is None:
            return  # unreadable: dropped and counted
        outcome = self._send(results, replay=True)
        if outcome == "keep":
            return
        if outcome == "drop":
            self.spool.drop(batch, "refused by the server")
        else:
            self.spool.ack(batch)

    def _send(self, results: list[dict[str, Any]], *, replay: bool = False) -> str:
        """``"sent"``, ``"drop"`` (never acceptable) or ``"keep"`` (try again later)."""
        try:
            answer = self.sender.send_check_results(results)
        except (DeviceRevoked, InvalidCredential) as error:
            with self._cond:
                self._closed = True
            self._on_fatal(error)
            return "keep"
        except ServerUnavailable as error:
            delay = self._backoff.next_delay()
            level = logging.WARNING if self._backoff.failures == 1 else logging.DEBUG
            logger.log(level, "cannot send check results (%s); keeping them, retrying in "
                       "%.1f s", error, delay)  # fmt: skip
            self._hold(delay)
            return "keep"
        except RequestRejected as error:
            if error.status in DROP_STATUSES and error.code != CODE_CLOCK_SKEW:
                if not replay:
                    self.rejected_results += len(results)
                logger.error("server refused %d check results (%s); dropped them",
                             len(results), error)  # fmt: skip
                return "drop"
            delay = min(900.0, 30.0 * 2**self._holds)
            self._holds += 1
            problem = f"{error.status}:{error.code}"
            level = logging.DEBUG if problem == self._last_problem else logging.ERROR
            logger.log(level, "server refused check results (%s); keeping them, next try in "
                       "%.0f s", error, delay)  # fmt: skip
            self._last_problem = problem
            self._hold(delay)
            return "keep"
        if self._backoff.failures or self._holds:
            logger.info("check results are delivered again")
        self._backoff.reset()
        self._holds = 0
        self._last_problem = None
        self.sent_results += len(results)
        unknown = answer.get("unknown_checks")
        if isinstance(unknown, list) and unknown:
            logger.debug("the server does not know checks %s (unassigned meanwhile)", unknown)
        return "sent"

    def _hold(self, delay: float) -> None:
        with self._cond:
            self._retry_at = self._clock() + delay

    def _spool_pending(self) -> None:
        """Move the pending results to the spool (called with the lock held)."""
        pending, self._pending = self._pending, []
        self._spool(pending)

    def _spool(self, results: list[dict[str, Any]]) -> None:
        for start in range(0, len(results), MAX_RESULTS_PER_POST):
            chunk = results[start : start + MAX_RESULTS_PER_POST]
            try:
                self.spool.write(chunk)
            except OSError as error:
                self.rejected_results += len(chunk)
                logger.error("cannot spool %d check results (lost): %s", len(chunk), error)
