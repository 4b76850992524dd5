"""Running the engine for one organization: load state, call it, persist, apply actions.

Every call (an input arriving, the 1-second tick, an operator action) follows
docs/alerting-core.md § "How the Django app should use it":

1. read the organization's ``EngineState`` version (no lock: the write in 3 is conditional);
2. reuse this process's engine object when the row's ``version`` is the one it last wrote
   (no JSON parsing on the hot path), else ``Engine.from_dict``;
3. call it and serialise ``to_dict()`` outside any transaction, then store it with a
   conditional update on the version read (a lost race retries with fresh state: the
   inputs are still in hand);
4. apply the actions in the same transaction (``steward.alerts.apply``): alert rows,
   timeline rows, outbox rows with unique keys; send after commit.

Inputs arriving concurrently for one organization are *coalesced*: the first thread runs
the engine, threads arriving meanwhile append their observations and return, and the
running thread drains them in its next round (group commit). One organization is never
evaluated twice at once in a process, and a burst of 1,000 devices costs a few engine
rounds, not a thousand.

Coalescing needs concurrent callers, and Django runs sync views on *one* thread per
process under ASGI: requests never overlap, so each input arriving through a view would
cost a round of its own (state serialised and written: tens of milliseconds once the
organization has a thousand inputs). Inputs that change nothing urgent (a check result
repeating the stored hard state, see ``results.py``) therefore go through ``observe_soon``: a
background feeder thread evaluates everything queued within ``FEED_DELAY_S`` in one round,
and the request returns at once. Everything else is evaluated in the request that delivered
it, ahead of (and together with) whatever is queued; a request finding the feeder mid-round
waits for it rather than handing its input over, so "evaluated on arrival" still holds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: rounds race optimistically, as on other databases
    fcntl = None  # type: ignore[assignment]

from django.db import connection, connections, transaction
from django.db.models import F

from steward.alerting import Action, Engine
from steward.alerting.engine import EngineConfig, Entry
from steward.alerting.model import Observation
from steward.alerts import apply, config
from steward.alerts.models import EngineEntry, EngineState

log = logging.getLogger("steward.alerts")

MAX_RETRIES = 5
Call = Callable[[Engine, float], list[Action]]


class Conflict(Exception):
    """Another process wrote the state between our read and our write."""


@dataclass
class _Cached:
    version: int
    config_version: int
    engine: Engine


_cache_lock = threading.Lock()
_engines: dict[int, _Cached] = {}
_org_locks: dict[int, threading.Lock] = {}
_pending: dict[int, list[Observation]] = {}
_pending_now: dict[int, float | None] = {}
# check pk -> (hard state, time) last fed to the engine by this process: see results.py.
fed_checks: dict[int, tuple[int, float]] = {}
# The feeder (``observe_soon``): organizations with queued non-urgent inputs, and those whose
# lock the feeder holds or is about to take (a request finding it held waits, see observe).
FEED_DELAY_S = 0.25
# A round costs mostly the same whatever it carries (the core document, ~100 KB with 1,000
# devices, serialised and written; a reload after another process's write): when rounds
# are slow the feeder gathers longer, FEED_GATHER_RATIO times the last round's time (at
# most FEED_DELAY_MAX_S), so they take at most about a fifth of its time. With 1,000
# simulated devices the feeder's rounds were a quarter of the server's CPU.
FEED_GATHER_RATIO = 4.0
FEED_DELAY_MAX_S = 2.0
_soon: set[int] = set()
_feeding: set[int] = set()
_soon_event = threading.Event()
_feeder: threading.Thread | None = None


def _org_lock(organization_id: int) -> threading.Lock:
    with _cache_lock:
        lock = _org_locks.get(organization_id)
        if lock is None:
            lock = _org_locks[organization_id] = threading.Lock()
        return lock


def forget() -> None:
    """Drop every cached engine and every input not yet evaluated (tests, between tests).

    Queued inputs go too: an organization whose round failed keeps its inputs queued for
    the next one (see ``_drain``), and ``settle`` then waited its whole timeout in every
    later test. A round already running is not stopped; ``settle`` waits for it. Inputs
    are lost, so a server must not call this to reload its configuration."""
    from steward.alerts import defaults, hooks

    with _cache_lock:
        _engines.clear()
        fed_checks.clear()
        _last_tick.clear()
        _pending.clear()
        _pending_now.clear()
        _soon.clear()
    defaults.forget()
    hooks.forget()
    config.forget()


def state_row(organization_id: int) -> EngineState:
    row = EngineState.objects.filter(organization_id=organization_id).first()
    if row is None:
        from steward.alerts.defaults import ensure_default_rules

        ensure_default_rules(organization_id)
        row, _ = EngineState.objects.get_or_create(organization_id=organization_id)
    return row


def run(organization_id: int, call: Call, now: float | None = None) -> list[Action]:
    """Run ``call(engine, now)`` against the organization's state; return its actions."""
    with _org_lock(organization_id):
        return _run_locked(organization_id, call, now)


