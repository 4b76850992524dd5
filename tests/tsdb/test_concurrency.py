"""Several writers on one store lose nothing: threads of one process, and processes (the
web server's replicas and the worker) on one SQLite file or PostgreSQL schema."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable

from steward.tsdb import TimeSeriesStore, open_store
from steward.tsdb.types import HOUR_MS, Sample
from tests.tsdb.conftest import T0, Clock
from tests.tsdb.helpers import labels, name_is

ORG = 1
BATCHES = 20
PER_BATCH = 500  # 50 series x 10 timestamps


def writer_batches(writer: int) -> list[list[Sample]]:
    """Each writer its own devices and a shared one (same series, same timestamps)."""
    out = []
    for b in range(BATCHES):
        batch = []
        for s in range(50):
            device = "shared" if s < 10 else f"w{writer}"
            lbls = labels("node_load1", device, n=str(s))
            for i in range(10):
                ts = T0 - HOUR_MS + (b * 10 + i) * 10_000
                batch.append(Sample(lbls, ts, float(i)))
        out.append(batch)
    return out


def _append_all(target: str, schema: str, writer: int) -> tuple[int, int]:
    store = open_store(target, schema=schema, clock=Clock())
    accepted = duplicates = 0
    try:
        for batch in writer_batches(writer):
            result = store.append(ORG, batch)
            assert result.rejected == 0, result.errors
            accepted += result.accepted
            duplicates += result.duplicates
            if writer == 0:
                store.maintain(T0 + 2 * HOUR_MS)  # compaction racing the other writer
    finally:
        store.close()
    return accepted, duplicates


def _check(store: TimeSeriesStore, totals: list[tuple[int, int]]) -> None:
    got = store.select([ORG], name_is("node_load1"), T0 - 2 * HOUR_MS, T0)
    # 10 shared series + 40 per writer, 200 samples each.
    assert len(got) == 10 + 2 * 40
    assert all(len(s.timestamps) == BATCHES * 10 for s in got)
    accepted = sum(a for a, _ in totals)
    duplicates = sum(d for _, d in totals)
    assert accepted == len(got) * BATCHES * 10
    assert accepted + duplicates == 2 * BATCHES * PER_BATCH


def test_two_threads_appending_lose_nothing(
    store: TimeSeriesStore, target: tuple[str, str]
) -> None:
    totals: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def work(writer: int) -> None:
        try:
            totals.append(_append_all(target[0], target[1], writer))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _check(store, totals)


def test_two_processes_appending_lose_nothing(
    make_store: Callable[..., TimeSeriesStore], target: tuple[str, str]
) -> None:
    store = make_store()  # creates the schema before the writers start
    ctx = multiprocessing.get_context("spawn")  # no inherited database connections
    with ctx.Pool(2) as pool:
        totals = pool.starmap(_append_all, [(target[0], target[1], w) for w in (0, 1)])
    _check(store, totals)
