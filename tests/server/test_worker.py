"""The worker: jobs claimed through the database, offline transitions recorded once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from steward.inventory import presence
from steward.inventory.models import StatusChange
from steward.jobs import worker
from steward.jobs.models import JobState
from steward.jobs.schedule import Job

pytestmark = pytest.mark.django_db

calls: list[str] = []
JOBS = (Job("count", timedelta(minutes=1), lambda: calls.append("ran")),)


@pytest.fixture(autouse=True)
def _reset():
    calls.clear()


def test_a_due_job_runs_once_across_workers():
    worker.ensure_rows(JOBS)
    assert worker.run_due(JOBS, me="a") == ["count"]
    assert worker.run_due(JOBS, me="b") == []  # not due again for a minute
    state = JobState.objects.get(name="count")
    assert state.runs == 1 and state.leased_by == "" and state.next_run_at > timezone.now()
    assert calls == ["ran"]


def test_a_held_lease_blocks_other_workers_until_it_expires():
    worker.ensure_rows(JOBS)
    job = JOBS[0]
    assert worker.claim(job, "a")
    assert not worker.claim(job, "b")
    JobState.objects.filter(name="count").update(lease_until=timezone.now() - timedelta(seconds=1))
    assert worker.claim(job, "b")


def test_a_failing_job_is_recorded_and_rescheduled():
    def boom():
        raise RuntimeError("disk on fire")

    jobs = (Job("boom", timedelta(minutes=5), boom),)
    worker.ensure_rows(jobs)
    assert worker.run_due(jobs, me="a") == ["boom"]
    state = JobState.objects.get(name="boom")
    assert "disk on fire" in state.last_error and state.lease_until is None


def test_silent_devices_are_recorded_offline_once(world):
    device = world.acme_device
    presence.record_contact(device)
    assert StatusChange.objects.filter(device=device, status="online").count() == 1
    type(device).objects.filter(pk=device.pk).update(
        last_seen=timezone.now() - timedelta(minutes=5)
    )
    assert presence.record_offline_devices() == 1
    assert presence.record_offline_devices() == 0
    device.refresh_from_db()
    assert device.recorded_status == "offline" and device.status == "offline"
    presence.record_contact(device)
    assert list(StatusChange.objects.filter(device=device).values_list("status", flat=True)) == [
        "online",
        "offline",
        "online",
    ]


def test_leases_of_dead_workers_on_this_host_are_released():
    import socket

    worker.ensure_rows(JOBS)
    JobState.objects.filter(name="count").update(
        lease_until=timezone.now() + timedelta(minutes=5),
        leased_by=f"{socket.gethostname()}:999999999",
    )
    assert worker.release_dead_leases() == 1
    assert worker.claim(JOBS[0], "b")


def test_a_lease_is_renewed_only_by_its_holder():
    worker.ensure_rows(JOBS)
    assert worker.claim(JOBS[0], "a", worker.LEASE)
    JobState.objects.filter(name="count").update(lease_until=timezone.now() + timedelta(seconds=1))
    assert worker.renew(["count"], "b") == 0
    assert worker.renew(["count"], "a") == 1
    left = JobState.objects.get(name="count").lease_until - timezone.now()
    assert left > worker.LEASE - timedelta(seconds=5)
    assert not worker.claim(JOBS[0], "b")


def test_a_job_running_on_another_worker_does_not_wake_the_loop_until_its_lease_ends():
    worker.ensure_rows(JOBS)
    now = timezone.now()
    JobState.objects.filter(name="count").update(
        next_run_at=now - timedelta(seconds=1),
        lease_until=now + timedelta(seconds=20),
        leased_by="elsewhere:1",
    )
    assert 15 < worker._seconds_until_next(JOBS, 30.0) <= 20
    JobState.objects.filter(name="count").update(lease_until=now - timedelta(seconds=1))
    assert worker._seconds_until_next(JOBS, 30.0) == 0.05  # expired: claim it now


@pytest.mark.django_db(transaction=True)
def test_the_loop_keeps_renewing_the_lease_of_a_job_that_outlives_it(monkeypatch):
    """A job running longer than the lease is never claimed by a second worker while the
    first one lives, including while the first one is shutting down."""
    import threading

    monkeypatch.setattr(worker, "LEASE", timedelta(seconds=1))
    monkeypatch.setattr(worker, "RENEW_EVERY", 0.2)
    started, release = threading.Event(), threading.Event()

    def long_job() -> None:
        started.set()
        release.wait(10)

    jobs = (Job("long", timedelta(minutes=1), long_job),)
    stop = threading.Event()
    loop = threading.Thread(target=worker.loop, args=(stop, 0.1, 2, jobs))
    loop.start()
    try:
        assert started.wait(10)
        for _ in range(2):  # twice the lease, while running
            time.sleep(1)
            assert not worker.claim(jobs[0], "other", worker.LEASE)
        stop.set()
        time.sleep(1.5)  # and while the worker waits for it at shutdown
        assert not worker.claim(jobs[0], "other", worker.LEASE)
        assert loop.is_alive()
    finally:
        release.set()
        stop.set()
        loop.join(10)
    state = JobState.objects.get(name="long")
    assert state.runs == 1 and state.leased_by == ""