def _ensure_state_row(organization_id: int) -> None:
    """Create the organization's row (with the default pack) on first use. Only its
    existence is asked: reading the row would parse the whole state (2 MB at 1,000
    devices), which every round did."""
    if not EngineState.objects.filter(organization_id=organization_id).exists():
        state_row(organization_id)


ROUND_LOCK_WAIT_S = 30.0


def round_lock_path(organization_id: int) -> Path | None:
    """The file whose lock serialises this organization's rounds across the processes of
    one host (see ``_host_round_lock``), or None where there is none to take."""
    if fcntl is None or connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name.startswith("file:") or ":memory:" in name:
        return None  # an in-memory database belongs to one process
    return Path(f"{name}-alert-rounds-{organization_id}.lock")


@contextmanager
def _host_round_lock(path: Path | None, wait_s: float = ROUND_LOCK_WAIT_S) -> Iterator[bool]:
    """Hold ``path``'s lock (an ``flock``) for one round; yields whether it was taken.

    On SQLite the server's feeder (a round every 0.25 s at 1,000 devices) and the worker's
    tick raced for the organization's state. The slower round lost its conditional write
    ``MAX_RETRIES - 1`` times and then ran whole inside the write transaction
    (``_lock_state_row``), which on SQLite holds the database's one write lock: 1.3-3.7 s
    at a time with 1,000 simulated devices, every heartbeat waiting as long. Taking turns
    on a file next to the database instead keeps the write transaction as short as the
    write. Not taken (the optimistic rounds as before): without a path, inside an outer
    transaction (it may hold the write lock that this lock's holder is waiting for), and
    when the lock is not free within ``wait_s``.
    """
    if path is None or connection.in_atomic_block:
        yield False
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        log.warning("cannot open %s: alert rounds race optimistically", path)
        yield False
        return
    try:
        deadline = time.monotonic() + wait_s
        taken = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                taken = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    log.warning("%s stayed locked for %.0f s: going ahead", path, wait_s)
                    break
                time.sleep(0.005)
        yield taken
    finally:
        os.close(fd)  # releases the lock


def _run_locked(organization_id: int, call: Call, now: float | None) -> list[Action]:
    _ensure_state_row(organization_id)
    with _host_round_lock(round_lock_path(organization_id)):
        return _run_rounds(organization_id, call, now)


def _run_rounds(organization_id: int, call: Call, now: float | None) -> list[Action]:
    for attempt in range(MAX_RETRIES - 1):
        try:
            return _attempt(organization_id, call, now)
        except Conflict:
            log.info("engine state of org %s changed under us; retry %d", organization_id, attempt)
    # Optimistic rounds can lose every race when another process (the worker, another
    # replica) keeps writing while this one is slow, e.g. a large state on a busy
    # machine: seen with 200 simulated devices, where a round of heartbeats failed five
    # times running. The last attempt holds the state row from its read to its write,
    # so it cannot lose; the others wait for it as for any writer.
    with transaction.atomic():
        _lock_state_row(organization_id)
        return _attempt(organization_id, call, now)


def _lock_state_row(organization_id: int) -> None:
    """Hold the organization's state row until the transaction ends: a row lock where
    the database has them, else (SQLite) the write lock, taken by a no-op update."""
    rows = EngineState.objects.filter(organization_id=organization_id)
    if connection.features.has_select_for_update:
        list(rows.select_for_update().values_list("pk", flat=True))
    else:
        rows.update(version=F("version"))


def _attempt(organization_id: int, call: Call, now: float | None) -> list[Action]:
    with _cache_lock:
        cached = _engines.pop(organization_id, None)  # ours until committed
    # The engine runs and its state is serialised *before* the write transaction: on SQLite
    # that transaction holds the database's one write lock, and serialising a thousand
    # inputs inside it made every other request wait for it. The write below is
    # conditional on the version read here, so a round that lost a race is discarded and
    # retried with fresh state (Conflict), exactly as a changed row was before.
    version, config_version = (
        EngineState.objects.filter(organization_id=organization_id)
        .values_list("version", "config_version")
        .get()
    )
    cfg = config.get(organization_id, config_version)
    if cached is not None and cached.version == version and cached.config_version == config_version:
        engine = cached.engine
    else:
        engine = _load(organization_id, cfg)
    at = time.time() if now is None else now
    actions = call(engine, at)
    # Only what the round changed: the small core document and the changed entries.
    core = engine.core_to_dict()
    changes = engine.take_changes()
    next_due = engine.next_wakeup(at)
    with transaction.atomic():
        qs = EngineState.objects.filter(organization_id=organization_id, version=version)
        if connection.features.has_select_for_update:
            qs = qs.select_for_update()
        written = qs.update(version=version + 1, data=core, next_due=next_due)
        if written != 1:
            raise Conflict
        _write_entries(organization_id, changes)
        apply.apply(organization_id, engine, actions)
        keep = _Cached(version + 1, config_version, engine)

        def remember() -> None:
            with _cache_lock:
                _engines[organization_id] = keep

        transaction.on_commit(remember)
    return actions


