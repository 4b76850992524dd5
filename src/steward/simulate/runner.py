"""Run N simulated agents in one process against a Steward server (asyncio + one httpx pool).

Each agent speaks the real protocol (``docs/agent-protocol.md``): it enrolls once (its
credential is kept in the state file, so a re-run reuses the same device, rebooted, its
history going on from where the last run left it), sends its inventory on start and
hourly, heartbeats at the interval the server asks for, and metric batches of gzip'd
JSON. Resource use is bounded on purpose — 1,000 agents at 10 s must fit on a small
machine next to the server they load:

* keep-alive ``httpx`` connections: at most ``concurrency`` metrics requests in flight,
  whatever the number of agents, and heartbeats on connections of their own (enough for
  a second's worth of them, ``light_connections``);
* every agent ticks at its own offset within the interval (jitter), so requests spread
  evenly instead of arriving as a thundering herd;
* ``batch_rounds`` > 1 sends several collection rounds per request, as a real agent does
  after an outage, cutting the request rate by that factor;
* an agent that falls behind skips ticks instead of queueing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from steward import __version__
from steward.agent.metrics.families import BY_NAME
from steward.agent.protocol import (
    AGENT_STATS_KEYS,
    ENROLL_PATH,
    HEARTBEAT_PATH,
    INVENTORY_PATH,
    METRICS_PATH,
)
from steward.simulate.host import Series, SimHost

AGENT_VERSION = f"{__version__}+sim"
HISTORY_TRIES = 5  # attempts per request of backfill before it is dropped
HISTORY_BACKOFF_S = 1.0  # then 2, 4 and 8 s
INVENTORY_INTERVAL_S = 3600.0  # as the agent (agent.runner.DEFAULT_INVENTORY_INTERVAL)
STATE_SAVE_S = 60.0  # how often the state file's marks of history sent are saved
MAX_ROUNDS_PER_POST = 360  # backfill: 1 h of 10 s rounds per request (~150 KiB gzip'd)
CONNECTIONS_PER_POOL = 8  # see Simulation.run


class SimulationError(Exception):
    """The simulation cannot start (no token, unreachable server, refused token)."""


@dataclass(frozen=True)
class Options:
    server: str
    agents: int
    interval: float = 10.0
    duration: float | None = None  # seconds; None: until interrupted
    token: str | None = None  # an enrollment token (needed only for agents not yet enrolled)
    state_dir: Path = Path(".")
    seed: str = "steward"
    prefix: str = "sim"
    batch_rounds: int = 1
    backfill: float = 0.0  # seconds of history to send once, before running live
    concurrency: int = 32
    heartbeats: bool = True


def light_connections(options: Options) -> int:
    """Connections for heartbeats, inventories and enrollments (0: they share the metrics
    ones, at a concurrency below 4).

    A quarter of ``concurrency``, and at least one per second's worth of heartbeats
    (``agents / interval``): every agent heartbeats once per interval, so that many
    connections keep up while the server answers within a second. With 8 for 1,000 agents
    (100 heartbeats/s), answers of 170 ms on a loaded machine capped the simulator at ~50
    heartbeats/s: agents skipped their ticks and the server recorded hundreds offline
    that a real fleet (a connection per agent) would have kept online.
    """
    if options.concurrency < 4:
        return 0
    per_second = -(-options.agents // max(int(options.interval), 1))
    return max(options.concurrency // 4, per_second)


@dataclass
class Stats:
    enrolled: int = 0
    reused: int = 0
    stopped: int = 0  # agents that gave up (revoked device, enrollment refused)
    requests: int = 0
    samples: int = 0  # sent in batches answered 200
    accepted: int = 0  # as the server counted them (duplicates excluded)
    errors: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        devices = self.enrolled + self.reused
        lines = [
            f"devices: {devices} ({self.enrolled} enrolled, {self.reused} reused)"
            + (f", {self.stopped} stopped" if self.stopped else ""),
            f"requests: {self.requests} in {self.elapsed:.1f} s",
            f"samples sent: {self.samples} ({self.samples_per_second:,.0f}/s),"
            f" accepted: {self.accepted}",
            f"errors: {sum(self.errors.values())}",
        ]
        lines += [f"  {count} x {what}" for what, count in self.errors.most_common(10)]
        return "\n".join(lines)


class StateFile:
    """Credentials of the simulated devices, per server: ``<state_dir>/simulate.json`` (0600)."""

    def __init__(self, state_dir: Path, server: str) -> None:
        self.path = Path(state_dir) / "simulate.json"
        self.server = server
        try:
            self.data: dict[str, dict[str, dict[str, Any]]] = json.loads(self.path.read_text())
        except FileNotFoundError:
            self.data = {}
        except (OSError, ValueError) as exc:
            raise SimulationError(f"cannot read {self.path}: {exc}") from None

    def get(self, hostname: str) -> dict[str, Any] | None:
        return self.data.get(self.server, {}).get(hostname)

    def put(self, hostname: str, entry: dict[str, Any]) -> None:
        self.data.setdefault(self.server, {})[hostname] = entry

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.data, handle, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


def machine_id(seed: str, index: int) -> str:
    """Stable per (seed, index): re-enrolling reuses the same device on the server."""
    return hashlib.sha256(f"steward-simulate:{seed}:{index}".encode()).hexdigest()[:32]


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def build_batch(rounds: dict[Series, list[list[float]]]) -> dict[str, Any]:
    """The wire body of one metrics batch from per-series points ``[[ts_ms, value], ...]``."""
    families: dict[str, list[dict[str, Any]]] = {}
    for (name, labels), points in rounds.items():
        families.setdefault(name, []).append({"labels": dict(labels), "points": points})
    out = []
    for name, series in families.items():
        meta = BY_NAME.get(name)
        family: dict[str, Any] = {"name": name, "series": series}
        if meta is not None:
            family.update(type=meta.type, unit=meta.unit, help=meta.help)
        out.append(family)
    return {
        "batch_id": str(uuid.uuid4()),
        "sent_at": now_iso(),
        "families": out,
        "agent_stats": dict.fromkeys(AGENT_STATS_KEYS, 0),
    }


class Refused(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code


class Simulation:
    def __init__(
        self,
        options: Options,
        clock: Callable[[], float] = time.time,
        token_factory: Callable[[], str] | None = None,
    ) -> None:
        self.options = options
        self.clock = clock
        self.stats = Stats()
        self.state = StateFile(options.state_dir, options.server.rstrip("/"))
        self._token = options.token
        self._token_factory = token_factory  # creates an enrollment token on first need
        self._token_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(max(options.concurrency, 1))
        # Heartbeats, inventories and enrollments have their own few connections: behind
        # hundreds of hosts' history requests (a backfill on a busy server) they waited
        # minutes for a slot, and their hosts showed offline. Each real agent has its own.
        # How many: ``light_connections``.
        self._light = light_connections(options)
        self._light_slots = asyncio.Semaphore(self._light) if self._light else self._slots
        self._enroll_slots = asyncio.Semaphore(4)
        self._http: httpx.AsyncClient | None = None
        self._more_http: list[httpx.AsyncClient] = []  # see run()
        self._turn = 0

    # -- requests -----------------------------------------------------------------------

    async def _post(self, path: str, body: dict[str, Any], credential: str | None) -> Any:
        assert self._http is not None
        http = self._http
        if self._more_http:
            self._turn += 1
            http = self._more_http[self._turn % len(self._more_http)]
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if credential:
            headers["Authorization"] = f"Bearer {credential}"
        # Only metrics batches are gzip'd: the other agent endpoints take plain JSON.
        if path == METRICS_PATH:
            raw = gzip.compress(raw, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        async with self._slots if path == METRICS_PATH else self._light_slots:
            self.stats.requests += 1
            try:
                response = await http.post(path, content=raw, headers=headers)
            except httpx.HTTPError as exc:
                self.stats.errors[f"{path}: {type(exc).__name__}"] += 1
                raise Refused(0, type(exc).__name__) from None
        if response.status_code >= 400:
            try:
                code = response.json().get("code", "")
            except ValueError:
                code = ""
            self.stats.errors[f"{path}: {response.status_code} {code}".rstrip()] += 1
            raise Refused(response.status_code, code)
        return response.json()

    async def _enrollment_token(self) -> str:
        async with self._token_lock:
            if self._token is None and self._token_factory is not None:
                self._token = await asyncio.to_thread(self._token_factory)
            if self._token is None:
                raise SimulationError("an agent is not enrolled yet: give --token or --site")
            return self._token

    async def _enroll(self, host: SimHost) -> dict[str, Any]:
        token = await self._enrollment_token()
        async with self._enroll_slots:
            answer = await self._post(
                ENROLL_PATH,
                {
                    "token": token,
                    "hostname": host.hostname,
                    "machine_id": machine_id(self.options.seed, host.index),
                    "agent_version": AGENT_VERSION,
                    "platform": "linux",
                    "sent_at": now_iso(),
                },
                None,
            )
        entry = {"device_id": answer["device_id"], "credential": answer["credential"]}
        self.state.put(host.hostname, entry)
        self.state.save()  # small file; enrollments are few and rate-limited above
        self.stats.enrolled += 1
        return {**entry, "heartbeat_interval": answer.get("heartbeat_interval", 10)}

    # -- one agent ----------------------------------------------------------------------

    async def _agent(self, host: SimHost, deadline: float | None) -> None:
        opts = self.options
        entry = self.state.get(host.hostname)
        heartbeat_every = 10.0
        # Spread everything an agent does over the interval: no thundering herd.
        offset = random.Random(host.index).uniform(0, opts.interval)  # noqa: S311
        await asyncio.sleep(min(offset, 2.0) if entry is None else offset)
        # In time before the server hears of the host: its inventory reports when it
        # booted, which must lie before the history (``--backfill``) it sends next.
        start = self.clock() - opts.backfill
        if entry is None:
            host.start(start)
        else:
            # A re-run: the device has this host's history up to ``sent_until``. History
            # sent again over it would be other values at other instants (the server
            # keeps the first of a (series, time)): counters from two runs interleaved,
            # rates in the millions. Its counters cannot go on from where they were
            # either (they are not kept), so the host has rebooted: they start again
            # near zero, which rate() reads as a counter reset, as after a real reboot.
            start = max(start, float(entry.get("sent_until") or start))
            host.start(start, rebooted=True)
            host.set_disk_use(entry.get("disk_used") or [])  # files outlive a reboot
        try:
            if entry is None:
                entry = await self._enroll(host)
                heartbeat_every = float(entry["heartbeat_interval"])
            else:
                self.stats.reused += 1
            credential = entry["credential"]
            try:
                await self._post(INVENTORY_PATH, self._inventory(host), credential)
            except Refused as exc:
                if exc.code != "invalid_credential":
                    raise
                entry = await self._enroll(host)  # deleted on the server: enroll again
                credential = entry["credential"]
                await self._post(INVENTORY_PATH, self._inventory(host), credential)
            await self._run(host, credential, deadline, heartbeat_every)
        except Refused as exc:
            if exc.status in (401, 403):
                self.stats.stopped += 1  # revoked, or refused enrollment: a real agent stops
                return
            raise
        except SimulationError as exc:
            self.stats.errors[str(exc)] += 1
            self.stats.stopped += 1

    def _inventory(self, host: SimHost) -> dict[str, Any]:
        return {
            **host.inventory(),
            "sent_at": now_iso(),
            "agent_version": AGENT_VERSION,
            "boot_time": datetime.fromtimestamp(host.boot_time, UTC).isoformat(),
        }

    async def _run(
        self, host: SimHost, credential: str, deadline: float | None, heartbeat_every: float
    ) -> None:
        """History (``--backfill``, from where ``host.start`` placed the host), then live
        rounds until ``deadline``; heartbeats all along, from a task of their own, as the
        agent sends them apart from its metrics.

        With heartbeats between metrics requests, a backfill on a busy server (each
        request queued behind hundreds of hosts' others) left minutes between them, and
        every host in it showed offline until its history was in.
        """
        now = self.clock()
        stop = asyncio.Event()
        beats = None
        if self.options.heartbeats:
            beats = asyncio.create_task(self._heartbeats(host, credential, heartbeat_every, stop))
        try:
            if self.options.backfill:
                await self._backfill(host, credential, now)
                # The inventory sent before the history describes the host as it was
                # then (its file systems' use, for one): the device page's table would
                # disagree with the charts beside it. A real agent sends one hourly.
                await self._refresh_inventory(host, credential)
            await self._live(host, credential, deadline)
        finally:
            stop.set()  # not cancel(): a request cut off mid-way would linger on the server
            if beats is not None:
                await beats

    async def _heartbeats(
        self, host: SimHost, credential: str, every: float, stop: asyncio.Event
    ) -> None:
        """Heartbeats at the interval the server asks for, until ``stop`` (or refused:
        401/403 also stop the metrics, which end the host)."""
        while not stop.is_set():
            try:
                every = await self._heartbeat(host, credential, every)
            except Refused:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)

    async def _backfill(self, host: SimHost, credential: str, until: float) -> None:
        """Send the history up to ``until``, ``MAX_ROUNDS_PER_POST`` rounds a request."""
        step = self.options.interval
        t = host.t
        rounds: dict[Series, list[list[float]]] = {}
        count = 0
        while t + step <= until:
            t += step
            host.step(t)
            self._record(host, rounds, t)
            count += 1
            if count >= MAX_ROUNDS_PER_POST:
                await self._send_history(rounds, credential)
                self._mark_sent(host, t)
                rounds, count = {}, 0
        if rounds:
            await self._send_history(rounds, credential)
            self._mark_sent(host, t)

    def _mark_sent(self, host: SimHost, t: float) -> None:
        """Remember (for a re-run, in the state file) that history up to ``t`` is sent,
        and how full the host's file systems were then."""
        entry = self.state.get(host.hostname)
        if entry is not None:
            entry["sent_until"] = t
            entry["disk_used"] = host.disk_use()

    async def _send_history(self, rounds: dict[Series, list[list[float]]], credential: str) -> None:
        """Send one request of history, trying again after a timeout, a lost connection
        or a 5xx/429 (backing off, up to ``HISTORY_TRIES`` times), as the agent retries
        its spool: one slow answer from a busy server used to stop the simulated host
        for good. A refusal (4xx) drops the request, as the agent drops a refused batch;
        401/403 stop the host."""
        for attempt in range(HISTORY_TRIES):
            try:
                await self._send(rounds, credential)
                return
            except Refused as exc:
                if exc.status in (401, 403):
                    raise
                if 400 <= exc.status < 500 and exc.status != 429:
                    return
                if attempt + 1 < HISTORY_TRIES:
                    await asyncio.sleep(HISTORY_BACKOFF_S * 2**attempt)

    async def _heartbeat(self, host: SimHost, credential: str, every: float) -> float:
        """One heartbeat; returns the interval the server asks for."""
        now = self.clock()
        body = {"sent_at": now_iso(), "agent_version": AGENT_VERSION,
                "uptime_seconds": max(now - host.boot_time, 0.0)}  # fmt: skip
        try:
            answer = await self._post(HEARTBEAT_PATH, body, credential)
        except Refused as exc:
            if exc.status in (401, 403):
                raise
            return every
        return float(answer.get("heartbeat_interval") or every)

    async def _refresh_inventory(self, host: SimHost, credential: str) -> None:
        """The inventory as the host is now; refused, it waits for the next one (401 and
        403 stop the host, as everywhere)."""
        try:
            await self._post(INVENTORY_PATH, self._inventory(host), credential)
        except Refused as exc:
            if exc.status in (401, 403):
                raise

    async def _live(self, host: SimHost, credential: str, deadline: float | None) -> None:
        opts = self.options
        rounds: dict[Series, list[list[float]]] = {}
        pending = 0
        next_tick = self.clock()
        next_inventory = next_tick + INVENTORY_INTERVAL_S
        while deadline is None or next_tick < deadline:
            delay = next_tick - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            now = self.clock()
            host.step(now)
            self._record(host, rounds, now)
            if now >= next_inventory:  # hourly, as the agent (file systems fill meanwhile)
                await self._refresh_inventory(host, credential)
                next_inventory = now + INVENTORY_INTERVAL_S
            pending += 1
            if pending >= opts.batch_rounds:
                try:
                    await self._send(rounds, credential)
                except Refused as exc:
                    if exc.status in (401, 403):
                        raise
                self._mark_sent(host, now)
                rounds, pending = {}, 0  # a refused batch is dropped, as the agent does
            # Behind schedule (slow server)? Skip the missed ticks rather than queue them.
            next_tick = max(next_tick + opts.interval, self.clock())

    @staticmethod
    def _record(host: SimHost, rounds: dict[Series, list[list[float]]], t: float) -> None:
        ts = int(t * 1000)
        for key, value in host.samples():
            rounds.setdefault(key, []).append([ts, value])

    async def _send(self, rounds: dict[Series, list[list[float]]], credential: str) -> None:
        samples = sum(len(points) for points in rounds.values())
        answer = await self._post(METRICS_PATH, build_batch(rounds), credential)
        self.stats.samples += samples
        self.stats.accepted += int(answer.get("accepted", 0))

    # -- all agents ---------------------------------------------------------------------

    async def _save_state_every(self, seconds: float) -> None:
        """Keep the state file's ``sent_until`` marks recent (a killed run loses little)."""
        while True:
            await asyncio.sleep(seconds)
            self.state.save()

    async def run(self) -> Stats:
        opts = self.options
        deadline = None if opts.duration is None else self.clock() + opts.duration
        connections = max(opts.concurrency, 1) + self._light
        # Several small pools instead of one: httpcore's pool scans its connections for
        # every waiting request on every change, and with 40 connections that scan took
        # 45 % of the simulator's CPU at 1,000 agents (it fell behind, hosts went offline).
        pools = max(1, connections // CONNECTIONS_PER_POOL)
        per_pool = -(-connections // pools)
        limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
        timeout = httpx.Timeout(30.0, pool=None)  # waiting for a slot is not a failure
        hosts = [SimHost(i, opts.seed, opts.prefix) for i in range(opts.agents)]
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(
                        base_url=opts.server.rstrip("/"), limits=limits, timeout=timeout
                    )
                )
                for _ in range(pools)
            ]
            self._http, self._more_http = clients[0], clients if pools > 1 else []
            saver = asyncio.create_task(self._save_state_every(STATE_SAVE_S))
            try:
                results = await asyncio.gather(
                    *(self._agent(host, deadline) for host in hosts), return_exceptions=True
                )
            finally:
                saver.cancel()
                self.state.save()
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Refused):
                if isinstance(result, asyncio.CancelledError):
                    continue
                self.stats.errors[f"agent crashed: {type(result).__name__}: {result}"] += 1
        self.stats.finished = time.monotonic()
        return self.stats


def run(options: Options, token_factory: Callable[[], str] | None = None) -> Stats:
    """Run the simulation to its end (``duration``) or until interrupted; the stats."""
    simulation = Simulation(options, token_factory=token_factory)
    try:
        asyncio.run(simulation.run())
    except KeyboardInterrupt:
        # Simulation.run's ``finally`` saved the state: asyncio.run cancels the main
        # task on Ctrl-C before raising KeyboardInterrupt here.
        simulation.stats.finished = time.monotonic()
    return simulation.stats
