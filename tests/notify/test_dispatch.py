"""Claims, the fast path, commit-time dispatch and channel health."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from steward.notify import health
from steward.notify.dispatch import claim, claim_due, deliver_due, send_now
from steward.notify.message import Message
from steward.notify.models import ChannelHealth, Delivery, Status
from steward.notify.queue import enqueue
from tests.notify.conftest import webhook


def msg(key: str, subject: str = "Fault") -> Message:
    return Message(subject=subject, text="details", idempotency_key=key)


class RecordingExecutor(Executor):
    def __init__(self) -> None:
        self.submitted: list = []

    def submit(self, fn, /, *args, **kwargs) -> Future:
        self.submitted.append((fn, args))
        future: Future = Future()
        future.set_result(None)
        return future


@pytest.mark.django_db
def test_enqueue_is_idempotent_per_channel_and_key(world, receiver):
    channel = webhook(world, receiver.url("/ok"))
    first = enqueue(channel, msg("k1"))
    assert enqueue(channel, msg("k1", subject="again")) == first
    assert Delivery.objects.count() == 1
    channel.enabled = False
    channel.save()
    assert enqueue(channel, msg("k2")) is None


@pytest.mark.django_db
def test_a_delivery_is_claimed_by_one_worker_only(world, receiver):
    channel = webhook(world, receiver.url("/ok"))
    delivery = enqueue(channel, msg("k"))
    now = timezone.now()
    assert claim(delivery.pk, "worker-a", now)
    assert not claim(delivery.pk, "worker-b", now)
    assert claim_due(10, "worker-b", now) == []
    # A worker that died mid-send loses its lease, and the delivery is claimed again.
    assert claim(delivery.pk, "worker-b", now + timedelta(minutes=3))
    delivery.refresh_from_db()
    assert delivery.leased_by == "worker-b" and delivery.attempts == 2


@pytest.mark.django_db
def test_sequential_claim_runs_split_the_work(world, receiver):
    channel = webhook(world, receiver.url("/ok"))
    for i in range(6):
        enqueue(channel, msg(f"k{i}"))
    now = timezone.now()
    a = {d.pk for d in claim_due(4, "a", now)}
    b = {d.pk for d in claim_due(4, "b", now)}
    assert len(a) == 4 and len(b) == 2 and not a & b


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_never_send_a_delivery_twice(world, receiver):
    """Real threads racing. SQLite's shared in-memory test database answers concurrent
    writers with "table is locked" (no busy timeout in shared-cache mode), so this runs on
    PostgreSQL; on SQLite the sequential tests above cover the claim."""
    if connection.vendor == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL (or a file-backed SQLite)")
    channel = webhook(world, receiver.url("/ok"))
    for i in range(30):
        enqueue(channel, msg(f"k{i}"))
    results: list[dict] = []
    barrier = threading.Barrier(2)

    def work(me: str) -> None:
        barrier.wait()
        try:
            for _ in range(5):
                results.append(deliver_due(limit=10, me=me))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(me,)) for me in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    sent = sum(r.get("sent", 0) for r in results)
    keys = Counter(r.headers["X-Steward-Delivery"] for r in receiver.requests)
    assert sent == 30 and len(keys) == 30 and max(keys.values()) == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENT}


@pytest.mark.django_db
def test_a_disabled_channel_keeps_its_queue_until_enabled(world, receiver):
    channel = webhook(world, receiver.url("/ok"))
    enqueue(channel, msg("k"))
    channel.enabled = False
    channel.save()
    assert deliver_due() == {}
    channel.enabled = True
    channel.save()
    assert deliver_due() == {"sent": 1}


@pytest.mark.django_db(transaction=True)
def test_send_now_delivers_in_well_under_a_second_after_commit(world, receiver):
    channel = webhook(world, receiver.url("/ok"))
    pool = ThreadPoolExecutor(2)
    with transaction.atomic():
        delivery = send_now(channel, msg("fast"), executor=pool)
        time.sleep(0.2)
        assert not receiver.arrived.is_set()  # nothing leaves before the commit
    started = time.monotonic()
    assert receiver.arrived.wait(1.0)
    assert time.monotonic() - started < 1.0
    pool.shutdown(wait=True)
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT and delivery.attempts == 1
    assert deliver_due() == {}  # the worker finds nothing left to do


@pytest.mark.django_db(transaction=True)
def test_send_now_falls_back_to_the_queue_when_the_attempt_fails(world, receiver):
    channel = webhook(world, receiver.url("/flaky"))
    pool = ThreadPoolExecutor(1)
    delivery = send_now(channel, msg("fast"), executor=pool)
    pool.shutdown(wait=True)
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED and delivery.attempts == 1
    later = timezone.now() + timedelta(hours=2)
    assert deliver_due(now=later) == {"failed": 1}
    assert deliver_due(now=later + timedelta(hours=2)) == {"sent": 1}


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_when_the_transaction_rolls_back(world, receiver):
    channel = webhook(world, receiver.url("/ok"))
    executor = RecordingExecutor()
    with pytest.raises(RuntimeError), transaction.atomic():
        send_now(channel, msg("rolled-back"), executor=executor)
        enqueue(channel, msg("also-rolled-back"))
        raise RuntimeError("the request failed")
    assert executor.submitted == []
    assert Delivery.objects.count() == 0
    assert deliver_due() == {}
    assert receiver.requests == []


@pytest.mark.django_db
def test_the_fast_path_is_dispatched_on_commit(world, receiver, django_capture_on_commit_callbacks):
    channel = webhook(world, receiver.url("/ok"))
    executor = RecordingExecutor()
    with django_capture_on_commit_callbacks(execute=True):
        delivery = send_now(channel, msg("k"), executor=executor)
        assert executor.submitted == []
    assert [args for _, args in executor.submitted] == [(delivery.pk,)]


@pytest.mark.django_db
def test_a_failing_channel_is_announced_once_per_episode(world, receiver, smtp):
    from tests.notify.conftest import email_channel

    broken = webhook(world, receiver.url("/down"), name="broken", max_attempts=10)
    mail = email_channel(world, smtp)
    heard: list = []

    def listener(sender, channel, health, **kwargs):
        heard.append((channel.pk, health.episode))

    health.channel_failing.connect(listener)
    try:
        now = timezone.now()
        for i in range(4):
            enqueue(broken, msg(f"k{i}"))
        deliver_due(now=now)  # one probe... then the channel turns failing after 3
        for _ in range(4):
            now += timedelta(hours=2)
            deliver_due(now=now)
        state = ChannelHealth.objects.get(channel=broken)
        assert state.state == "failing" and state.consecutive_failures >= 3
        assert heard == [(broken.pk, 1)]
        announcements = Delivery.objects.filter(event_kind="notify.channel_failing")
        assert list(announcements.values_list("channel_id", flat=True)) == [mail.pk]
        assert len(smtp.messages) == 1
        assert "broken" in smtp.messages[0][2]["Subject"]

        # It recovers, then fails again: a new episode, announced again.
        broken.config["url"] = receiver.url("/ok")
        broken.save()
        now += timedelta(hours=2)
        deliver_due(now=now)
        assert ChannelHealth.objects.get(channel=broken).state == "ok"
        broken.config["url"] = receiver.url("/bad")
        broken.save()
        enqueue(broken, msg("dead-at-once"))
        deliver_due(now=now + timedelta(hours=2))
        assert heard == [(broken.pk, 1), (broken.pk, 2)]
        assert announcements.count() == 2
    finally:
        health.channel_failing.disconnect(listener)


@pytest.mark.django_db
def test_a_failing_channel_gets_one_probe_per_run_and_others_go_on(world, receiver):
    broken = webhook(world, receiver.url("/down"), name="broken")
    fine = webhook(world, receiver.url("/ok"), name="fine")
    ChannelHealth.objects.create(channel=broken, state="failing", episode=1)
    for i in range(5):
        enqueue(broken, msg(f"b{i}"))
        enqueue(fine, msg(f"f{i}"))
    assert deliver_due() == {"failed": 1, "sent": 5}


@pytest.mark.django_db
def test_a_delivery_that_cannot_be_recorded_does_not_leave_the_others_unrecorded(
    world, receiver, monkeypatch
):
    channels = [webhook(world, receiver.url("/ok"), name=f"hook-{i}") for i in range(3)]
    for c in channels:
        enqueue(c, msg(f"k{c.pk}"))
    real, calls = health.record_success, []

    def broken_once(channel, now):
        calls.append(channel.pk)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return real(channel, now)

    monkeypatch.setattr(health, "record_success", broken_once)
    deliver_due()
    # Each one was sent once; none is left "sending" to be sent again when its lease ends.
    assert list(Delivery.objects.values_list("status", flat=True)) == [Status.SENT] * 3
    assert len(receiver.to("/ok")) == 3


@pytest.mark.django_db
def test_a_claimed_delivery_is_not_started_once_its_lease_could_run_out(
    world, receiver, monkeypatch
):
    """Claimed deliveries wait for a pool thread; one started late could still be sending
    when its lease expires, and another worker would then send it a second time."""
    from steward.notify import dispatch

    monkeypatch.setattr(dispatch, "POOL_SIZE", 1)
    monkeypatch.setattr(dispatch, "LEASE", timedelta(seconds=61))  # 1 s to start a send
    slow = webhook(world, receiver.url("/hang"), name="slow", timeout=1.5)
    first, second = enqueue(slow, msg("k1")), enqueue(slow, msg("k2"))
    try:
        counts = deliver_due()
    finally:
        receiver.release.set()
    assert len(receiver.to("/hang")) == 1  # the second was not started after 1.5 s
    second.refresh_from_db()
    first.refresh_from_db()
    assert (first.status, first.attempts) == (Status.FAILED, 1)
    assert (second.status, second.attempts, second.leased_by) == (Status.PENDING, 0, "")
    assert counts == {"failed": 1, "deferred": 1}
    assert claim(second.pk, "worker-b", timezone.now())  # due again at once


@pytest.mark.django_db
def test_a_hanging_channel_does_not_hold_the_other_channels_deliveries(world, receiver):
    """Claimed in queue order, a hanging channel's backlog filled every pool thread and the
    other channels' deliveries waited for its timeouts (up to 20 / 8 x 30 s)."""
    from steward.notify import dispatch

    hung = webhook(world, receiver.url("/hang"), name="hung", timeout=1.0)
    fine = webhook(world, receiver.url("/ok"), name="fine")
    for i in range(dispatch.POOL_SIZE + 1):
        enqueue(hung, msg(f"h{i}"))
    enqueue(fine, msg("f"))
    try:
        counts = deliver_due()
    finally:
        receiver.release.set()
    assert counts == {"failed": dispatch.POOL_SIZE + 1, "sent": 1}
    paths = [r.path for r in receiver.requests]
    assert paths.index("/ok") < dispatch.POOL_SIZE  # started in the first wave


@pytest.mark.django_db
def test_a_failing_channel_whose_announcement_failed_is_announced_later(
    world, receiver, monkeypatch
):
    """The episode was opened (stored) before the other channels were told: when telling
    them failed, the channel stayed "failing" and nobody ever heard of it."""
    broken = webhook(world, receiver.url("/bad"), name="broken")  # 400: dead at once
    other = webhook(world, receiver.url("/ok"), name="other")
    real, calls = health.enqueue, []

    def enqueue_once_down(channel, message):
        calls.append(channel.pk)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return real(channel, message)

    monkeypatch.setattr(health, "enqueue", enqueue_once_down)
    enqueue(broken, msg("k1"))
    deliver_due()
    enqueue(broken, msg("k2"))
    deliver_due()
    announced = Delivery.objects.filter(event_kind="notify.channel_failing", channel=other)
    assert announced.count() == 1
    assert ChannelHealth.objects.get(channel=broken).state == "failing"
