"""Collect on schedule, spool every batch, ship live data first and replay the backlog.

The runner calls ``collect`` when ``next_collect`` is due and ``ship`` when
``next_ship`` is; both are quick (a collection round is a few milliseconds, a ship sends
the newest batch plus at most ``replay_rate`` older ones per second) so heartbeats are
never starved. Delivery rules (``docs/agent-protocol.md`` § Metrics):

* every batch is on disk before its first send and leaves the spool only on a 200;
* connection errors and 5xx propagate as ``ServerUnavailable``: the runner backs off and
  the batches wait in the spool, replayed oldest first once the server is back, while the
  current batch goes out first (a dashboard wants now; history can trickle in);
* a 422 or 413 (or 400) means this batch can never be accepted: it is dropped and its
  samples counted, instead of blocking the queue forever. ``clock_skew`` is the exception
  (the machine's clock, not the batch, is wrong): batches are kept and sending paused;
* any other refusal (404 from a server without the metrics endpoint) pauses sending with
  a growing delay while collection and spooling go on.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from steward.agent.client import RequestRejected
from steward.agent.metrics import wire
from steward.agent.metrics.batch import BatchBuilder
from steward.agent.metrics.engine import MetricsEngine
from steward.agent.protocol import (
    CODE_CLOCK_SKEW,
    MAX_METRICS_INTERVAL,
    MIN_METRICS_INTERVAL,
    utc_now,
)
from steward.agent.spool import Spool, SpoolCorrupt, SpoolEntry, SpoolUnavailable

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 10.0
# Rounds are grouped until a batch spans this many seconds: one request per 10 s whatever
# the interval (at 1 s, ten rounds per batch), which is what keeps a 1 s agent cheap.
DEFAULT_BATCH_SECONDS = 10.0
# Replay speed after an outage. 24 h of 10 s batches (8,640) drain in about 30 minutes,
# and a fleet coming back at once does not multiply the server's load by more than this.
DEFAULT_REPLAY_RATE = 5.0
# A batch is sealed early past this many samples: ~40 bytes of JSON each keeps the
# decompressed body well under the server's 8 MiB and the gzip'd one under 2 MiB.
MAX_BATCH_SAMPLES = 50_000
DROP_STATUSES = frozenset({400, 413, 422})


def dropping(error: RequestRejected) -> bool:
    """Whether a refusal is about the batch itself (drop it), not this machine's clock."""
    return error.status in DROP_STATUSES and error.code != CODE_CLOCK_SKEW


class MetricsSender(Protocol):
    """``AgentClient``; its ``metrics_formats`` (the formats the server said it reads,
    absent from test doubles: points only) picks the wire format."""

    def send_metrics(self, body_gzipped: bytes) -> dict[str, Any]: ...


def clamp_interval(value: float) -> float:
    return float(min(MAX_METRICS_INTERVAL, max(MIN_METRICS_INTERVAL, value)))


