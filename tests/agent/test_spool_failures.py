"""The spool when the disk fails under it, and batches that read back but cannot be sent.

* A write that fails (a full disk) leaves no partial file behind: the spool's bound counts
  only the batches it knows, and nothing but a restart removed the leftovers.
* A write whose only failure is the directory's fsync has put a whole batch in the
  directory: the spool keeps it, as a restart would, instead of calling it lost.
* A spooled file that is gzip'd JSON but not a batch the agent can send (another
  version's layout) is quarantined and counted like a corrupt one; it must not stop the
  batches after it (it raised out of the runner's loop, at every start again).
"""

from __future__ import annotations

import errno
import gzip
import json
from pathlib import Path

import pytest

from steward.agent import spool as spool_module
from steward.agent.spool import QUARANTINE_DIR, Spool
from tests.agent.test_metrics_delivery import FakeClient, forks, make_pipeline
from tests.agent.test_spool import Clock, batch


def _disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _io_error(*args: object, **kwargs: object) -> None:
    raise OSError(errno.EIO, "Input/output error")


def test_a_failed_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path, clock=Clock())
    kept = spool.write(batch(1), samples=1)
    with monkeypatch.context() as patch:
        patch.setattr(spool_module.os, "fsync", _io_error)
        with pytest.raises(OSError):
            spool.write(batch(2), samples=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept.name]
    assert spool.entries() == [kept]
    assert spool.size_bytes == (tmp_path / kept.name).stat().st_size


def test_a_full_disk_makes_room_with_the_oldest_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when the spool itself is full: the newest data is the most useful."""
    spool = Spool(tmp_path, clock=Clock())
    spool.write(batch(1), samples=3)  # the oldest
    second = spool.write(batch(2), samples=5)
    fsync = spool_module.os.fsync
    failures = iter([True])  # the disk is full once: the drop frees the space

    def full_once(fd: int) -> None:
        if next(failures, False):
            _disk_full()
        fsync(fd)

    with monkeypatch.context() as patch:
        patch.setattr(spool_module.os, "fsync", full_once)
        newest = spool.write(batch(3), samples=7)
    assert spool.entries() == [second, newest]
    assert spool.dropped_samples == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([second.name, newest.name])
    assert Spool(tmp_path).entries() == [second, newest]


def test_a_disk_that_stays_full_costs_one_batch_of_room_not_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the space goes to another program, dropping more old batches would not help."""
    spool = Spool(tmp_path, clock=Clock())
    entries = [spool.write(batch(i), samples=2) for i in range(5)]
    with monkeypatch.context() as patch:
        patch.setattr(spool_module.os, "fsync", _disk_full)
        with pytest.raises(OSError):
            spool.write(batch(9), samples=2)
    # The oldest batches that together are as big as the new one made room, no more.
    raw = json.dumps(batch(9), separators=(",", ":"), ensure_ascii=False).encode()
    new_size = len(gzip.compress(raw, spool_module.COMPRESS_LEVEL, mtime=0))
    freed, dropped = 0, 0
    while freed < new_size:
        freed += entries[dropped].size
        dropped += 1
    assert dropped < len(entries)
    assert spool.entries() == entries[dropped:]
    assert spool.dropped_samples == 2 * dropped
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(e.name for e in entries[dropped:])


