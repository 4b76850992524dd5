"""The chunk codec is lossless, bit for bit, and compact on regular data."""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path

import cramjam
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


def layout_of(blob: bytes) -> bytes:
    """The uncompressed layout of a version 3 chunk (byte 3, then an LZ4 block)."""
    assert blob[0] == 3
    return bytes(cramjam.lz4.decompress_block(blob[1:]))


def lz4_chunk(layout: bytes) -> bytes:
    return b"\x03" + bytes(cramjam.lz4.compress_block(layout))


def test_corrupt_version_3_chunks_raise_a_typed_error() -> None:
    ts = np.arange(360, dtype=np.int64) * 10_000
    blob = codec.encode(ts, [np.sin(ts / 1e5)])
    huge = b"\x03" + struct.pack("<I", 2**31) + blob[5:]  # stated size no block can hold
    short = b"\x03" + struct.pack("<I", len(layout_of(blob)) + 1) + blob[5:]
    shorter_layout = lz4_chunk(layout_of(blob)[:-1])  # decompresses, but one byte short
    as_v2 = lz4_chunk(b"\x02" + layout_of(blob)[1:])  # only version 3 goes in LZ4
    in_zlib = zlib.compress(layout_of(blob))  # nor does version 3 go in zlib
    for bad in (b"\x03", b"\x03\x01\x00", blob[:-7], huge, short, shorter_layout, as_v2, in_zlib):
        with pytest.raises(codec.ChunkError):
            codec.decode(bad)
        with pytest.raises(codec.ChunkError):
            codec.decode_many([blob, bad])


Chunk = tuple[np.ndarray, list[np.ndarray]]


