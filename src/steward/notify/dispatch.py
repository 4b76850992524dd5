"""Sending: claim due deliveries atomically, send them in parallel, record every attempt.

Claiming follows the job worker (STYLE #10): a delivery is taken with a conditional
``UPDATE ... WHERE status IN (pending, failed) AND next_attempt_at <= now`` (or an expired
``sending`` lease) that must change exactly one row, so any number of workers — and the
``send_now`` fast path — can run at once without sending a delivery twice. On PostgreSQL
the candidates are also read with ``SELECT ... FOR UPDATE SKIP LOCKED`` so that workers do
not even contend for the same rows.

The network is touched only in the pool threads; the database only in the calling thread
(``deliver_due``) or in the one pool thread that owns a ``send_now`` delivery. Transports
are bounded by their timeouts, and results are recorded as they complete, so a hanging
endpoint delays nothing but its own deliveries. Per run, a channel gets at most
``PER_CHANNEL`` deliveries, and a failing channel only one (a probe), so one channel's
backlog or outage cannot starve the others; the pool starts them one channel at a time in
turn. A claimed delivery is only started while its lease still covers a whole send
(``MAX_SEND``); one that waited longer is given back undone (``deferred``), so a lease never
expires under a send that another worker would then repeat.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, models, transaction
from django.utils import timezone

from steward.jobs.identity import worker_id
from steward.notify import backoff, health
from steward.notify.channels import TRANSPORTS, DeliveryError
from steward.notify.message import Message
from steward.notify.models import Channel, Delivery, DeliveryAttempt, HealthState, Status
from steward.notify.queue import enqueue

log = logging.getLogger("steward.notify")

LEASE = timedelta(minutes=2)  # longer than any transport timeout (at most 60 s)
# The longest a transport may take (its timeout's upper bound). A claimed delivery still
# waiting in the pool is only started while its lease has that much left: started later,
# its lease could expire mid-send and another worker would send it a second time.
MAX_SEND = timedelta(seconds=60)
DEFERRED = "deferred"
POOL_SIZE = 8
PER_CHANNEL = 20
TEST_EVENT = "notify.test"
# Fast-path threads, shared by the process: bounded, so a burst of alerts cannot spawn
# unbounded threads; deliveries beyond it wait in the pool's queue or go via the worker.
_fast_pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="steward-notify")


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    error: DeliveryError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def claimable(now: datetime) -> models.QuerySet[Delivery]:
    return Delivery.objects.filter(
        models.Q(status__in=[Status.PENDING, Status.FAILED], next_attempt_at__lte=now)
        | models.Q(status=Status.SENDING, lease_until__lt=now)
    )


def claim(pk: int, me: str, now: datetime) -> bool:
    """Take one delivery; True only for the single caller whose update changed the row."""
    won = (
        claimable(now)
        .filter(pk=pk)
        .update(
            status=Status.SENDING,
            lease_until=now + LEASE,
            leased_by=me,
            attempts=models.F("attempts") + 1,
        )
    )
    return won == 1


def claim_due(limit: int, me: str, now: datetime) -> list[Delivery]:
    candidates = (
        claimable(now)
        .filter(channel__enabled=True)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "channel_id", "channel__health__state")
    )
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        taken: Counter[int] = Counter()
        chosen = []
        for pk, channel_id, state in candidates[: limit * 4]:
            cap = 1 if state == HealthState.FAILING else PER_CHANNEL
            if taken[channel_id] < cap and len(chosen) < limit:
                taken[channel_id] += 1
                chosen.append(pk)
        won = [pk for pk in chosen if claim(pk, me, now)]
    return list(Delivery.objects.select_related("channel").filter(pk__in=won).order_by("pk"))


def attempt(channel: Channel, message: Message) -> Outcome:
    """Send once through the channel's transport. Never raises; touches no database."""
    started, clock = timezone.now(), time.monotonic()
    error: DeliveryError | None = None
    try:
        TRANSPORTS[channel.kind](channel.config, channel.secrets).send(message)
    except DeliveryError as e:
        error = e
    except ValueError as e:  # stored settings no longer valid (pydantic errors are ValueErrors)
        error = DeliveryError(f"invalid channel settings: {e}"[:1000], permanent=True)
    except Exception as e:  # a bug in a transport must not stop the other deliveries
        log.exception("transport %s crashed", channel.kind)
        error = DeliveryError(f"{type(e).__name__}: {e}"[:1000])
    return Outcome(started, int((time.monotonic() - clock) * 1000), error)


def attempt_by(channel: Channel, message: Message, start_by: float) -> Outcome | None:
    """``attempt``, unless the monotonic clock is past ``start_by`` (``None``: not tried)."""
    if time.monotonic() > start_by:
        return None
    return attempt(channel, message)


def release(delivery: Delivery, me: str, now: datetime) -> str:
    """Give back a claimed delivery that was not attempted: due again at once, its claim
    not counted as an attempt."""
    status = Status.FAILED if delivery.attempts > 1 else Status.PENDING
    Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING, leased_by=me).update(
        status=status,
        lease_until=None,
        leased_by="",
        attempts=models.F("attempts") - 1,
        next_attempt_at=now,
    )
    return DEFERRED


