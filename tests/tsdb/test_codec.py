"""The chunk codec is lossless, bit for bit, and compact on regular data."""

from __future__ import annotations

import numpy as np
import pytest

from steward.tsdb import codec


def round_trip(ts: np.ndarray, *cols: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    got_ts, got_cols = codec.decode(codec.encode(ts, list(cols)))
    assert got_ts.tolist() == ts.tolist()
    for want, got in zip(cols, got_cols, strict=True):
        assert want.view(np.uint64).tolist() == got.view(np.uint64).tolist()
    return got_ts, got_cols


@pytest.mark.parametrize("seed", range(5))
def test_random_floats_come_back_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 500))
    ts = np.cumsum(rng.integers(1, 100_000, n)) + 1_764_000_000_000
    values = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)
    round_trip(ts, values)


def test_special_values_survive() -> None:
    ts = np.arange(8, dtype=np.int64) * 1000
    values = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 5e-324, 1.7976931348623157e308, 2.5])
    round_trip(ts, values)


def test_decimal_and_integer_columns_come_back_exactly() -> None:
    ts = np.arange(360, dtype=np.int64) * 10_000
    rng = np.random.default_rng(1)
    cpu = np.round(12345.67 + np.cumsum(rng.random(360) * 9.9), 2)
    counter = np.cumsum(rng.integers(0, 10**6, 360)).astype(np.float64) + 2.0**50
    negative = -np.round(rng.random(360) * 100, 1)
    round_trip(ts, cpu, counter, negative)


def test_regular_series_cost_little() -> None:
    ts = 1_764_000_000_000 + np.arange(360, dtype=np.int64) * 10_000
    constant = np.full(360, 3.0)
    assert len(codec.encode(ts, [constant])) < 100  # ~0.2 byte per sample


def test_empty_and_single_row_chunks() -> None:
    round_trip(np.empty(0, np.int64), np.empty(0))
    round_trip(np.array([42], np.int64), np.array([1.5]))


def test_corrupt_chunk_raises_a_typed_error() -> None:
    with pytest.raises(codec.ChunkError):
        codec.decode(b"not zlib")
