"""The spool: durable, ordered, bounded, and robust to what a crash or a disk leaves."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from steward.agent.spool import QUARANTINE_DIR, Spool, SpoolCorrupt


def batch(number: int, points: int = 1) -> dict[str, Any]:
    series = {"labels": {}, "points": [[1764390600000 + i, number] for i in range(points)]}
    family = {"name": "node_load1", "type": "gauge", "unit": "", "help": "h", "series": [series]}
    return {"batch_id": f"00000000-0000-0000-0000-{number:012d}", "families": [family]}


class Clock:
    def __init__(self) -> None:
        self.now = 1764390600.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def test_batches_come_back_oldest_first_and_leave_only_when_acked(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", clock=Clock())
    entries = [spool.write(batch(n), samples=1) for n in range(3)]
    assert [e.batch_id for e in spool.entries()] == [e.batch_id for e in entries]
    assert spool.read(entries[0]) == batch(0)
    spool.ack(entries[0])
    assert spool.oldest() == entries[1]
    assert len(list((tmp_path / "spool").glob("*.json.gz"))) == 2
    assert spool.size_bytes == sum(e.size for e in entries[1:])


def test_a_full_spool_drops_the_oldest_batches_and_counts_their_samples(tmp_path: Path) -> None:
    clock = Clock()
    probe = Spool(tmp_path / "probe", clock=clock).write(batch(0, points=20), samples=20)
    spool = Spool(tmp_path / "spool", max_bytes=probe.size * 3 + 10, clock=clock)
    for n in range(5):
        spool.write(batch(n, points=20), samples=20)
    kept = [e.batch_id[-1] for e in spool.entries()]
    assert kept == ["2", "3", "4"]
    assert spool.dropped_samples == 40
    assert spool.size_bytes <= spool.max_bytes


def test_the_spool_survives_a_restart(tmp_path: Path) -> None:
    first = Spool(tmp_path, clock=Clock())
    for n in range(3):
        first.write(batch(n), samples=7)
    (tmp_path / ".half-written.json.gz.tmp").write_bytes(b"\x1f\x8b")  # a crash mid-write
    second = Spool(tmp_path)
    assert [e.batch_id for e in second.entries()] == [e.batch_id for e in first.entries()]
    assert [e.samples for e in second.entries()] == [7, 7, 7]
    assert second.size_bytes == first.size_bytes
    assert not list(tmp_path.glob(".*"))


def test_a_corrupt_file_is_quarantined_counted_and_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, clock=Clock())
    bad = spool.write(batch(1), samples=5)
    good = spool.write(batch(2), samples=5)
    (tmp_path / bad.name).write_bytes(gzip.compress(b"{not json")[:-4])  # truncated
    with caplog.at_level(logging.ERROR, logger="steward.agent"), pytest.raises(SpoolCorrupt):
        spool.read(bad)
    assert spool.entries() == [good]
    assert spool.dropped_samples == 5
    assert (tmp_path / QUARANTINE_DIR / bad.name).exists()
    assert "unreadable" in caplog.text
    assert spool.read(good)["batch_id"] == batch(2)["batch_id"]


def test_a_stranger_in_the_directory_is_quarantined_on_start(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    spool = Spool(tmp_path)
    assert len(spool) == 0
    assert (tmp_path / QUARANTINE_DIR / "notes.txt").exists()


def test_files_are_gzip_json_named_by_time_batch_and_samples(tmp_path: Path) -> None:
    entry = Spool(tmp_path, clock=lambda: 1764390600.5).write(batch(9), samples=3)
    assert entry.name.startswith("1764390600500-000001-00000000-0000-0000-0000-000000000009-3")
    assert json.loads(gzip.decompress((tmp_path / entry.name).read_bytes())) == batch(9)
    assert (tmp_path.stat().st_mode & 0o777) == 0o700
