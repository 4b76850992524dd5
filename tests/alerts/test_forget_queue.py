"""``runtime.forget`` drops queued inputs: a failed feeder round no longer stalls ``settle``.

A round that fails (database error, lost races) keeps its inputs queued for the next round
of that organization. Nothing retries by itself, so ``settle`` (tests' teardown) waited its
whole timeout, 10 s, in every later test, unless ``forget`` drops the queue as it drops the
engines.
"""

from __future__ import annotations

import time

import pytest

from steward.alerting.model import Sample
from steward.alerts import runtime

ORG = 4242  # no database: the rounds are replaced below


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Rounds:
    """Stands in for the engine's rounds: records each batch, fails while ``failing``."""

    def __init__(self) -> None:
        self.batches: list[list[Sample]] = []
        self.failing = True

    def __call__(self, organization_id: int, batch: list[Sample], at: float | None) -> list:
        self.batches.append(list(batch))
        if self.failing:
            raise RuntimeError("database is unavailable")
        return []


@pytest.fixture
def rounds(monkeypatch) -> Rounds:
    fake = Rounds()
    monkeypatch.setattr(runtime, "_run_batch", fake)
    # Outside a test transaction and on a file database, inputs go to the feeder thread.
    monkeypatch.setattr(runtime, "feed_inline", lambda: False)
    return fake


def test_forget_drops_the_inputs_a_failed_round_left_queued(rounds):
    old = Sample("queue_probe", {}, 1_700_000_000.0, 1.0)
    runtime.observe_soon(ORG, [old])
    wait_until(lambda: len(rounds.batches) == 1)
    assert not runtime.settle(timeout=0.3)  # still queued: nothing will evaluate them

    runtime.forget()
    started = time.monotonic()
    assert runtime.settle(timeout=2.0)
    assert time.monotonic() - started < 1.0

    # The dropped input is never evaluated: the organization's next round has only its own.
    rounds.failing = False
    new = Sample("queue_probe", {}, 1_700_000_060.0, 2.0)
    runtime.observe_soon(ORG, [new])
    wait_until(lambda: len(rounds.batches) == 2)
    assert runtime.settle(timeout=2.0)
    assert rounds.batches == [[old], [new]]
