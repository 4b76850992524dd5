"""The engine's state row under writers in other processes (the worker, replicas)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import F

from steward.alerts import runtime
from steward.alerts.models import EngineState


@pytest.fixture
def fresh_engines():
    runtime.forget()
    yield
    runtime.forget()


def test_a_round_that_keeps_losing_races_finally_runs_holding_the_row(
    transactional_db, world, fresh_engines
):
    # Another process writes the state between every read and write of ours, as the
    # worker did while a busy server serialised a large state: each optimistic attempt
    # loses. The round must still run, once, instead of failing after five tries.
    org = world.acme.pk
    runtime.state_row(org)
    calls: list[bool] = []

    def call(engine, now):
        holding = connection.in_atomic_block
        calls.append(holding)
        if not holding:  # a writer elsewhere gets in first (it would wait for our lock)
            EngineState.objects.filter(organization_id=org).update(version=F("version") + 1)
        return []

    before = EngineState.objects.get(organization_id=org).version

    assert runtime.run(org, call) == []

    assert calls == [False] * (runtime.MAX_RETRIES - 1) + [True]
    # every other writer's bump and ours: nothing was lost
    assert EngineState.objects.get(organization_id=org).version == before + runtime.MAX_RETRIES


def test_a_round_without_races_takes_no_lock(transactional_db, world, fresh_engines):
    org = world.acme.pk
    calls: list[bool] = []
    runtime.run(org, lambda engine, now: calls.append(connection.in_atomic_block) or [])
    assert calls == [False]
