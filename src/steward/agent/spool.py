"""The metrics spool: batches on disk until the server has them.

Every batch is written here before it is sent and removed only when the server answered
200, so an outage, a crash or a reboot loses nothing that fits. Layout, in
``<state_dir>/spool/``: one gzip file per batch named
``<created_ms>-<seq>-<batch_id>-<samples>.json.gz`` (names sort oldest first; the sample
count is in the name so that dropping a file can count its loss without reading it).
Files are written to a temporary name, fsync'd, renamed and the directory fsync'd: after a
power cut a batch is either whole or absent (a half-written one would be replayed as
garbage). A removed file that comes back after a crash is only a duplicate, which the
server ignores, so removals are not fsync'd.

The spool is bounded (``max_bytes``, counting file sizes). When a new batch does not fit,
the oldest batches are dropped and their samples counted in ``dropped_samples``: after a
long outage the most recent data is the most useful. A file that cannot be read back
(truncated, not gzip, not JSON), or read back but not a batch the agent can send, is moved
to ``quarantine/`` (kept for a post-mortem, at most ``QUARANTINE_KEEP`` files) and
counted, never fatal; one the process cannot read just now (out of file descriptors) is
read again later. When the disk fills before the spool does, the oldest batches make room
for a new one once (as many as free its size). A write that fails removes its partial
file; a temporary file a crash left behind is counted as lost on the next start (its name
holds the sample count); a file that cannot be removed (a read-only file system) is only
logged.

Default size: a typical host (4 CPUs, 3 filesystems, 2 disks, 3 interfaces) sends about
200 series per round; one gzip'd round is about 3 KiB, so 24 h at 10 s (8,640 rounds) is
about 26 MiB. ``DEFAULT_MAX_BYTES`` (64 MiB) keeps a day of such a host with room for a
bigger one (``bench/spool.py`` prints the measured size per batch).
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import logging
import os
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
SPOOL_DIR = "spool"
QUARANTINE_DIR = "quarantine"
QUARANTINE_KEEP = 20
# Fast compression: spooled batches are small and written every few seconds on machines
# we are guests on; level 6 would save ~10 % of the bytes for ~3x the CPU.
COMPRESS_LEVEL = 3
_NAME = re.compile(r"^(\d{13})-(\d{6})-([0-9a-f-]{1,64})-(\d+)\.json\.gz$")


# Read errors of the process, not of the file (out of file descriptors or memory, a
# signal): the batch is read again later instead of quarantined.
_TRANSIENT = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN, errno.EINTR})
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class SpoolUnavailable(Exception):
    """A spooled batch cannot be read just now; it stays in the spool."""


class SpoolCorrupt(Exception):
    """A spooled batch could not be read back; it has been quarantined."""


@dataclass(frozen=True, slots=True, order=True)
class SpoolEntry:
    """One spooled batch. Entries sort oldest first (by name)."""

    name: str
    batch_id: str
    samples: int
    size: int
    created_ms: int

    @classmethod
    def from_name(cls, name: str, size: int) -> SpoolEntry | None:
        match = _NAME.match(name)
        if match is None:
            return None
        return cls(name, match[3], int(match[4]), size, int(match[1]))


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """A bounded directory of batches. Not thread-safe: the runner owns it."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.time,
        fsync: bool = True,
        items_key: str = "families",
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        # The list every payload holds ("families" of a metrics batch, "results" of the
        # scrape spool): a file without it is not a batch and goes to quarantine.
        self.items_key = items_key
        self.dropped_samples = 0
        self.quarantined = 0
        self._clock = clock
        self._fsync = fsync
        self._seq = 0
        self._entries: list[SpoolEntry] = []
        self._bytes = 0
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._load()

    def _load(self) -> None:
        """Reread the directory (a restart): finish what a crash left half done."""
        entries = []
        for path in self.directory.iterdir():
            if not path.is_file():
                continue
            if path.name.startswith("."):  # a temporary file a crash left behind
                lost = SpoolEntry.from_name(path.name[1:].removesuffix(".tmp"), 0)
                if lost is not None:  # a batch sealed but never spooled: say it is lost
                    self.dropped_samples += lost.samples
                    logger.warning("metrics batch %s (%d samples) was lost in a crash",
                                   lost.batch_id, lost.samples)  # fmt: skip
                try:
                    path.unlink(missing_ok=True)
                except OSError as error:  # a read-only file system: it is only skipped
                    logger.warning("cannot remove %s: %s", path.name, error)
                continue
            entry = SpoolEntry.from_name(path.name, path.stat().st_size)
            if entry is None:
                self._quarantine(path, "its name is not a spool batch's")
                continue
            entries.append(entry)
        self._entries = sorted(entries)
        self._bytes = sum(entry.size for entry in entries)
        if entries:
            logger.info(
                "spool holds %d batches (%d samples, %d bytes) from before the restart",
                len(entries),
                sum(entry.samples for entry in entries),
                self._bytes,
            )

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[SpoolEntry]:
        """Every batch, oldest first."""
        return list(self._entries)

    def oldest(self) -> SpoolEntry | None:
        return self._entries[0] if self._entries else None

    def write(self, payload: dict[str, Any], samples: int) -> SpoolEntry:
        """Store a batch durably (``payload["batch_id"]`` names it); make room first by
        dropping the oldest batches if the spool would exceed ``max_bytes``."""
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        data = gzip.compress(raw, COMPRESS_LEVEL, mtime=0)
        while self._entries and self._bytes + len(data) > self.max_bytes:
            self.drop(self._entries[0], "the spool is full")
        self._seq = (self._seq + 1) % 1_000_000
        created_ms = int(self._clock() * 1000)
        name = f"{created_ms:013d}-{self._seq:06d}-{payload['batch_id']}-{samples}.json.gz"
        try:
            self._write_file(name, data)
        except OSError as error:
            if error.errno not in _DISK_FULL or not self._entries:
                raise
            # The disk is full before the spool is: as when the spool is full, the oldest
            # batches make room for the new one, but only once and only as many as free
            # its size (if the space goes to another program, more drops would not help).
            freed = 0
            while self._entries and freed < len(data):
                freed += self._entries[0].size
                self.drop(self._entries[0], "the disk is full")
            self._write_file(name, data)
        entry = SpoolEntry(name, str(payload["batch_id"]), samples, len(data), created_ms)
        if self._fsync:
            try:
                _fsync_directory(self.directory)
            except OSError as error:
                # The file is whole and in the directory (a restart would find and send
                # it): keep it in the spool rather than call it lost. A power cut before
                # the directory reaches the disk can still lose it, as before the rename.
                logger.warning("cannot fsync the spool directory (%s); keeping %s", error, name)
        self._entries.append(entry)
        if len(self._entries) > 1 and self._entries[-2] > entry:  # a clock set backwards
            self._entries.sort()
        self._bytes += entry.size
        return entry

    def _write_file(self, name: str, data: bytes) -> None:
        temporary = self.directory / f".{name}.tmp"
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
                if self._fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(temporary, self.directory / name)
        except BaseException:
            # A full disk: the caller counts the batch lost; its partial file must not
            # stay behind, out of the spool's bound (nothing but a restart removed it).
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise

    def read(self, entry: SpoolEntry) -> dict[str, Any]:
        """The batch's payload; raises ``SpoolCorrupt`` (after quarantining the file), or
        ``SpoolUnavailable`` when the process cannot read it just now (the file stays)."""
        path = self.directory / entry.name
        try:
            payload = json.loads(gzip.decompress(path.read_bytes()))
            if not isinstance(payload, dict) or not isinstance(payload.get(self.items_key), list):
                raise ValueError("not a batch")
        except OSError as error:
            if error.errno in _TRANSIENT:
                raise SpoolUnavailable(f"{entry.name}: {error}") from error
            self.quarantine(entry, str(error))
            raise SpoolCorrupt(f"{entry.name}: {error}") from error
        except (EOFError, zlib.error, ValueError) as error:
            self.quarantine(entry, str(error))
            raise SpoolCorrupt(f"{entry.name}: {error}") from error
        return payload

    def quarantine(self, entry: SpoolEntry, why: str) -> None:
        """Give up on a batch that cannot be read or sent: move its file to quarantine
        and count its samples as dropped."""
        self._forget(entry)
        self.dropped_samples += entry.samples
        self._quarantine(self.directory / entry.name, why)

    def ack(self, entry: SpoolEntry) -> None:
        """The server has the batch: forget it."""
        self._forget(entry)
        try:
            (self.directory / entry.name).unlink(missing_ok=True)
        except OSError as error:
            # A read-only file system: the file stays, and comes back after a restart as
            # a duplicate (which the server ignores), like a removal a crash undid.
            logger.warning("cannot remove sent batch %s: %s", entry.name, error)

    def drop(self, entry: SpoolEntry, reason: str) -> None:
        """Give up on a batch (full spool, refused by the server) and count the loss."""
        self.ack(entry)
        self.dropped_samples += entry.samples
        logger.warning("dropped metrics batch %s (%d samples): %s", entry.batch_id,
                       entry.samples, reason)  # fmt: skip

    def _forget(self, entry: SpoolEntry) -> None:
        try:
            self._entries.remove(entry)
        except ValueError:
            return
        self._bytes -= entry.size

    def _quarantine(self, path: Path, why: str) -> None:
        self.quarantined += 1
        quarantine = self.directory / QUARANTINE_DIR
        logger.error("spool file %s is unreadable (%s); moved to %s", path.name, why, quarantine)
        try:
            quarantine.mkdir(mode=0o700, exist_ok=True)
            os.replace(path, quarantine / path.name)
            kept = sorted(quarantine.iterdir())
            for old in kept[:-QUARANTINE_KEEP]:
                old.unlink(missing_ok=True)
        except OSError as error:
            logger.error("cannot quarantine %s (%s); deleting it", path.name, error)
            try:
                path.unlink(missing_ok=True)
            except OSError:  # a read-only file system: forgotten until a restart
                logger.error("cannot delete %s either", path.name)
