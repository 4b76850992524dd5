"""Check results kept on disk while the server cannot take them, replayed oldest first.

Results are sent from memory as they come (``outbox``); only a batch the server did not
take, results arriving while it is unreachable and results still queued at shutdown come
here. The metrics ``Spool`` is not reused: its files are metrics batches (a ``families``
list, a sample count in the name) and it orders them by wall-clock time, while results
need strict order even across a clock step: a replayed old *critical* arriving after a
newer *ok* would re-open an alert.

Layout, in ``<state_dir>/check-results/``: one gzip'd JSON list per batch, named
``<seq>-<count>.json.gz`` with a sequence number that only grows (continued from the
highest name after a restart), so names sort in delivery order. Writes are atomic and
durable (temporary file, fsync, rename, directory fsync). Bounded by ``max_bytes``: when
full, the oldest batches are dropped and counted, since recent results matter most.
An unreadable file is deleted and counted, never fatal.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RESULTS_SPOOL_DIR = "check-results"
# About 80,000 results (a result is ~200 bytes gzip'd): 10 checks at 1 s for 2 hours.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
_NAME = re.compile(r"^(\d{12})-(\d+)\.json\.gz$")


@dataclass(frozen=True, slots=True, order=True)
class SpooledBatch:
    seq: int
    count: int
    size: int

    @property
    def name(self) -> str:
        return f"{self.seq:012d}-{self.count}.json.gz"


class ResultSpool:
    """Thread-safe (the sender thread and shutdown both write)."""

    def __init__(
        self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES, *, fsync: bool = True
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.dropped_results = 0
        self._fsync = fsync
        self._lock = threading.Lock()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._batches: list[SpooledBatch] = []
        for path in directory.iterdir():
            match = _NAME.match(path.name)
            if match is None:
                if path.name.endswith(".tmp") and path.is_file():
                    path.unlink(missing_ok=True)  # a half-written batch a crash left behind
                continue
            self._batches.append(SpooledBatch(int(match[1]), int(match[2]), path.stat().st_size))
        self._batches.sort()
        self._next_seq = self._batches[-1].seq + 1 if self._batches else 1
        if self._batches:
            logger.info(
                "%d check results from before the restart wait to be sent",
                sum(batch.count for batch in self._batches),
            )

    def __len__(self) -> int:
        with self._lock:
            return len(self._batches)

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return sum(batch.size for batch in self._batches)

    def pending_results(self) -> int:
        with self._lock:
            return sum(batch.count for batch in self._batches)

    def entries(self) -> list[SpooledBatch]:
        """Every batch, oldest first."""
        with self._lock:
            return list(self._batches)

    def oldest(self) -> SpooledBatch | None:
        with self._lock:
            return self._batches[0] if self._batches else None

    def write(self, results: list[dict[str, Any]]) -> SpooledBatch:
        """Append a batch (newer than everything already here), durably."""
        data = gzip.compress(json.dumps(results, separators=(",", ":")).encode(), 3, mtime=0)
        with self._lock:
            while self._batches and sum(b.size for b in self._batches) + len(data) > self.max_bytes:
                self._drop(self._batches[0], "the results spool is full")
            batch = SpooledBatch(self._next_seq, len(results), len(data))
            self._next_seq += 1
            temporary = self.directory / f".{batch.name}.tmp"
            with open(temporary, "wb") as handle:
                handle.write(data)
                if self._fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(temporary, self.directory / batch.name)
            if self._fsync:
                _fsync_directory(self.directory)
            self._batches.append(batch)
            return batch

    def read(self, batch: SpooledBatch) -> list[dict[str, Any]] | None:
        """The batch's results; ``None`` if the file is unreadable (then it is dropped)."""
        try:
            results = json.loads(gzip.decompress((self.directory / batch.name).read_bytes()))
            if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
                raise ValueError("not a list of results")
        except (OSError, EOFError, zlib.error, ValueError) as error:
            with self._lock:
                self._drop(batch, f"unreadable: {error}")
            return None
        return results

    def ack(self, batch: SpooledBatch) -> None:
        """The server has these results: forget them."""
        with self._lock:
            self._forget(batch)

    def drop(self, batch: SpooledBatch, reason: str) -> None:
        with self._lock:
            self._drop(batch, reason)

    def _drop(self, batch: SpooledBatch, reason: str) -> None:
        if batch in self._batches:
            self.dropped_results += batch.count
            logger.warning("dropped %d spooled check results: %s", batch.count, reason)
        self._forget(batch)

    def _forget(self, batch: SpooledBatch) -> None:
        if batch in self._batches:
            self._batches.remove(batch)
        (self.directory / batch.name).unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