def _load(organization_id: int, cfg: EngineConfig) -> Engine:
    """The organization's engine as stored: the core document and its entries. Read
    after the version (in ``_attempt``): entries written since belong to a newer version,
    and the write, conditional on the version read, then fails and the round is retried."""
    core = EngineState.objects.filter(organization_id=organization_id).values_list(
        "data", flat=True
    )[0]
    entries = EngineEntry.objects.filter(organization_id=organization_id).values_list(
        "kind", "key", "data"
    )
    return Engine.from_parts(cfg, core or {}, entries.iterator(chunk_size=2000))


ENTRY_BATCH = 500


def _write_entries(organization_id: int, changes: list[Entry]) -> None:
    """Upsert the changed entries and delete the removed ones (inside the round's
    transaction)."""
    rows = [
        EngineEntry(organization_id=organization_id, kind=kind, key=key, data=data)
        for kind, key, data in changes
        if data is not None
    ]
    if rows:
        EngineEntry.objects.bulk_create(
            rows,
            batch_size=ENTRY_BATCH,
            update_conflicts=True,
            unique_fields=["organization", "kind", "key"],
            update_fields=["data"],
        )
    removed: dict[str, list[str]] = {}
    for kind, key, data in changes:
        if data is None:
            removed.setdefault(kind, []).append(key)
    for kind, keys in removed.items():
        for start in range(0, len(keys), ENTRY_BATCH):
            EngineEntry.objects.filter(
                organization_id=organization_id,
                kind=kind,
                key__in=keys[start : start + ENTRY_BATCH],
            ).delete()


def observe(
    organization_id: int, observations: Sequence[Observation], now: float | None = None
) -> list[Action]:
    """Feed inputs to the organization's engine (coalesced with concurrent callers).

    Returns the actions of the rounds this thread ran (empty when another thread picked
    the observations up).
    """
    if not observations:
        return []
    with _cache_lock:
        _pending.setdefault(organization_id, []).extend(observations)
        _pending_now[organization_id] = now
    return _drain(organization_id, wait=connection.in_atomic_block)


def observe_soon(
    organization_id: int, observations: Sequence[Observation], now: float | None = None
) -> None:
    """Feed inputs that change nothing urgent within about ``FEED_DELAY_S`` (one round for all).

    Inside a transaction (tests, a caller's atomic block) this is ``observe``: the caller
    sees the result, as before. So it is on an in-memory SQLite database (the test suite's):
    its tables are locked per connection without waiting, so the feeder's round would fail
    ("database table is locked") beside a live test server's requests.
    """
    if not observations:
        return
    if connection.in_atomic_block or feed_inline():
        observe(organization_id, observations, now)
        return
    global _feeder
    with _cache_lock:
        _pending.setdefault(organization_id, []).extend(observations)
        _soon.add(organization_id)
        if _feeder is None or not _feeder.is_alive():
            _feeder = threading.Thread(target=_feed_loop, name="alerts-feeder", daemon=True)
            _feeder.start()
    _soon_event.set()