def mixed_chunks(k: int) -> list[Chunk]:
    """Chunks of many shapes: evenly spaced and jittered times, 0-3 and 360 rows, decimal
    and XOR columns, NaN; several of each shape so the batch decoder groups them."""
    rng = np.random.default_rng(3)
    chunks = []
    for i in range(60):
        n = [360, 360, 360, 2, 3, 1, 0, 359][i % 8]
        ts = 1_764_000_000_000 + i * 3_600_000 + np.arange(n, dtype=np.int64) * 10_000
        if i % 3 == 1:
            ts = ts + np.sort(rng.integers(0, 5_000, n))  # jittered (still increasing)
        cols = []
        for c in range(k):
            if (i + c) % 2:
                col = np.round(1e5 + np.cumsum(rng.uniform(0, 9, n)), 2)  # decimal mode
            else:
                col = rng.standard_normal(n) * 1e3  # XOR mode
            if n and i % 5 == 0:
                col[n // 2] = np.nan
            cols.append(col)
        chunks.append((ts, cols))
    return chunks


def bits(values: np.ndarray) -> list[int]:
    return values.view(np.uint64).tolist()


@pytest.mark.parametrize("k", [1, 5])
def test_decode_many_gives_every_chunk_back_in_order(k: int) -> None:
    chunks = mixed_chunks(k)
    ts, cols, sizes = codec.decode_many([codec.encode(t, c) for t, c in chunks])
    assert sizes.tolist() == [len(t) for t, _ in chunks]
    assert ts.tolist() == np.concatenate([t for t, _ in chunks]).tolist()
    assert len(cols) == k
    for c in range(k):
        assert bits(cols[c]) == bits(np.concatenate([cs[c] for _, cs in chunks]))


def test_decode_many_of_one_shape_keeps_the_order() -> None:
    ts = np.arange(360, dtype=np.int64) * 10_000
    blobs = [codec.encode(ts + h * 3_600_000, [np.full(360, float(h))]) for h in range(4)]
    got_ts, [values], sizes = codec.decode_many(blobs)
    assert sizes.tolist() == [360] * 4
    assert got_ts.tolist() == (np.arange(1440) * 10_000).tolist()
    assert values.tolist() == [float(h) for h in range(4) for _ in range(360)]


def test_decode_many_of_nothing() -> None:
    ts, cols, sizes = codec.decode_many([])
    assert (len(ts), cols, len(sizes)) == (0, [], 0)


def test_decode_many_refuses_what_it_cannot_decode() -> None:
    ts = np.arange(4, dtype=np.int64)
    one, five = codec.encode(ts, [ts * 1.0]), codec.encode(ts, [ts * 1.0] * 5)
    for blobs in ([one, five], [one, b"not zlib"], [zlib.compress(b"\x02\x01")]):
        with pytest.raises(codec.ChunkError):
            codec.decode_many(blobs)
    single = bytearray(layout_of(codec.encode(ts[:1], [ts[:1] * 1.0])))
    single[codec._HEADER.size] = 7  # the column's mode byte (one row: no ts section)
    with pytest.raises(codec.ChunkError, match="mode 7"):
        codec.decode_many([lz4_chunk(bytes(single))])
    single[0] = 2  # the same in a version 2 chunk
    with pytest.raises(codec.ChunkError, match="mode 7"):
        codec.decode_many([zlib.compress(bytes(single))])
    with pytest.raises(codec.ChunkError, match="version 4"):
        codec.decode(zlib.compress(b"\x04" + bytes(single[1:])))


# Chunks written by the version 1 encoder (every byte plane stored), as stored by
# Steward releases before version 2: they must stay readable.
T = 1_764_388_800_000
V1_CHUNKS: list[tuple[str, list[int], list[list[float]]]] = [
    (
        "789c636464630082b62367673132302880d87e0c040123139f4b13c32aa6b50ccc0c6a0caa8435300000"
        "965e05a7",
        [T + i * 10_000 for i in range(6)],
        [[12345.67, 12346.01, 12350.5, 12350.5, 12399.99, 12400.0]],
    ),
    (
        "789c636464616060a8683b7276162303c3149135be0ccc0cd8012336c11f4068eff0bf01003a9d08c4",
        [T + 120, T + 10_050, T + 19_990, T + 30_400],
        [[1.5, math.nan, -0.0, 5e-324]],
    ),
    (
        "789c636465660082b62367673132301c60b8c2c0c880008c8c2222b20cd80023a30d2e1926912f5b59"
        "1999b1c830703032620a834dd3d0c06e1a006464074a",
        [T, T + 60_000, T + 120_000],
        [[1.0, 2.0, 0.5], [3.0, 4.0, 2.5], [6.5, 9.0, 4.25], [4.0, 3.0, 2.0], [2.0, 4.0, 2.5]],
    ),
]


@pytest.mark.parametrize("blob, stamps, columns", V1_CHUNKS)
def test_version_1_chunks_still_decode(blob: str, stamps: list[int], columns: list) -> None:
    data = bytes.fromhex(blob)
    assert zlib.decompress(data)[0] == 1
    for ts, cols in (codec.decode(data), codec.decode_many([data, data])[:2]):
        repeat = len(ts) // len(stamps)
        assert ts.tolist() == stamps * repeat
        for got, want in zip(cols, columns, strict=True):
            assert bits(got) == bits(np.array(want * repeat))


def test_new_chunks_are_version_3_and_little_larger_than_version_2() -> None:
    ts = 1_764_000_000_000 + np.arange(360, dtype=np.int64) * 10_000
    rng = np.random.default_rng(2)
    cpu = np.round(1e5 + np.cumsum(rng.uniform(0, 9, 360)), 2)
    blob = codec.encode(ts, [cpu])
    assert blob[0] == layout_of(blob)[0] == codec.VERSION == 3
    # Version 1 stored the 8 planes of all 360 timestamps and values: 5,776 bytes before
    # zlib. Versions 2 and 3 keep the two non-zero planes of the values' deltas, 752.
    assert len(layout_of(blob)) < 1000
    assert len(blob) < 780  # version 2 (zlib) made 645 bytes of these, version 1 678


# Chunks written by the version 2 encoder (zlib of the planes layout), as stored by
# Steward releases before version 3, with the timestamps and float64 bit patterns.
V2_CHUNKS = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "tsdb" / "chunks_v2.json").read_text()
)["chunks"]


