"""Webhooks against a real HTTP receiver on loopback; time moves through ``now=``."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from steward.notify.channels.webhook.transport import verify
from steward.notify.dispatch import deliver_due
from steward.notify.message import Message, Severity
from steward.notify.models import Delivery, Status
from steward.notify.queue import enqueue
from tests.notify.conftest import webhook

pytestmark = pytest.mark.django_db


def no_jitter() -> float:
    return 0.0  # equal jitter at its floor: waits are exactly half the nominal delay


def alert(key: str = "alert:1:firing") -> Message:
    return Message(
        subject="Disk almost full on acme-ws-01",
        text="/ is 97% full",
        severity=Severity.CRITICAL,
        event_kind="alert.firing",
        labels={"device": "acme-ws-01", "mount": "/"},
        idempotency_key=key,
    )


def test_it_posts_json_signed_with_the_channel_secret(world, receiver):
    channel = webhook(world, receiver.url("/ok"))
    enqueue(channel, alert())
    assert deliver_due() == {"sent": 1}
    (request,) = receiver.requests
    assert verify("s3cret-hmac", request.body, request.headers["X-Steward-Signature"])
    assert request.headers["X-Steward-Signature"].startswith("sha256=")
    assert abs(int(request.headers["X-Steward-Timestamp"]) - time.time()) < 60
    assert request.headers["X-Steward-Delivery"] == "alert:1:firing"
    body = json.loads(request.body)
    assert body["subject"] == "Disk almost full on acme-ws-01"
    assert body["severity"] == "critical" and body["labels"]["mount"] == "/"
    delivery = Delivery.objects.get()
    assert delivery.status == Status.SENT and delivery.sent_at is not None
    assert not verify("another-secret", request.body, request.headers["X-Steward-Signature"])


def test_server_errors_are_retried_with_backoff_until_delivered(world, receiver):
    channel = webhook(world, receiver.url("/flaky"))
    enqueue(channel, alert())
    t0 = timezone.now()

    assert deliver_due(now=t0, rng=no_jitter) == {"failed": 1}
    delivery = Delivery.objects.get()
    assert delivery.next_attempt_at == t0 + timedelta(seconds=15)  # 30 s nominal, floor 1/2
    assert deliver_due(now=t0 + timedelta(seconds=14), rng=no_jitter) == {}  # not due yet

    t1 = t0 + timedelta(seconds=15)
    assert deliver_due(now=t1, rng=no_jitter) == {"failed": 1}
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == t1 + timedelta(seconds=30)  # doubled
    assert "HTTP 500" in delivery.last_error

    assert deliver_due(now=t1 + timedelta(seconds=30), rng=no_jitter) == {"sent": 1}
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT and delivery.attempts == 3 and delivery.last_error == ""
    log = list(delivery.attempt_log.values_list("number", "ok"))
    assert log == [(1, False), (2, False), (3, True)]
    # The same delivery id and a valid signature on every try: receivers can dedupe.
    assert {r.headers["X-Steward-Delivery"] for r in receiver.to("/flaky")} == {"alert:1:firing"}
    assert all(
        verify("s3cret-hmac", r.body, r.headers["X-Steward-Signature"]) for r in receiver.requests
    )


def test_a_client_error_is_permanent_and_dead_at_once(world, receiver):
    channel = webhook(world, receiver.url("/bad"))
    enqueue(channel, alert())
    assert deliver_due() == {"dead": 1}
    delivery = Delivery.objects.get()
    assert delivery.attempts == 1 and "HTTP 400" in delivery.last_error
    assert delivery.attempt_log.get().permanent
    assert deliver_due(now=timezone.now() + timedelta(days=1)) == {}


def test_too_many_requests_is_retried_not_dead(world, receiver):
    channel = webhook(world, receiver.url("/busy"))
    enqueue(channel, alert())
    assert deliver_due() == {"failed": 1}


def test_it_goes_dead_after_max_attempts(world, receiver):
    channel = webhook(world, receiver.url("/down"), max_attempts=5)
    enqueue(channel, alert())
    now = timezone.now()
    results = []
    for _ in range(6):
        results.append(deliver_due(now=now, rng=no_jitter))
        now += timedelta(hours=2)  # beyond any backoff (capped at one hour)
    assert results == [{"failed": 1}] * 4 + [{"dead": 1}, {}]
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == Status.DEAD and delivery.attempts == 5
    assert delivery.attempt_log.count() == 5 and len(receiver.to("/down")) == 5


def test_a_hanging_endpoint_times_out_and_does_not_hold_up_other_channels(world, receiver):
    hanging = webhook(world, receiver.url("/hang"), name="hanging", timeout=0.5)
    healthy = webhook(world, receiver.url("/ok"), name="healthy")
    enqueue(hanging, alert())
    enqueue(healthy, alert())
    started = time.monotonic()
    assert deliver_due() == {"failed": 1, "sent": 1}
    assert time.monotonic() - started < 3
    assert Delivery.objects.get(channel=healthy).status == Status.SENT
    stuck = Delivery.objects.get(channel=hanging)
    assert stuck.status == Status.FAILED and "timed out after 0.5s" in stuck.last_error


def test_an_unreachable_receiver_is_retried(world):
    channel = webhook(world, "http://127.0.0.1:9/nothing-listens-here")
    enqueue(channel, alert())
    assert deliver_due() == {"failed": 1}
    assert Delivery.objects.get().last_error.startswith("webhook: ConnectError")