def settle(timeout: float = 10.0) -> bool:
    """Wait until every input queued in this process has been evaluated (tests; a process
    about to exit). True if it did within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _cache_lock:
            busy = bool(_soon or _feeding or any(_pending.values()))
        if not busy and not any(lock.locked() for lock in list(_org_locks.values())):
            return True
        time.sleep(0.01)
    return False


def feed_inline() -> bool:
    """Whether non-urgent inputs must be evaluated by the caller (see ``observe_soon``)."""
    return connection.vendor == "sqlite" and connection.is_in_memory_db()


def gather_delay(last_round_s: float) -> float:
    """How long the feeder gathers inputs before its next round (see FEED_GATHER_RATIO)."""
    return min(FEED_DELAY_MAX_S, max(FEED_DELAY_S, FEED_GATHER_RATIO * last_round_s))


def _feed_loop() -> None:
    delay = FEED_DELAY_S
    while True:
        _soon_event.wait()
        time.sleep(delay)  # gather: results of many devices make one round
        _soon_event.clear()
        with _cache_lock:
            orgs = list(_soon)
            _soon.clear()
            _feeding.update(orgs)
        started = time.monotonic()
        try:
            for org_id in orgs:
                try:
                    _drain(org_id, wait=True)
                except Exception:
                    log.exception("deferred alert evaluation failed (org %s)", org_id)
                finally:
                    with _cache_lock:
                        _feeding.discard(org_id)
        finally:
            # A round is one unit of work, like a request: its connection ends with it
            # (CONN_MAX_AGE = 0). Kept open, the idle feeder held a database session for
            # the life of the process, and PostgreSQL refuses to drop a database that has
            # sessions (the test run's teardown warning).
            connections.close_all()
            delay = gather_delay(time.monotonic() - started)


def _drain(organization_id: int, wait: bool) -> list[Action]:
    """Run rounds until the organization's queue is empty, unless another thread is on it."""
    lock = _org_lock(organization_id)
    actions: list[Action] = []
    while True:
        if not lock.acquire(blocking=False):
            with _cache_lock:
                feeder_busy = organization_id in _feeding
            if wait or feeder_busy:
                # Inside a transaction the caller must see the result; and a request
                # must not hand an urgent input to the feeder: wait for the running round,
                # then run ours.
                lock.acquire()
            else:
                return actions  # the running thread drains ours in its next round
        try:
            while True:
                with _cache_lock:
                    batch = _pending.pop(organization_id, [])
                    at = _pending_now.pop(organization_id, None)
                if not batch:
                    break
                try:
                    actions.extend(_run_batch(organization_id, batch, at))
                except InputRejected:
                    raise  # a lone bad input: dropped (logged by the caller)
                except Exception:
                    # Not evaluated (database error, lost races): inputs handed over by
                    # callers that have returned are kept for the next round.
                    with _cache_lock:
                        _pending[organization_id] = batch + _pending.get(organization_id, [])
                        _pending_now.setdefault(organization_id, at)
                    raise
        finally:
            lock.release()
        with _cache_lock:
            if not _pending.get(organization_id):
                return actions


class InputRejected(Exception):
    """The engine raised on an input of the batch (the round was discarded, not stored)."""


def _run_batch(organization_id: int, batch: list[Observation], at: float | None) -> list[Action]:
    """One round for ``batch``; if the engine rejects an input, the round is discarded
    (its engine, possibly half-updated, is dropped with it) and the inputs are evaluated
    one per round, so a bad one loses only itself, not the inputs coalesced with it from
    other requests (which have already returned)."""
    try:
        return _run_locked(organization_id, _observe_all(batch), at)
    except InputRejected:
        if len(batch) == 1:
            raise
        log.warning("an input of org %s was rejected; evaluating its batch one by one",
                    organization_id)  # fmt: skip
    actions: list[Action] = []
    for obs in batch:
        try:
            actions.extend(_run_locked(organization_id, _observe_all([obs]), at))
        except InputRejected:
            log.exception("alert evaluation rejected an input of org %s: %r", organization_id, obs)
    return actions


def _observe_all(batch: list[Observation]) -> Call:
    def call(engine: Engine, now: float) -> list[Action]:
        out: list[Action] = []
        for obs in batch:
            try:
                out.extend(engine.observe(obs, now))
            except Exception as exc:
                raise InputRejected(f"{type(exc).__name__}: {exc}") from exc
        return out

    return call


# The worker ticks every organization every second. A tick that has nothing due still read,
# rewrote and (in the other processes) invalidated the whole state: with 1,000 simulated
# devices (a 2 MB state) the worker's ticks and the server's rounds kept parsing each
# other's writes, and half the server's time went to it. So a tick runs only when the state
# row's ``next_due`` (Engine.next_wakeup, written with the state) has come, the rules
# changed, or housekeeping (``Engine.tick``'s pruning) has waited HOUSEKEEPING_S.
HOUSEKEEPING_S = 30.0
# organization -> (time of this process's last full tick, config version it ran with)
_last_tick: dict[int, tuple[float, int]] = {}


def tick(organization_id: int, now: float | None = None) -> list[Action]:
    """``Engine.tick`` for one organization, when it has work due (see above)."""
    at = time.time() if now is None else now
    row = (
        EngineState.objects.filter(organization_id=organization_id)
        .values_list("next_due", "config_version")
        .first()
    )
    if row is not None:
        next_due, config_version = row
        last = _last_tick.get(organization_id)
        idle = (
            last is not None
            and last[1] == config_version
            and 0 <= at - last[0] < HOUSEKEEPING_S
            and (next_due is None or next_due > at)
        )
        if idle:
            return []
    actions = run(organization_id, lambda engine, at: engine.tick(at), now)
    if row is None:  # the first round created the row (and the default rules)
        row = (
            EngineState.objects.filter(organization_id=organization_id)
            .values_list("next_due", "config_version")
            .first()
        )
    if row is not None:
        _last_tick[organization_id] = (at, row[1])
    return actions