def record(
    delivery: Delivery,
    outcome: Outcome,
    me: str,
    now: datetime,
    rng: Callable[[], float] = random.random,
) -> str:
    """Store the attempt and the delivery's next state; update the channel's health."""
    number = delivery.attempts
    error = outcome.error
    if error is None:
        status, changes = Status.SENT, {"sent_at": now, "last_error": ""}
    elif error.permanent or number >= delivery.max_attempts:
        status, changes = Status.DEAD, {"last_error": error.message}
    else:
        wait = backoff.delay(number, rng=rng, retry_after=error.retry_after)
        status = Status.FAILED
        changes = {"last_error": error.message, "next_attempt_at": now + wait}
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=outcome.started_at,
            duration_ms=outcome.duration_ms,
            ok=error is None,
            permanent=bool(error and error.permanent),
            error=error.message if error else "",
            worker=me,
        )
        kept = Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING, leased_by=me).update(
            status=status, lease_until=None, leased_by="", **changes
        )
    if not kept:  # our lease expired and someone else took it: their result will stand
        log.warning("delivery %s: lease lost before recording attempt %s", delivery.pk, number)
    if error is None:
        health.record_success(delivery.channel, now)
    elif delivery.event_kind != TEST_EVENT:
        # A failed test is shown to the person who pressed the button; announcing it to
        # the other channels as an outage would be noise while a channel is being set up.
        health.record_failure(delivery.channel, now, error.message, dead=status == Status.DEAD)
    return status.value


def deliver_due(
    limit: int = 100,
    now: datetime | None = None,
    me: str | None = None,
    rng: Callable[[], float] = random.random,
) -> dict[str, int]:
    """The worker job: send every due delivery this worker can claim (up to ``limit``).

    ``now`` fixes the clock for claiming and scheduling (tests move time instead of
    sleeping). Returns counts per resulting status.
    """
    me = me or worker_id()
    clock: Callable[[], datetime] = (lambda: now) if now is not None else timezone.now
    start_by = time.monotonic() + (LEASE - MAX_SEND).total_seconds()  # before the claim
    claimed = claim_due(limit, me, clock())
    counts: Counter[str] = Counter()
    if not claimed:
        return {}
    with ThreadPoolExecutor(min(POOL_SIZE, len(claimed)), "steward-deliver") as pool:
        futures = {
            pool.submit(attempt_by, d.channel, d.message, start_by): d
            for d in _interleaved(claimed)
        }
        for future in as_completed(futures):
            delivery, outcome = futures[future], future.result()
            try:  # one delivery that cannot be recorded must not leave the others unrecorded
                if outcome is None:
                    counts[release(delivery, me, clock())] += 1
                else:
                    counts[record(delivery, outcome, me, clock(), rng)] += 1
            except Exception:
                log.exception("delivery %s: could not record its attempt", delivery.pk)
                counts["error"] += 1
    return dict(counts)


def _interleaved(deliveries: list[Delivery]) -> list[Delivery]:
    """One delivery per channel in turn: the pool starts them in this order, so a hanging
    channel's backlog cannot take every thread ahead of the other channels."""
    queues: dict[int, list[Delivery]] = {}
    for d in deliveries:
        queues.setdefault(d.channel_id, []).append(d)
    longest = max((len(q) for q in queues.values()), default=0)
    return [q[i] for i in range(longest) for q in queues.values() if i < len(q)]


def deliver(pk: int, now: datetime | None = None, me: str | None = None) -> str | None:
    """Claim and send one delivery now; ``None`` if someone else has it (or it is not due)."""
    me = me or f"{worker_id()}:fast"
    now = now or timezone.now()
    if not claim(pk, me, now):
        return None
    delivery = Delivery.objects.select_related("channel").get(pk=pk)
    return record(delivery, attempt(delivery.channel, delivery.message), me, timezone.now())


def _deliver_in_pool(pk: int) -> str | None:
    try:
        return deliver(pk)
    except Exception:
        log.exception("fast delivery of %s failed; the worker will retry it", pk)
        return None
    finally:
        connection.close()  # this pool thread's own connection


def send_now(
    channel: Channel, message: Message, executor: Executor | None = None
) -> Delivery | None:
    """Queue ``message`` and try it immediately after commit, off the caller's thread.

    For when latency matters (an alert firing): the attempt starts as soon as the
    transaction commits, in a bounded thread pool. If it fails, the delivery stays on the
    queue with its backoff and the worker retries it. Returns the delivery (or ``None`` for
    a disabled channel); the caller never waits for the network.
    """
    delivery = enqueue(channel, message)
    if delivery is None or delivery.status != Status.PENDING:
        return delivery
    pool = executor or _fast_pool
    pk = delivery.pk
    transaction.on_commit(lambda: pool.submit(_deliver_in_pool, pk))
    return delivery