@pytest.mark.parametrize("chunk", V2_CHUNKS, ids=[c["name"] for c in V2_CHUNKS])
def test_version_2_chunks_still_decode(chunk: dict) -> None:
    data = bytes.fromhex(chunk["blob"])
    assert zlib.decompress(data)[0] == 2
    ts, cols = codec.decode(data)
    assert ts.tolist() == chunk["timestamps"]
    assert [bits(c) for c in cols] == chunk["columns"]
    # ... and as version 3 again, bit for bit, alone and batched with the old chunk.
    again = codec.encode(ts, cols)
    assert again[0] == 3
    many_ts, many_cols, sizes = codec.decode_many([data, again, data])
    assert sizes.tolist() == [len(ts)] * 3
    assert many_ts.tolist() == chunk["timestamps"] * 3
    assert [bits(c) for c in many_cols] == [want * 3 for want in chunk["columns"]]


def test_versions_1_2_and_3_decode_together() -> None:
    """A store compacted before and after an upgrade hands decode_many all three."""
    old = [bytes.fromhex(c["blob"]) for c in V2_CHUNKS if len(c["columns"]) == 1]
    old += [bytes.fromhex(blob) for blob, _, columns in V1_CHUNKS if len(columns) == 1]
    want = [codec.decode(b) for b in old]
    blobs = [x for (t, c), b in zip(want, old, strict=True) for x in (b, codec.encode(t, c))]
    ts, [values], sizes = codec.decode_many(blobs)
    assert sizes.tolist() == [len(t) for t, _ in want for _ in range(2)]
    assert ts.tolist() == np.concatenate([t for t, _ in want for _ in range(2)]).tolist()
    assert bits(values) == bits(np.concatenate([c[0] for _, c in want for _ in range(2)]))


def _mixed_chunks(seed: int, k: int) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """Chunks of every shape compaction meets: lengths 0-361 (several of each, so they
    are encoded as groups), decimal counters, random floats, NaN, -0.0, huge integers,
    constant and evenly spaced runs."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(400):
        n = int(rng.choice([0, 1, 2, 3, 5, 30, 360, 361]))
        ts = np.sort(rng.choice(10**7, n, replace=False)).astype(np.int64) + 1_764_000_000_000
        if i % 7 == 6:
            ts = np.arange(n, dtype=np.int64) * 10_000 + 1_764_000_000_000
        kinds = [
            np.round(rng.random(n) * 100, 2),
            rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n),
            np.cumsum(rng.integers(0, 5000, n)).astype(np.float64),
            np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
            np.full(n, -0.0),
            np.round(rng.random(n) * 1e20),
            np.full(n, 3.0),
        ]
        out.append((ts, [kinds[(i + j) % len(kinds)] for j in range(k)]))
    return out


@pytest.mark.parametrize(("seed", "k"), [(0, 1), (1, 5), (2, 1)])
def test_encode_many_encodes_each_chunk_as_alone_and_losslessly(seed: int, k: int) -> None:
    chunks = _mixed_chunks(seed, k)
    sizes = np.array([len(ts) for ts, _ in chunks], dtype=np.int64)
    ts = np.concatenate([t for t, _ in chunks])
    cols = [np.concatenate([c[j] for _, c in chunks]) for j in range(k)]
    blobs = codec.encode_many(ts, cols, sizes)
    assert blobs == [codec.encode(t, c) for t, c in chunks]
    for blob, (t, c) in zip(blobs, chunks, strict=True):
        got_ts, got_cols = codec.decode(blob)
        assert np.array_equal(got_ts, t)
        for got, want in zip(got_cols, c, strict=True):
            assert np.array_equal(got.view(np.uint64), want.view(np.uint64))
    assert codec.encode_many(ts[:0], [c[:0] for c in cols], sizes[:0]) == []
