"""The worker: jobs claimed through the database, offline transitions recorded once."""

from __future__ import annotations

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
