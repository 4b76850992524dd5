"""The agent's main loop: inventory on start and hourly, a heartbeat every few seconds,
(with a ``MetricsPipeline``) host metrics every collection interval, and (with a
``ChecksService``) the checks the server assigns.

The loop outlives the server: while it is unreachable the agent waits with capped,
jittered exponential backoff (a server restart must not be met by every agent at the same
instant) and resumes on its own. Only two answers end it, because retrying cannot change
them: a revoked device (exit 3) and an unknown credential (exit 4). Signals are the
CLI's business: the runner only watches the ``stop`` event, and sleeps on it so that a
stop request is honoured at once.

Metrics are collected on their own schedule whether or not the server answers: during an
outage the rounds go to the spool, and only the server requests wait for the backoff.

Checks run on their own threads (``steward.agent.checks``) and post their results
themselves, so that a result never waits behind an inventory upload; this loop only
fetches their assignment, like any other request it makes, and ends the agent when the
results sender is told the device is revoked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

from steward.agent.backoff import Backoff
from steward.agent.checks import ChecksService, MalformedAssignment
from steward.agent.client import (
    AgentClient,
    DeviceRevoked,
    InvalidCredential,
    RequestRejected,
    ServerUnavailable,
)
from steward.agent.inventory import collect_inventory
from steward.agent.metrics.pipeline import MetricsPipeline
from steward.agent.scrapes import ScrapeService
from steward.agent.state import AgentState

logger = logging.getLogger(__name__)

EXIT_STOPPED = 0
EXIT_REVOKED = 3
EXIT_INVALID_CREDENTIAL = 4

DEFAULT_HEARTBEAT_INTERVAL = 10.0
DEFAULT_INVENTORY_INTERVAL = 3600.0
# A misconfigured server answering 0 must not turn the agent into a busy loop.
MIN_INTERVAL = 1.0


def host_uptime() -> float:
    """Seconds since the machine booted (the heartbeat's ``uptime_seconds``)."""
    return round(max(0.0, time.time() - psutil.boot_time()), 1)


class AgentRunner:
    """Reports for the enrolled device in ``state`` until stopped or told to stop for good.

    ``clock`` (monotonic seconds) schedules the work; ``client``, ``collect`` and
    ``uptime`` default to the real ones and are replaceable so tests control the edges.
    """

    def __init__(
        self,
        state: AgentState,
        clock: Callable[[], float] = time.monotonic,
        *,
        client: AgentClient | None = None,
        collect: Callable[[], dict[str, Any]] = collect_inventory,
        uptime: Callable[[], float | None] = host_uptime,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        inventory_interval: float = DEFAULT_INVENTORY_INTERVAL,
        initial_backoff: float = 1.0,
        max_backoff: float = 60.0,
        metrics: MetricsPipeline | None = None,
        checks: ChecksService | None = None,
        scrapes: ScrapeService | None = None,
    ) -> None:
        self.state = state
        self._clock = clock
        self._owns_client = client is None
        self._client = client or AgentClient(
            state.server_url, credential=state.credential, ca_file=state.ca_file
        )
        self._collect = collect
        self._uptime = uptime
        self.heartbeat_interval = heartbeat_interval
        self.inventory_interval = inventory_interval
        self._backoff = Backoff(initial_backoff, max_backoff)
        now = clock()
        self._next_heartbeat = now
        self._next_inventory = now
        self._last_inventory: float | None = None
        self._pending: dict[str, Any] | None = None
        self._pending_since = now
        self._last_rejection: str | None = None
        self.metrics = metrics
        # Shares this runner's clock: its next_fetch is compared with self._clock().
        self.checks = checks
        # Exporters this agent scrapes for the server, on a thread of their own.
        self.scrapes = scrapes
        # No server request before this (monotonic) time: the backoff after an outage.
        self._retry_at = now

    def run(self, stop: threading.Event) -> int:
        """Loop until ``stop`` is set (returns 0), the device is revoked (3) or the
        credential is unknown (4)."""
        logger.info("reporting to %s as device %d", self.state.server_url, self.state.device_id)
        if self.checks is not None:
            self.checks.start(stop)
        if self.scrapes is not None:
            self.scrapes.start(stop)
        try:
            return self._loop(stop)
        finally:
            if self.scrapes is not None:
                self.scrapes.close()
            if self.checks is not None:
                self.checks.close()
            if self.metrics is not None:
                self.metrics.close()
            if self._owns_client:
                self._client.close()

    def _loop(self, stop: threading.Event) -> int:
        while not stop.is_set():
            if self.metrics is not None and self._clock() >= self.metrics.next_collect:
                self.metrics.collect(stop)
            if not stop.is_set() and self._clock() >= self._retry_at:
                try:
                    contacted = self._talk(stop)
                except (DeviceRevoked, InvalidCredential) as error:
                    return self._give_up(error)
                except ServerUnavailable as error:
                    delay = self._backoff.next_delay()
                    level = logging.WARNING if self._backoff.failures == 1 else logging.DEBUG
                    logger.log(level, "server unavailable (%s); retrying in %.1f s", error, delay)
                    self._retry_at = self._clock() + delay
                else:
                    if contacted and self._backoff.failures:
                        logger.info("server reachable again")
                        self._backoff.reset()
                    if contacted and self.checks is not None:
                        self.checks.server_reachable()
            stop.wait(max(0.0, self._next_due() - self._clock()))
        if self.checks is not None and self.checks.fatal is not None:
            return self._give_up(self.checks.fatal)  # seen by the check-results sender
        logger.info("stopped")
        return EXIT_STOPPED

    @staticmethod
    def _give_up(error: DeviceRevoked | InvalidCredential) -> int:
        if isinstance(error, DeviceRevoked):
            logger.error(
                "this device was revoked on the server (%s); stopping. "
                "To report again, enroll with a new token.",
                error.detail,
            )
            return EXIT_REVOKED
        logger.error(
            "the server does not accept this agent's credential (%s); stopping. "
            "Enroll again with a new token.",
            error.detail,
        )
        return EXIT_INVALID_CREDENTIAL

    def _talk(self, stop: threading.Event) -> bool:
        """The server requests that are due; returns whether any was made."""
        contacted = False
        # Checks first: on start they are what alerting waits for.
        if self.checks is not None and self._clock() >= self.checks.next_fetch:
            contacted = self._fetch_checks(self.checks)
        if not stop.is_set() and self._clock() >= self._next_inventory:
            self._send_inventory()
            contacted = True
        if not stop.is_set() and self._clock() >= self._next_heartbeat:
            self._send_heartbeat()
            contacted = True
        metrics = self.metrics
        if metrics is not None and not stop.is_set() and self._clock() >= metrics.next_ship:
            contacted = metrics.ship(self._client, stop) or contacted
        return contacted

    def _next_due(self) -> float:
        talk = min(self._next_heartbeat, self._next_inventory)
        if self.checks is not None:
            talk = min(talk, self.checks.next_fetch)
        if self.metrics is not None:
            talk = min(talk, self.metrics.next_ship)
        due = max(self._retry_at, talk)
        if self.metrics is not None:
            due = min(due, self.metrics.next_collect)
        return due

    def _fetch_checks(self, checks: ChecksService) -> bool:
        """Fetch and adopt the check assignment; returns whether the server answered."""
        try:
            checks.apply(self._client.fetch_checks())
        except ServerUnavailable as error:
            # Not the runner's backoff: a checks endpoint failing with 5xx must not stop
            # the heartbeats (the device would look offline). If the whole server is
            # away, the next request fails too and backs off as usual.
            delay = checks.fetch_failed(transient=True)
            level = logging.WARNING if checks.fetch_failures == 1 else logging.DEBUG
            logger.log(level, "cannot fetch the check assignment (%s); retrying in %.0f s",
                       error, delay)  # fmt: skip
            return False
        except RequestRejected as error:
            # A server without checks (404) or a refusal: the next regular fetch may work.
            self._note_rejection("checks fetch", error)
            checks.fetch_failed()
        except MalformedAssignment as error:
            logger.error("the server's check assignment is unusable (%s); keeping the "
                         "current checks", error)  # fmt: skip
            checks.fetch_failed()
        return True

    def _send_inventory(self) -> None:
        # A report kept through an outage is re-collected once it is older than one
        # interval: after a day offline the server wants today's software, not yesterday's.
        if self._pending is None or self._clock() - self._pending_since > self.inventory_interval:
            self._pending = self._collect()
            self._pending_since = self._clock()
        try:
            response = self._client.send_inventory(self._pending)
        except RequestRejected as error:
            # Resending the same report cannot succeed; try a fresh one next interval.
            self._note_rejection("inventory", error)
            self._pending = None
            self._next_inventory = self._clock() + self.inventory_interval
            return
        self._pending = None
        self._last_inventory = self._clock()
        self._next_inventory = self._last_inventory + self.inventory_interval
        logger.info("inventory sent (%s software entries accepted)", response.software_count)

    def _send_heartbeat(self) -> None:
        try:
            response = self._client.heartbeat(self._uptime())
        except RequestRejected as error:
            self._note_rejection("heartbeat", error)
            self._next_heartbeat = self._clock() + self.heartbeat_interval
            return
        self._last_rejection = None
        self._adopt_intervals(response.heartbeat_interval, response.inventory_interval)
        if self.checks is not None and response.checks_revision is not None:
            self.checks.note_revision(response.checks_revision)
        self._next_heartbeat = self._clock() + self.heartbeat_interval

    def _note_rejection(self, what: str, error: RequestRejected) -> None:
        # A rejection such as clock_skew repeats on every heartbeat: say it once, loudly.
        key = f"{what}:{error.code}"
        level = logging.DEBUG if key == self._last_rejection else logging.ERROR
        logger.log(level, "server rejected the %s: %s", what, error)
        self._last_rejection = key

    def _adopt_intervals(self, heartbeat: int | None, inventory: int | None) -> None:
        if heartbeat is not None and max(MIN_INTERVAL, heartbeat) != self.heartbeat_interval:
            self.heartbeat_interval = max(MIN_INTERVAL, float(heartbeat))
            logger.info("heartbeat interval is now %.0f s", self.heartbeat_interval)
        if inventory is not None and max(MIN_INTERVAL, inventory) != self.inventory_interval:
            self.inventory_interval = max(MIN_INTERVAL, float(inventory))
            logger.info("inventory interval is now %.0f s", self.inventory_interval)
            if self._last_inventory is not None:
                self._next_inventory = self._last_inventory + self.inventory_interval