class MetricsPipeline:
    def __init__(
        self,
        engine: MetricsEngine,
        spool: Spool,
        *,
        interval: float = DEFAULT_INTERVAL,
        batch_seconds: float = DEFAULT_BATCH_SECONDS,
        replay_rate: float = DEFAULT_REPLAY_RATE,
        max_batch_samples: int = MAX_BATCH_SAMPLES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.spool = spool
        self.interval = clamp_interval(interval)
        self.batch_seconds = batch_seconds
        self.replay_rate = replay_rate
        self.max_batch_samples = max_batch_samples
        self.write_failures = 0  # samples lost because the spool could not be written
        self.sent_batches = 0
        self._clock = clock
        self._builder = BatchBuilder()
        self._live: list[SpoolEntry] = []
        self._payloads: dict[str, dict[str, Any]] = {}  # live batches, not re-read from disk
        now = clock()
        self.next_collect = now
        self._tokens = replay_rate
        self._refilled = now
        self._hold_until = 0.0
        self._holds = 0
        self._last_problem: str | None = None

    # -- collection -------------------------------------------------------------------

    def collect(self, stop: threading.Event | None = None) -> None:
        """Run one round, add it to the open batch, seal the batch when it is full."""
        round_ = self.engine.collect(stop)
        round_.samples.append(("steward_agent_spool_bytes", (), self.spool.size_bytes))
        round_.samples.append(
            ("steward_agent_spool_dropped_samples_total", (), self.dropped_samples)
        )
        self._builder.add(round_)
        rounds_per_batch = max(1, round(self.batch_seconds / self.interval))
        if (
            self._builder.rounds >= rounds_per_batch
            or self._builder.samples >= self.max_batch_samples
        ):
            self.seal()
        # Keep the schedule (no drift); after a stall (suspend, a stuck disk) start afresh
        # rather than fire a burst of rounds.
        now = self._clock()
        self.next_collect += self.interval
        if self.next_collect <= now:
            self.next_collect = now + self.interval

    def seal(self) -> SpoolEntry | None:
        """Write the open batch to the spool (durably) and queue it for sending."""
        builder, self._builder = self._builder, BatchBuilder()
        if not builder.samples:
            return None
        payload = builder.payload()
        try:
            entry = self.spool.write(payload, builder.samples)
        except OSError as error:
            # A full or read-only disk: the batch is lost, the agent goes on.
            self.write_failures += builder.samples
            logger.error("cannot spool a metrics batch (%d samples lost): %s",
                         builder.samples, error)  # fmt: skip
            return None
        self._live.append(entry)
        self._payloads[entry.name] = payload
        return entry

    def close(self) -> None:
        """Spool the open batch (it is sent after the next start) and stop the engine."""
        self.seal()
        self.engine.close()

    # -- delivery ---------------------------------------------------------------------

    @property
    def dropped_samples(self) -> int:
        return self.spool.dropped_samples + self.write_failures

    @property
    def next_ship(self) -> float:
        if self._live:
            return self._hold_until  # due now, unless sending is paused
        if len(self.spool):
            return max(self._hold_until, self._refilled + 1 / self.replay_rate)
        return math.inf

    def agent_stats(self) -> dict[str, int]:
        return {
            "spool_bytes": self.spool.size_bytes,
            "spool_dropped_samples": self.dropped_samples,
            "collector_errors": self.engine.stats.total_errors,
            "collectors_skipped": self.engine.stats.total_skipped,
        }

    def ship(self, client: MetricsSender, stop: threading.Event | None = None) -> bool:
        """Send the newest batch, then replay older ones within the rate. Returns whether
        the server was contacted. Raises the client's errors other than a refusal."""
        now = self._clock()
        if now < self._hold_until:
            return False
        contacted = False
        live, self._live = self._live, []
        newest = live[-1] if live else None
        for entry in live[:-1]:
            self._payloads.pop(entry.name, None)  # older live batches join the backlog
        if newest is not None:
            contacted = True
            if not self._send(client, newest):
                return contacted
        self._tokens = min(
            self.replay_rate, self._tokens + (now - self._refilled) * self.replay_rate
        )
        self._refilled = now
        while self._tokens >= 1 and not (stop is not None and stop.is_set()):
            entry = self.spool.oldest()
            if entry is None:
                break
            self._tokens -= 1
            contacted = True
            if not self._send(client, entry):
                break
        return contacted

    def _send(self, client: MetricsSender, entry: SpoolEntry) -> bool:
        """One batch; ``False`` when sending must pause (the batch stays spooled)."""
        # A live batch is sent from memory; a retry reads it back from the spool, so that a
        # day-long outage costs disk, not memory.
        payload = self._payloads.pop(entry.name, None)
        if payload is None:
            try:
                payload = self.spool.read(entry)
            except SpoolCorrupt:
                return True  # quarantined and counted; go on with the next one
            except SpoolUnavailable as error:
                logger.warning("cannot read a spooled batch now (%s); trying again later", error)
                return False
        # sent_at is stamped now: a batch replayed after an outage must not fail the skew
        # check. Columns only to a server that said it reads them (wire.py).
        columns = wire.COLUMNS in getattr(client, "metrics_formats", ())
        try:
            data, columns = wire.encode_batch(payload, utc_now(), self.agent_stats(), columns)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # JSON, but not a batch this agent can send (another version's, a stray
            # file): left in place it would stop every later batch, so set it aside.
            self.spool.quarantine(entry, f"not a sendable batch: {error!r}")
            return True
        try:
            try:
                response = client.send_metrics(data)
            except RequestRejected as error:
                if not columns or not dropping(error):
                    raise
                # Refused in columns: say it in points before giving the batch up, so that
                # a server that stopped reading columns (a downgrade) loses nothing.
                logger.warning("server refused a columns batch (%s); sending it as points", error)
                data, _ = wire.encode_batch(payload, utc_now(), self.agent_stats(), False)
                response = client.send_metrics(data)
        except RequestRejected as error:
            if dropping(error):
                self.spool.drop(entry, f"refused by the server: {error}")
                return True
            self._pause(error)
            return False
        self.spool.ack(entry)
        self.sent_batches += 1
        self._holds = 0
        self._last_problem = None
        interval = response.get("interval")
        if isinstance(interval, int | float) and not isinstance(interval, bool):
            self._adopt_interval(interval)
        return True

    def _pause(self, error: RequestRejected) -> None:
        delay = min(900.0, 30.0 * 2**self._holds)
        self._holds += 1
        self._hold_until = self._clock() + delay
        problem = f"{error.status}:{error.code}"
        level = logging.DEBUG if problem == self._last_problem else logging.ERROR
        logger.log(level, "server refused metrics (%s); keeping them, next try in %.0f s",
                   error, delay)  # fmt: skip
        self._last_problem = problem

    def _adopt_interval(self, value: float) -> None:
        interval = clamp_interval(value)
        if interval != self.interval:
            logger.info("metrics interval is now %g s", interval)
            self.next_collect = min(self.next_collect, self._clock() + interval)
            self.interval = interval
