"""maintain() leaves the write lock to ingest between its steps.

With 1,000 simulated devices the worker's compaction took the store's write lock step
after step (0.2-0.6 s each) and the server's ingest threads, queued on the same lock, got
a turn per step at best: seconds of backlog, and heartbeats behind it. After each step that
held the lock long enough to matter, a run now leaves it free for as long as it held it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest

from steward.tsdb import TimeSeriesStore, maintenance
from steward.tsdb.types import HOUR_MS, MINUTE_MS, Sample
from tests.tsdb.conftest import T0
from tests.tsdb.helpers import labels, run

ORG = 1
STEP_HOLD_S = 0.06  # each step holds the lock at least this long (above YIELD_FROM_S)


def test_ingest_gets_the_lock_between_compaction_steps(
    make_store: Callable[..., TimeSeriesStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store()
    ingest = make_store()
    for device in range(6):  # six series below the watermark, one compaction step each
        store.append(ORG, run(labels(device=str(device)), T0 - 2 * HOUR_MS, 60))
    # The sender's series exists before the run reads the highest series id, so the run
    # has seven ranges whoever wins the first lock (CI once saw the sender's first append
    # come first: seven steps where six were expected). Its samples are above the
    # watermark: the seventh step compacts nothing but still holds the lock.
    assert (
        ingest.append(ORG, [Sample(labels(device="ingest"), T0 - MINUTE_MS - 1, 0.0)]).accepted == 1
    )
    monkeypatch.setattr(maintenance, "SERIES_PER_STEP", 1)
    monkeypatch.setattr(maintenance, "MAX_SERIES_PER_STEP", 1)
    steps: list[tuple[float, float]] = []  # (lock taken, work done) of each step
    compact_range = maintenance._compact_range

    def slow_step(*args: Any) -> None:
        taken = time.monotonic()
        compact_range(*args)
        time.sleep(STEP_HOLD_S)  # a step as long as a big fleet's, still holding the lock
        steps.append((taken, time.monotonic()))

    monkeypatch.setattr(maintenance, "_compact_range", slow_step)
    writes: list[float] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def send() -> None:
        i = 0
        try:
            while not stop.is_set():
                sample = Sample(labels(device="ingest"), T0 - MINUTE_MS + i, float(i))
                assert ingest.append(ORG, [sample]).accepted == 1
                writes.append(time.monotonic())
                i += 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    pauses: list[float] = []

    def pause(seconds: float) -> None:
        # The run's own pause, then a wait (bounded) for the sender's next few appends:
        # they can only happen if the lock really is free. A bare 60 ms pause left it to
        # the scheduler (a loaded CI machine, PostgreSQL's commits: 1-2 appends).
        pauses.append(seconds)
        before = len(writes)
        time.sleep(seconds)
        deadline = time.monotonic() + 5
        while len(writes) < before + 3 and time.monotonic() < deadline:
            time.sleep(0.001)

    monkeypatch.setattr(maintenance, "_pause", pause)
    sender = threading.Thread(target=send)
    sender.start()
    try:
        result = store.maintain()
    finally:
        stop.set()
        sender.join()
    assert errors == []
    assert result.compacted_samples == 6 * 60
    assert len(steps) == 7
    # Between one step's end and the next one's start, ingest wrote again and again (the
    # pause is as long as the step, ~60 ms; one append takes about a millisecond). A run
    # that went straight on to its next step let one queued append in at most.
    between = [
        sum(1 for w in writes if done < w < next_taken)
        for (_, done), (next_taken, _) in pairwise(steps)
    ]
    assert all(n >= 3 for n in between), between
    # Each step held the lock at least STEP_HOLD_S and paused as long (one may be shorter:
    # the last step's pause is cut at the run's end).
    assert sum(p >= STEP_HOLD_S for p in pauses) >= 6, pauses


def test_short_steps_do_not_pause(
    make_store: Callable[..., TimeSeriesStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small store's run is not slowed: steps shorter than YIELD_FROM_S go on at once."""
    store = make_store()
    for device in range(20):
        store.append(ORG, run(labels(device=str(device)), T0 - 2 * HOUR_MS, 60))
    monkeypatch.setattr(maintenance, "SERIES_PER_STEP", 1)
    monkeypatch.setattr(maintenance, "MAX_SERIES_PER_STEP", 1)
    slept: list[float] = []
    monkeypatch.setattr(maintenance, "_pause", slept.append)
    monkeypatch.setattr(maintenance, "YIELD_FROM_S", 10.0)
    assert store.maintain().compacted_samples == 20 * 60
    assert slept == []
    monkeypatch.setattr(maintenance, "YIELD_FROM_S", 0.0)
    for device in range(20):
        store.append(ORG, run(labels(device=str(device)), T0 - 2 * HOUR_MS + 600_000, 3))
    assert store.maintain().compacted_samples == 20 * 3
    assert len(slept) >= 20  # every step paused, for as long as it held the lock
    assert all(0.0 <= s <= maintenance.YIELD_AT_MOST_S for s in slept)
