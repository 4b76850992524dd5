"""An append whose transaction fails leaves no trace in the store's caches.

The registry learns series ids, label sets and first/last bounds while an append's
transaction runs. Had it kept them when the transaction rolled back, the next append
would write to an id the database does not have: on SQLite the next new series takes
that id (INTEGER PRIMARY KEY without AUTOINCREMENT), so one series' samples would land
under another's labels; and cached bounds the database never got would hide samples from
reads that filter on series.first_ms/last_ms.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from steward.tsdb import TimeSeriesStore
from steward.tsdb.types import Sample
from tests.tsdb.conftest import T0
from tests.tsdb.helpers import labels, name_is, run


class DiskFull(Exception):
    """Stands in for a database error inside the transaction (disk full, I/O error)."""


def _fail_transactions(store: TimeSeriesStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write transaction of this store fails at its end, after all its statements
    (as a COMMIT that hits a full disk would), and is rolled back."""
    write = store.backend.write

    @contextlib.contextmanager
    def failing(conn: Any) -> Iterator[None]:
        with write(conn):
            yield
            raise DiskFull("database or disk is full")

    monkeypatch.setattr(store.backend, "write", failing)


def _values(store: TimeSeriesStore, metric: str, start: int, end: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for series in store.select([1], name_is(metric), start, end):
        out[series.labels["steward_device"]] = list(series.values)
    return out


def test_a_failed_append_teaches_the_registry_nothing(
    store: TimeSeriesStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = T0 - 600_000
    with monkeypatch.context() as patch:
        _fail_transactions(store, patch)
        with pytest.raises(DiskFull):
            store.append(1, run(labels("m", device="lost"), start, 3))
    # Nothing of the rolled-back series is cached.
    assert store.series_id(1, labels("m", device="lost")) is None
    assert not store.registry.labels
    assert not store.registry.bounds

    # A new series now; then the first one again: each keeps its own samples.
    store.append(1, [Sample(labels("m", device="other"), start, 7.0)])
    store.append(1, run(labels("m", device="lost"), start, 3))
    assert _values(store, "m", start - 1, start + 60_000) == {
        "other": [7.0],
        "lost": [0.0, 1.0, 2.0],
    }
    ids = {store.series_id(1, labels("m", device=d)) for d in ("other", "lost")}
    assert len(ids) == 2 and None not in ids


def test_a_failed_append_does_not_widen_the_cached_bounds(
    make_store: Callable[..., TimeSeriesStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store()
    start = T0 - 4 * 60 * 60_000
    lbls = labels("m", device="d1")
    store.append(1, [Sample(lbls, start, 1.0)])
    before = dict(store.registry.bounds)
    later = T0 - 60_000  # far beyond the bounds' slack
    with monkeypatch.context() as patch:
        _fail_transactions(store, patch)
        with pytest.raises(DiskFull):
            store.append(1, [Sample(lbls, later, 2.0)])
    assert store.registry.bounds == before

    # The retry widens series.last_ms in the database too: a reader (another process,
    # which trusts the table) finds the sample.
    store.append(1, [Sample(lbls, later, 2.0)])
    reader = make_store()
    assert _values(reader, "m", later - 1, later + 1) == {"d1": [2.0]}