def test_a_batch_that_cannot_be_read_just_now_stays_spooled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of file descriptors is the process's trouble, not the file's: no quarantine."""
    spool = Spool(tmp_path, clock=Clock())
    entry = spool.write(batch(1), samples=4)

    def no_descriptors(self: Path) -> bytes:
        raise OSError(errno.EMFILE, "Too many open files")

    with monkeypatch.context() as patch:
        patch.setattr(Path, "read_bytes", no_descriptors)
        with pytest.raises(spool_module.SpoolUnavailable):
            spool.read(entry)
    assert spool.entries() == [entry]
    assert spool.dropped_samples == 0
    assert not (tmp_path / QUARANTINE_DIR).exists()
    assert spool.read(entry) == batch(1)


def test_a_batch_renamed_into_place_is_kept_even_if_the_directory_fsync_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path, clock=Clock())
    with monkeypatch.context() as patch:
        patch.setattr(spool_module, "_fsync_directory", _disk_full)
        entry = spool.write(batch(1), samples=4)
    # What this process holds is what a restart finds.
    assert spool.entries() == [entry] == Spool(tmp_path).entries()
    assert spool.size_bytes == (tmp_path / entry.name).stat().st_size
    assert spool.read(entry) == batch(1)


def test_a_spooled_file_that_is_not_a_sendable_batch_does_not_block_the_others(
    tmp_path: Path,
) -> None:
    pipeline = make_pipeline(tmp_path)
    spool = pipeline.spool
    for _ in range(3):
        pipeline.collect()
    stranger = spool.entries()[0]
    # Gzip'd JSON with families, but no batch_id: not a batch of this agent's.
    (spool.directory / stranger.name).write_bytes(
        gzip.compress(json.dumps({"families": [{"name": "x"}]}).encode())
    )
    pipeline._live.clear()  # as after a restart: every batch is read back from disk
    pipeline._payloads.clear()
    client = FakeClient()
    pipeline.ship(client)
    assert [forks(body) for body in client.received] == [[2], [3]]
    assert len(spool) == 0
    assert (spool.directory / QUARANTINE_DIR / stranger.name).exists()
    assert pipeline.dropped_samples == stranger.samples


def test_batches_sent_from_a_read_only_disk_do_not_stop_the_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system remounted read-only after an I/O error (ext4's errors=remount-ro):
    the backlog can still be read and sent, only not removed. An error out of ``ack``
    ended the runner's loop, so the agent stopped reporting (and its heartbeats) there."""
    pipeline = make_pipeline(tmp_path)
    for _ in range(3):
        pipeline.collect()
    pipeline._live.clear()
    pipeline._payloads.clear()
    unlink = Path.unlink

    def read_only(path: Path, missing_ok: bool = False) -> None:
        if path.parent == pipeline.spool.directory:
            raise OSError(errno.EROFS, "Read-only file system")
        unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only)
    client = FakeClient()
    pipeline.ship(client)
    assert [forks(body) for body in client.received] == [[1], [2], [3]]
    assert len(pipeline.spool) == 0
    assert pipeline.dropped_samples == 0


def test_a_corrupt_batch_on_a_read_only_disk_is_skipped_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = make_pipeline(tmp_path)
    for _ in range(2):
        pipeline.collect()
    pipeline._live.clear()
    pipeline._payloads.clear()
    bad = pipeline.spool.entries()[0]
    (pipeline.spool.directory / bad.name).write_bytes(b"\x1f\x8b garbage")
    monkeypatch.setattr(spool_module.os, "replace", _disk_full)  # no quarantine
    monkeypatch.setattr(Path, "unlink", _disk_full)  # nor deleting
    client = FakeClient()
    pipeline.ship(client)
    assert [forks(body) for body in client.received] == [[2]]
    assert pipeline.dropped_samples == bad.samples


def test_a_batch_a_crash_left_half_written_is_counted_as_lost(tmp_path: Path) -> None:
    spool = Spool(tmp_path, clock=Clock())
    entry = spool.write(batch(1), samples=9)
    (tmp_path / entry.name).rename(tmp_path / f".{entry.name}.tmp")
    again = Spool(tmp_path)
    assert len(again) == 0
    assert again.dropped_samples == 9
    assert not list(tmp_path.glob(".*"))


def test_a_backlog_the_agent_cannot_read_just_now_waits_for_the_next_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of file descriptors: nothing is sent, quarantined or counted lost; the batches
    go out once the files can be read again."""
    pipeline = make_pipeline(tmp_path)
    for _ in range(3):
        pipeline.collect()
    pipeline._live.clear()  # as after a restart: every batch is read back from disk
    pipeline._payloads.clear()
    read_bytes = Path.read_bytes

    def no_descriptors(path: Path) -> bytes:
        if path.parent == pipeline.spool.directory:
            raise OSError(errno.EMFILE, "Too many open files")
        return read_bytes(path)

    client = FakeClient()
    with monkeypatch.context() as patch:
        patch.setattr(Path, "read_bytes", no_descriptors)
        pipeline.ship(client)
    assert client.received == []
    assert len(pipeline.spool) == 3
    assert pipeline.dropped_samples == 0
    pipeline.ship(client)
    assert [forks(body) for body in client.received] == [[1], [2], [3]]
    assert len(pipeline.spool) == 0
