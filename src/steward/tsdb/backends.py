"""The two databases behind the store: what differs between SQLite and PostgreSQL.

The store writes its SQL once, with ``?`` placeholders and the syntax both databases
share (``ON CONFLICT DO NOTHING``, ``RETURNING``); a backend supplies connections,
transactions, locks, the schema and the bulk insert, which is where they really differ.

Locking (see ADR 0002):

- SQLite serialises writers: every write transaction starts with ``BEGIN IMMEDIATE`` so a
  writer takes the lock before reading what it will decide on (no deadlock-prone lock
  upgrade), and waits up to ``busy_timeout`` for it.
- PostgreSQL writers run concurrently, so an append and a compaction step are ordered by
  a transaction-level advisory lock: shared for appends (they do not block each other),
  exclusive for a compaction step. ``maintain()`` is claimed with a session-level
  ``pg_try_advisory_lock``; SQLite claims it with a lease row in ``meta``.
"""

# S608: SQL here is assembled from fixed fragments (table names, IN-list clauses) only;
# every value travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import abc
import contextlib
import functools
import hashlib
import json
import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Collection, Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy timeout alone
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 3  # 2: raw buckets of RAW_BUCKET_MS (10 s), recorded in meta;
# 3: the raw_gen table (a generation per raw bucket, for the readers' head cache)
# The recent-samples table is keyed (bucket, series, ts), bucket = ts floored to 10 s:
# an append touches only the B-tree pages of the current bucket, where a (series, ts) key
# would dirty one page per series per batch (every series' newest row sits on its own
# page: ~200x write amplification through the WAL). A bucket no wider than the usual
# scrape interval (10 s) holds one row per series, so a batch of many series' next
# samples is a run of appends at the B-tree's end instead of one row slotted into every
# series' run on hundreds of pages (2-minute buckets, 12 rows per series). Measured on
# 50,000 series at 10 s, 10,000-row transactions, 16 KiB pages, the insert cost per row
# in SQLite's CPU: 2 min 0.78-0.87 us, 60 s 0.64-0.74, 30 s 0.55-0.61, 20 s 0.47-0.53,
# 10 s 0.29-0.40, and several times less WAL (bench/ingest.py: ~440k -> ~620k samples
# per server CPU-s). A read seeks once per (bucket, series): more seeks than with
# 2-minute buckets, but a read of the raw table is dominated by its rows (1,000 series
# over 15 min or 1 h: within noise), and raw holds only the minutes above the
# compaction watermark. What it costs: a raw table holding a day (bench/query.py's
# "tsdb recent", never the case once maintain() runs) reads 1.3-2x slower, and a bulk
# load series by series over an hour or more (a long spool replay, a backfill) dirties
# a page per 10 s of each series instead of per 2 min (bench/query.py's load: 1.5-2x).
RAW_BUCKET_MS = 10_000
_SERIES_ID = itemgetter(0)  # of a (series_id, ts, value) row
LEASE_MS = 15 * 60_000  # a crashed worker's claim on maintain() lapses after this

# Rows per multi-row INSERT (SqliteBackend.insert_raw): 3 bound parameters a row, far
# below SQLite's 32,766; runs of 512 measured as fast as 1,000-5,000 and parse quickly.
_INSERT_RUNS = (512, 64, 8)


def expand_runs(runs: list[tuple[int, int]], count: int) -> list[int]:
    """The timestamp of each of ``count`` rows, from ``(first row, ts)`` runs."""
    if not runs:  # no rows
        return []
    out: list[int] = []
    ends = [start for start, _ in runs[1:]]
    ends.append(count)
    for (start, ts), end in zip(runs, ends, strict=True):
        out += [ts] * (end - start)
    return out


def _sql_bucket(ts: int) -> int:
    """``ts - ts % RAW_BUCKET_MS`` as SQLite computes it (``%`` truncates toward zero)."""
    return ts + (-ts) % RAW_BUCKET_MS if ts < 0 else ts - ts % RAW_BUCKET_MS


@functools.cache
def _shared_ts_sql(size: int) -> str:
    # Rows of one timestamp: ?1 the bucket, ?2 the ts, then (series, value) pairs. Two
    # bound parameters a row instead of three and no bucket arithmetic per row: ~10 %
    # less CPU per 10,000 rows, most of it the binding, done holding the GIL.
    values = ",".join(f"(?1, ?{2 * i + 3}, ?2, ?{2 * i + 4})" for i in range(size))
    return f"INSERT INTO raw (bucket, series_id, ts, value) VALUES {values} ON CONFLICT DO NOTHING"


@functools.cache
def _insert_run_sql(size: int) -> str:
    # Numbered parameters: row i is ?(3i+1) series, ?(3i+2) ts, ?(3i+3) value, and its
    # bucket an expression of its ts (~3% less CPU than SELECT ... FROM (VALUES ...)).
    values = ",".join(
        f"(?{3 * i + 2} - ?{3 * i + 2} % {RAW_BUCKET_MS}, ?{3 * i + 1}, ?{3 * i + 2}, ?{3 * i + 3})"
        for i in range(size)
    )
    return f"INSERT INTO raw (bucket, series_id, ts, value) VALUES {values} ON CONFLICT DO NOTHING"


# series_active and series_device_active: the series limits count active series
# (registry.py), and both counts read an index only. Without the device one, SQLite took
# series_active and read the row of every active series of the organization to filter
# its devices (bench/ingest.py's agent first round, all series new: 58,000 -> 19,000
# samples/s).
_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
    id {id_type},
    org_id BIGINT NOT NULL,
    hash {blob} NOT NULL,
    metric TEXT NOT NULL,
    device TEXT NOT NULL,
    labels TEXT NOT NULL,
    first_ms BIGINT NOT NULL,
    last_ms BIGINT NOT NULL,
    UNIQUE (org_id, hash)
);
CREATE INDEX IF NOT EXISTS series_metric ON series (metric, org_id);
CREATE INDEX IF NOT EXISTS series_device ON series (org_id, device);
CREATE INDEX IF NOT EXISTS series_active ON series (org_id, last_ms);
CREATE INDEX IF NOT EXISTS series_device_active ON series (org_id, device, last_ms);
CREATE TABLE IF NOT EXISTS metadata (
    org_id BIGINT NOT NULL, metric TEXT NOT NULL, type TEXT NOT NULL, unit TEXT NOT NULL,
    help TEXT NOT NULL, PRIMARY KEY (org_id, metric)
);
CREATE TABLE IF NOT EXISTS raw (
    bucket BIGINT NOT NULL, series_id BIGINT NOT NULL, ts BIGINT NOT NULL, value {real},
    PRIMARY KEY (bucket, series_id, ts)
) {without_rowid};
CREATE TABLE IF NOT EXISTS raw_gen (bucket BIGINT PRIMARY KEY, gen BIGINT NOT NULL);
"""
_CHUNK_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    series_id BIGINT NOT NULL, start_ts BIGINT NOT NULL, n INTEGER NOT NULL,
    data {blob} NOT NULL, PRIMARY KEY (series_id, start_ts)
);
"""
CHUNK_TABLES = ("chunk_raw", "chunk_1m", "chunk_1h")
_META_DEFAULTS = (
    ("schema_version", SCHEMA_VERSION),
    ("watermark", 0),
    ("late", 0),
    ("raw_gen", 0),
)


# The next generation of a raw bucket (see SqliteBackend.touch_buckets).
_NEXT_GEN = (
    "SELECT max(m) + 1 FROM (SELECT max(gen) AS m FROM raw_gen "
    "UNION ALL SELECT value FROM meta WHERE key = 'raw_gen')"
)
_TOUCH_SQL = (
    "INSERT INTO raw_gen (bucket, gen) VALUES (?, ?) "
    "ON CONFLICT (bucket) DO UPDATE SET gen = excluded.gen"
)


class StoreError(RuntimeError):
    """The store's database is not usable (newer schema, bad target)."""


def _ddl(id_type: str, blob: str, real: str, without_rowid: str) -> list[str]:
    text = _TABLES.format(id_type=id_type, blob=blob, real=real, without_rowid=without_rowid)
    text += "".join(_CHUNK_TABLE.format(name=name, blob=blob) for name in CHUNK_TABLES)
    return [s.strip() for s in text.split(";") if s.strip()]


class Backend(abc.ABC):
    """Shared behaviour; subclasses fill in the database specifics (the abstract methods)."""

    kind = ""
    least = "min"
    greatest = "max"

    def __init__(self) -> None:
        self._local = threading.local()
        # Every connection with the thread that holds it: a connection of a thread that
        # has ended is handed to the next new thread instead of opening another.
        self._conns: list[tuple[Any, threading.Thread]] = []
        self._conns_lock = threading.Lock()

    # Connections: one per thread, as sqlite3 and psycopg connections serialise their
    # users. Django under ASGI runs each request's sync code on a thread of its own
    # (asgiref's ThreadSensitiveContext: a one-thread executor per request), so threads
    # come and go with requests: without reuse every request opened a connection that
    # was never closed (a PostgreSQL server ran out of connection slots in seconds).
    def conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            me = threading.current_thread()
            with self._conns_lock:
                for i, (idle, owner) in enumerate(self._conns):
                    if not owner.is_alive():
                        self._conns[i] = (idle, me)
                        conn = idle
                        break
            if conn is None:
                conn = self._connect()
                with self._conns_lock:
                    self._conns.append((conn, me))
            self._local.conn = conn
        return conn

    def close(self) -> None:
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn, _ in conns:
            conn.close()
        self._local = threading.local()

    @abc.abstractmethod
    def _connect(self) -> Any:
        raise NotImplementedError

    def execute(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(sql, params)

    def executemany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        cur = conn.executemany(sql, rows)
        return int(cur.rowcount)

    @abc.abstractmethod
    def id_filter(
        self, column: str, ids: Sequence[int] | Sequence[str], text: bool = False
    ) -> tuple[str, Any]:
        """``column IN ids`` as one parameter, however many (ints, or strings if text)."""
        raise NotImplementedError

    def blob_filters(self, column: str, values: Sequence[bytes]) -> list[tuple[str, list[Any]]]:
        """``column IN values`` for blobs, as (clause, params) pieces to run one by one."""
        out = []
        for i in range(0, len(values), 500):
            part = list(values[i : i + 500])
            out.append((f"{column} IN ({','.join('?' * len(part))})", part))
        return out

    def insert_series(self, conn: Any, rows: list[tuple[Any, ...]]) -> list[tuple[bytes, int]]:
        """Insert (org_id, hash, metric, device, labels, first_ms, last_ms) rows, skipping
        existing ones; returns (hash, id) of the inserted."""
        out: list[tuple[bytes, int]] = []
        for i in range(0, len(rows), 500):
            part = rows[i : i + 500]
            values = ",".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(part))
            cur = self.execute(
                conn,
                "INSERT INTO series (org_id, hash, metric, device, labels, first_ms, last_ms) "
                f"VALUES {values} ON CONFLICT DO NOTHING RETURNING hash, id",
                [x for row in part for x in row],
            )
            out.extend((bytes(h), int(sid)) for h, sid in cur.fetchall())
        return out

    def update_bounds(self, conn: Any, rows: list[tuple[int, int, int]]) -> None:
        """Widen series.first_ms/last_ms to (lo, hi) for (lo, hi, id) rows."""
        self.executemany(
            conn,
            f"UPDATE series SET first_ms = {self.least}(first_ms, ?), "
            f"last_ms = {self.greatest}(last_ms, ?) WHERE id = ?",
            rows,
        )

    @abc.abstractmethod
    def size_bytes(self) -> int:
        """Bytes on disk, for the benchmark's bytes per sample."""
        raise NotImplementedError

    @abc.abstractmethod
    def write(self, conn: Any) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    @abc.abstractmethod
    def read(self, conn: Any) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def lock_appends(self, conn: Any) -> None:
        """Inside an append transaction: order it against compaction steps."""
        return  # a hook: nothing to do unless the database needs it

    def lock_compaction(self, conn: Any) -> None:
        """Inside a compaction transaction: wait for appends in flight, keep new ones out."""
        return  # a hook: nothing to do unless the database needs it

    @abc.abstractmethod
    def insert_raw(self, conn: Any, rows: list[tuple[int, int, float]]) -> int:
        """Insert (series_id, ts, value) rows, skipping stored ones; returns rows inserted."""
        raise NotImplementedError

    def insert_columns(
        self, conn: Any, ids: list[int], values: list[float], runs: list[tuple[int, int]]
    ) -> int:
        """``insert_raw`` of rows given as columns: ``ids`` and ``values`` of equal
        length, the timestamps as ``(first row, ts)`` runs (``store.Columns``)."""
        stamps = expand_runs(runs, len(ids))
        return self.insert_raw(conn, list(zip(ids, stamps, values, strict=True)))

    def after_compaction(self, conn: Any) -> None:
        """Outside any transaction, once compaction moved rows out of ``raw``."""
        return  # a hook: nothing to do unless the database needs it

    # Generations of raw buckets (schema 3), for the readers' head cache (head.py): a
    # bucket's row in ``raw_gen`` changes in every transaction that changes its rows, so
    # equal generations in two snapshots mean equal rows. Only SQLite keeps them (its
    # writers are serialised anyway); on PostgreSQL concurrent appenders would queue on
    # the current bucket's row, so it has no head cache and these are no-ops.
    keeps_generations = False

    def touch_buckets(self, conn: Any, buckets: Collection[int]) -> None:
        """Inside a write transaction that inserted into (or deleted from) ``buckets``:
        give them a new generation, greater than any given before."""
        return  # a hook: nothing to do unless the database keeps generations

    def forget_buckets(self, conn: Any, buckets: Collection[int]) -> None:
        """Inside a write transaction that deleted rows of ``buckets``: drop the
        generation of those left empty, renew the others'."""
        return  # a hook: nothing to do unless the database keeps generations

    def keep_high_water(self, conn: Any) -> None:
        """Before rows of ``raw_gen`` are deleted: keep their greatest generation."""
        return  # a hook: nothing to do unless the database keeps generations

    @abc.abstractmethod
    def try_claim(self, conn: Any) -> object | None:
        raise NotImplementedError

    @abc.abstractmethod
    def release(self, conn: Any, token: object) -> None:
        raise NotImplementedError

    @abc.abstractmethod
    def setup(self) -> None:
        raise NotImplementedError

    def _check_version(self, conn: Any) -> None:
        row = self.execute(conn, "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row and int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"the metrics store has schema version {row[0]}, newer than this Steward's "
                f"{SCHEMA_VERSION}: upgrade Steward"
            )

    def _seed_meta(self, conn: Any) -> None:
        for key, value in _META_DEFAULTS:
            self.execute(
                conn,
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (key, value),
            )

    def _settle_raw_buckets(self, conn: Any) -> None:
        """Inside setup's transaction: make every ``raw`` row's bucket ``RAW_BUCKET_MS``
        wide, and record that width (and the schema version) in ``meta``.

        Reads list the buckets of a range with the module's width, so a store must hold
        no other: a store of schema version 1 (2-minute buckets, no ``raw_bucket_ms``
        row) is rebucketed here, once. ``raw`` holds only what is above the compaction
        watermark, so this rewrites minutes to hours of samples, not the history; on a
        new store it is a no-op. No key can collide on the way, as a row's new bucket is
        a function of its own ts. The version bump makes an older Steward refuse the
        store instead of reading it with the wrong width.
        """
        row = self.execute(conn, "SELECT value FROM meta WHERE key = 'raw_bucket_ms'").fetchone()
        if row is None or int(row[0]) != RAW_BUCKET_MS:
            # ts / w * w: integer division in both databases (ms timestamps are >= 0),
            # where "%" would need escaping for psycopg.
            floor = f"ts / {RAW_BUCKET_MS} * {RAW_BUCKET_MS}"
            self.execute(conn, f"UPDATE raw SET bucket = {floor} WHERE bucket <> {floor}")
            self.keep_high_water(conn)
            self.execute(conn, "DELETE FROM raw_gen")  # every bucket is new (below)
            self.execute(
                conn,
                "INSERT INTO meta (key, value) VALUES ('raw_bucket_ms', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (RAW_BUCKET_MS,),
            )
        if self.keeps_generations:
            # From schema 2 (or after rebucketing): a generation for every bucket in raw.
            # Readers also read buckets without one (as uncached), so this only spares
            # them that; what matters is that every later change renews a generation.
            stored = self.execute(conn, "SELECT count(*) FROM raw_gen").fetchone()[0]
            if not stored:
                self.touch_buckets(conn, self.raw_buckets(conn))
        self.execute(
            conn,
            "UPDATE meta SET value = ? WHERE key = 'schema_version' AND value < ?",
            (SCHEMA_VERSION, SCHEMA_VERSION),
        )

    def raw_buckets(self, conn: Any, below: int = 2**62) -> list[int]:
        """The distinct buckets of ``raw`` below ``below``, one index probe each."""
        out: list[int] = []
        after = -(2**62)
        while True:
            row = self.execute(
                conn, "SELECT min(bucket) FROM raw WHERE bucket > ? AND bucket < ?", (after, below)
            ).fetchone()
            if row[0] is None:
                return out
            after = int(row[0])
            out.append(after)


class SqliteBackend(Backend):
    """A file of its own (never the console's database), in WAL mode."""

    kind = "sqlite"
    BUSY_TIMEOUT_S = 30.0
    PAGE_SIZE = 16_384  # bytes, for files this backend creates (see _connect)
    WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024
    # Seconds between two checkpoints of the background checkpointer (``_Checkpointer``);
    # None: checkpoints stay in the committing writer (SQLite's autocheckpoint).
    CHECKPOINT_INTERVAL_S: float | None = 0.25

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._lock_fds: dict[int, int] = {}  # id(connection) -> lock file descriptor
        self._checkpointer: _Checkpointer | None = None

    def close(self) -> None:
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        super().close()
        with self._conns_lock:
            fds, self._lock_fds = self._lock_fds, {}
        for fd in fds.values():
            os.close(fd)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (BEGIN IMMEDIATE for
        # writes), check_same_thread=False only so close() may run on another thread.
        conn = sqlite3.connect(
            self.path,
            timeout=self.BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
        # 16 KiB pages for a new file (a no-op on an existing one: the size is fixed once
        # the file is written). An append lands one row in every series' run of the
        # current raw bucket, i.e. on hundreds of pages scattered through the B-tree;
        # bigger pages mean fewer of them to split and to log per commit. SQLite alone
        # spent 15-20% less CPU per inserted row than with 4 KiB (~1.5 -> ~1.25 us;
        # 50,000 series at 10 s, 10,000 rows a transaction), a whole line-protocol
        # append 5-10% less. Chunk blobs need fewer overflow pages too.
        conn.execute(f"PRAGMA page_size={self.PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable but at checkpoints
        conn.execute(f"PRAGMA busy_timeout={int(self.BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB
        conn.execute("PRAGMA temp_store=MEMORY")
        # Checkpoint every 40 MiB of WAL (10,000 pages of 4 KiB) instead of SQLite's 1,000
        # pages: each checkpoint fsyncs, and at 1,000 pages of 4 KiB an append of 10,000
        # samples paid one every other request (bench/ingest.py: ~35% of append time;
        # 364k -> ~550k rows/s in-process). The cost: a power loss (not a crash) may lose
        # up to that much of the newest WAL, where synchronous=NORMAL already risked 4 MiB.
        # Since the background checkpointer (``_Checkpointer``, every 0.25 s) this is the
        # backstop only: the WAL rarely gets near it.
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        conn.execute(f"PRAGMA wal_autocheckpoint={self.WAL_CHECKPOINT_BYTES // page}")
        return conn

    def setup(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self.conn()
        with self.write(conn):
            if self._has_meta(conn):
                self._check_version(conn)
            for stmt in _ddl("INTEGER PRIMARY KEY", "BLOB", "REAL", "WITHOUT ROWID"):
                conn.execute(stmt)
            self._seed_meta(conn)
            self._settle_raw_buckets(conn)
            conn.execute("INSERT INTO meta VALUES ('lease', 0) ON CONFLICT DO NOTHING")

    @staticmethod
    def _has_meta(conn: sqlite3.Connection) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        return conn.execute(sql).fetchone() is not None

    def id_filter(
        self, column: str, ids: Sequence[int] | Sequence[str], text: bool = False
    ) -> tuple[str, Any]:
        # json_each turns one text parameter into a table: no 32,766-variable limit and
        # one prepared statement whatever the count (SQLite >= 3.38 has JSON built in).
        return f"{column} IN (SELECT value FROM json_each(?))", json.dumps(list(ids))

    def _writer_lock(self, conn: sqlite3.Connection) -> int | None:
        """The descriptor of ``<file>-writer.lock`` for this connection (None without
        ``fcntl``): one per connection, as flock locks belong to an open file."""
        if fcntl is None:
            return None
        fd = self._lock_fds.get(id(conn))
        if fd is None:
            fd = os.open(f"{self.path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
            with self._conns_lock:
                self._lock_fds[id(conn)] = fd
        return fd

    @contextlib.contextmanager
    def write(self, conn: sqlite3.Connection) -> Iterator[None]:
        # Writers queue on an flock before BEGIN IMMEDIATE: SQLite's busy handler polls
        # with sleeps of 1 to 100 ms, so with several server processes a waiting writer
        # lost up to a whole sleep per conflict; the kernel wakes an flock waiter at once.
        # BEGIN IMMEDIATE still decides (processes without the flock stay correct).
        fd = self._writer_lock(conn)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
        self._committed()

    def _committed(self) -> None:
        """After a write transaction: let the checkpointer know there is WAL to copy
        (starting it on this process's first commit; a forked child starts its own)."""
        if self.CHECKPOINT_INTERVAL_S is None:
            return
        checkpointer = self._checkpointer
        if checkpointer is None or checkpointer.pid != os.getpid():
            with self._conns_lock:
                checkpointer = self._checkpointer
                if checkpointer is None or checkpointer.pid != os.getpid():
                    checkpointer = _Checkpointer(self, self.CHECKPOINT_INTERVAL_S)
                    self._checkpointer = checkpointer
        checkpointer.wake.set()

    def checkpoint(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        """Copy the WAL into the database file beside the writers, then the tail they
        wrote meanwhile while holding them off (see ``_Checkpointer``); returns
        ``PRAGMA wal_checkpoint``'s (busy, frames in the WAL, frames copied)."""
        busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if busy or log == done:
            return int(busy), int(log), int(done)
        fd = self._writer_lock(conn)
        if fd is None:  # no flock: the writers' autocheckpoint bounds the WAL
            return int(busy), int(log), int(done)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return int(busy), int(log), int(done)

    @contextlib.contextmanager
    def read(self, conn: sqlite3.Connection) -> Iterator[None]:
        # A deferred transaction in WAL mode reads one snapshot throughout.
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("COMMIT")

    def insert_raw(self, conn: sqlite3.Connection, rows: list[tuple[int, int, float]]) -> int:
        # Runs of rows go in as one multi-row statement each (cached per size, so it is
        # prepared once per connection): the module binds a run's parameters in one C
        # loop and SQLite inserts the whole run in one step without the GIL. executemany
        # takes and drops the GIL around every row's step, and with another request's
        # thread parsing in Python that handover (the "convoy") made inserts ~4x slower;
        # it also costs ~30% more CPU alone.
        #
        # Rows go in by series id (a stable sort, so within a call the first of two equal
        # (series, ts) rows still wins): a bucket's rows are then appended in key order
        # instead of landing all over its pages. With 10,000 rows a call in random order
        # SQLite spent 0.89-0.95 us a row, sorted first 0.53-0.65 including the sort;
        # input already in order (the usual case: a host's series get consecutive ids)
        # pays ~0.1 ms per 10,000 rows for the sort, within noise.
        rows = sorted(rows, key=_SERIES_ID)
        # Flattened once (each run's parameters are a slice of it). ``+=`` of a tuple
        # copies it without an iterator: ~40% less CPU than list(chain.from_iterable())
        # (0.16 vs 0.27 ms per 10,000 rows), and this runs holding the GIL.
        flat: list[int | float] = []
        for row in rows:
            flat += row
        return self._insert_flat(conn, flat)

    def insert_columns(
        self,
        conn: sqlite3.Connection,
        ids: list[int],
        values: list[float],
        runs: list[tuple[int, int]],
    ) -> int:
        # insert_raw's order, from columns, with no tuple per row: the parameter lists
        # are slice assignments (C loops), and the stable sort by id is skipped when
        # the ids ascend already (line protocol's usual case: a host's series got
        # consecutive ids). Then each run of one timestamp goes in by statements that
        # bind it once (``_shared_ts_sql``), in row order, so the first of two equal
        # (series, ts) rows still goes in first and wins. Unsorted, a stable sort of the
        # row numbers by id mixes the runs: insert_raw's statements, row by row.
        if ids != sorted(ids):
            order = sorted(range(len(ids)), key=ids.__getitem__)
            pick = itemgetter(*order)  # unsorted: at least two rows, so tuples come out
            stamps = list(pick(expand_runs(runs, len(ids))))
            ids, values = list(pick(ids)), list(pick(values))
            flat: list[int | float] = [0] * (3 * len(ids))
            flat[0::3] = ids
            flat[1::3] = stamps
            flat[2::3] = values
            return self._insert_flat(conn, flat)
        pairs: list[int | float] = [0] * (2 * len(ids))
        pairs[0::2] = ids
        pairs[1::2] = values
        inserted = 0
        ends = [start for start, _ in runs[1:]]
        ends.append(len(ids))
        for (start, ts), end in zip(runs, ends, strict=True):
            head = [_sql_bucket(ts), ts]
            for size in _INSERT_RUNS:
                sql = _shared_ts_sql(size)
                while end - start >= size:
                    inserted += conn.execute(
                        sql, head + pairs[2 * start : 2 * (start + size)]
                    ).rowcount
                    start += size
            if start < end:  # fewer than 8 left: one row a step
                rest = [head + pairs[i : i + 2] for i in range(2 * start, 2 * end, 2)]
                inserted += conn.executemany(_shared_ts_sql(1), rest).rowcount
        return int(inserted)

    def _insert_flat(self, conn: sqlite3.Connection, flat: list[int | float]) -> int:
        """Insert the rows of ``flat`` (series, ts, value, series, ts, value...), in order."""
        inserted = 0
        start = 0
        count = len(flat) // 3
        for size in _INSERT_RUNS:
            sql = _insert_run_sql(size)
            while count - start >= size:
                params = flat[3 * start : 3 * (start + size)]
                start += size
                inserted += conn.execute(sql, params).rowcount
        if start < count:  # fewer than 8 left: one row a step
            rest = [flat[i : i + 3] for i in range(3 * start, 3 * count, 3)]
            inserted += conn.executemany(_insert_run_sql(1), rest).rowcount
        return int(inserted)

    keeps_generations = True

    def touch_buckets(self, conn: sqlite3.Connection, buckets: Collection[int]) -> None:
        # The next generation is one more than the greatest given so far: the greatest
        # in raw_gen, or in meta 'raw_gen' where the deletions record theirs
        # (keep_high_water), so a number is never given twice, not even to a bucket
        # compacted away and written again (late rows). Only raw_gen's page is written
        # (a counter row in meta cost a second page per append: +35 % CPU for an
        # agent's 100-row transaction). The greatest is read once per transaction
        # (raw_gen has no index on gen: per bucket, a backfill of a day into 8,640
        # buckets scanned 8,640 rows 8,640 times, 4 s).
        if buckets:
            base = int(conn.execute(_NEXT_GEN).fetchone()[0])
            conn.executemany(_TOUCH_SQL, [(b, base + i) for i, b in enumerate(sorted(buckets))])

    def keep_high_water(self, conn: sqlite3.Connection) -> None:
        """Before deleting from raw_gen: remember its greatest generation."""
        conn.execute(
            "UPDATE meta SET value = (SELECT coalesce(max(gen), 0) FROM raw_gen) "
            "WHERE key = 'raw_gen' AND value < (SELECT coalesce(max(gen), 0) FROM raw_gen)"
        )

    def forget_buckets(self, conn: sqlite3.Connection, buckets: Collection[int]) -> None:
        if not buckets:
            return
        self.keep_high_water(conn)
        conn.execute(
            "DELETE FROM raw_gen WHERE bucket IN (SELECT value FROM json_each(?)) "
            "AND NOT EXISTS (SELECT 1 FROM raw WHERE raw.bucket = raw_gen.bucket)",
            (json.dumps(sorted(buckets)),),
        )
        base = int(conn.execute(_NEXT_GEN).fetchone()[0])
        conn.executemany(
            "UPDATE raw_gen SET gen = ? WHERE bucket = ?",
            [(base + i, b) for i, b in enumerate(sorted(buckets))],
        )

    def try_claim(self, conn: sqlite3.Connection) -> object | None:
        # A lease, claimed by a conditional update that must change exactly one row
        # (Healthchecks' pattern): the wall clock, not maintain()'s now_ms, which tests
        # and backfills may set anywhere.
        now = int(time.time() * 1000)
        until = now + LEASE_MS
        with self.write(conn):
            cur = conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'lease' AND value < ?", (until, now)
            )
        return until if cur.rowcount == 1 else None

    def release(self, conn: sqlite3.Connection, token: object) -> None:
        with self.write(conn):
            conn.execute("UPDATE meta SET value = 0 WHERE key = 'lease' AND value = ?", (token,))

    def size_bytes(self) -> int:
        """Database file plus WAL."""
        total = 0
        for suffix in ("", "-wal"):
            p = Path(f"{self.path}{suffix}")
            total += p.stat().st_size if p.exists() else 0
        return total


class _Checkpointer:
    """Checkpoints a SQLite store's WAL on a thread of its own, off the write path.

    SQLite's autocheckpoint runs inside the COMMIT of whichever writer pushed the WAL
    past its limit: with line protocol's 10,000-row transactions that was every ~20th
    request, stalled 60-75 ms holding the writer lock (the flock of ``write``), so the
    other requests queued behind it (with two requests in flight, an estimated ~7 % of
    the throughput; 2 ingest threads in-process: +20 % samples/s without it). Here a
    thread, woken by commits and at most every ``interval`` seconds, copies the WAL
    while the writers go on (a PASSIVE checkpoint: no lock taken from
    them), then takes the writer lock only to copy the few frames written meanwhile.
    Then every frame is in the database file, so the next writer starts the WAL over
    from its beginning: the WAL stays bounded by what is written in one interval (a
    PASSIVE checkpoint alone, racing the writers, might never catch up, and a WAL that
    never restarts grows forever). SQLite's autocheckpoint stays set as the backstop
    (``WAL_CHECKPOINT_BYTES``); a reader holding an old snapshot blocks both alike.

    Also more durable than before: with ``synchronous=NORMAL`` commits reach the disk
    at checkpoints, now every ``interval`` instead of every 40 MiB of WAL.
    """

    def __init__(self, backend: SqliteBackend, interval: float) -> None:
        # A weak reference: a store dropped without close() (tests open hundreds) must
        # not be kept alive, with its connection and this thread, by the thread itself.
        self._backend = weakref.ref(backend)
        self.interval = interval
        self.pid = os.getpid()
        self.wake = threading.Event()
        self._stopping = threading.Event()
        self._fd: int | None = None  # this thread's writer-lock descriptor, once opened
        self.checkpoints = 0  # completed passes (tests)
        weakref.finalize(backend, self._request_stop)
        self._thread = threading.Thread(
            target=self._run, name="steward-tsdb-checkpoint", daemon=True
        )
        self._thread.start()

    def _request_stop(self) -> None:
        self._stopping.set()
        self.wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._request_stop()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        backend = self._backend()
        if backend is None:
            return
        conn = backend._connect()
        del backend
        try:
            while True:
                self.wake.wait()
                if self._stopping.is_set():
                    return
                self.wake.clear()
                backend = self._backend()
                if backend is None:
                    return
                # On an error the writers' autocheckpoint is the backstop; next time again.
                with contextlib.suppress(sqlite3.Error, OSError):
                    backend.checkpoint(conn)
                self._fd = backend._lock_fds.get(id(conn))
                del backend
                self.checkpoints += 1
                if self._stopping.wait(self.interval):
                    return
        finally:
            backend = self._backend()
            fd = self._fd
            if backend is not None:
                with backend._conns_lock:
                    fd = backend._lock_fds.pop(id(conn), None)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
            conn.close()


_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _lock_key(*parts: str) -> int:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresBackend(Backend):
    """Tables in one schema of a PostgreSQL database, through psycopg 3."""

    kind = "postgresql"
    least = "LEAST"
    greatest = "GREATEST"

    def __init__(self, url: str, schema: str) -> None:
        super().__init__()
        if not _SCHEMA_RE.match(schema):
            raise StoreError(f"invalid schema name {schema!r}")
        self.url = url
        self.schema = schema
        self._sql_cache: dict[str, str] = {}
        self._append_key = _lock_key("steward.tsdb.append", schema)
        self._maintain_key = _lock_key("steward.tsdb.maintain", schema)
        self._setup_key = _lock_key("steward.tsdb.setup", schema)

    def _connect(self) -> Any:
        import psycopg

        # autocommit: transactions are explicit (conn.transaction()), so a read never
        # leaves an idle transaction open between calls.
        conn = psycopg.connect(self.url, autocommit=True)
        conn.execute(f'SET search_path TO "{self.schema}"')
        # ``n``: the rows' COPY order, so that insert_raw inserts the first of two equal
        # (series, ts) rows first (ORDER BY alone is no stable sort): the first wins.
        conn.execute(
            "CREATE TEMP TABLE raw_in (series_id BIGINT, ts BIGINT, value DOUBLE PRECISION, "
            "n BIGINT GENERATED ALWAYS AS IDENTITY) ON COMMIT DELETE ROWS"
        )
        return conn

    def _q(self, sql: str) -> str:
        out = self._sql_cache.get(sql)
        if out is None:
            out = self._sql_cache[sql] = sql.replace("?", "%s")
        return out

    def execute(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(self._q(sql), params)

    def executemany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        cur = conn.cursor()
        cur.executemany(self._q(sql), rows)
        return int(cur.rowcount)

    def setup(self) -> None:
        import psycopg

        # Two processes starting at once would race on CREATE ... IF NOT EXISTS, so setup
        # runs under an advisory lock. The one that waited may still miss what the other
        # created (an advisory lock does not make PostgreSQL read catalog invalidations)
        # and fail on a catalog's unique index; once more, in a new transaction, it sees
        # everything (tests/tsdb/test_setup_race.py; server processes opening the store
        # at their first request).
        for attempt in range(3):
            try:
                self._setup()
                return
            except (
                psycopg.errors.UniqueViolation,
                psycopg.errors.DuplicateObject,
                psycopg.errors.DuplicateSchema,
                psycopg.errors.DuplicateTable,
            ):
                if attempt == 2:
                    raise

    def _setup(self) -> None:
        conn = self.conn()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._setup_key,))
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            for stmt in _ddl(
                "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                "BYTEA",
                "DOUBLE PRECISION",
                "",
            ):
                conn.execute(stmt)
            for name in CHUNK_TABLES:
                # Chunks are zlib'd already: keep TOAST from trying to compress them again.
                conn.execute(f"ALTER TABLE {name} ALTER COLUMN data SET STORAGE EXTERNAL")
            self._check_version(conn)
            self._seed_meta(conn)
            self._settle_raw_buckets(conn)

    def id_filter(
        self, column: str, ids: Sequence[int] | Sequence[str], text: bool = False
    ) -> tuple[str, Any]:
        return f"{column} = ANY(?::{'text' if text else 'bigint'}[])", list(ids)

    @contextlib.contextmanager
    def write(self, conn: Any) -> Iterator[None]:
        with conn.transaction():
            yield

    @contextlib.contextmanager
    def read(self, conn: Any) -> Iterator[None]:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def blob_filters(self, column: str, values: Sequence[bytes]) -> list[tuple[str, list[Any]]]:
        return [(f"{column} = ANY(?::bytea[])", [list(values)])]

    def insert_series(self, conn: Any, rows: list[tuple[Any, ...]]) -> list[tuple[bytes, int]]:
        # Arrays, one per column: one statement, no 3,500-parameter query to parse.
        cols = [list(col) for col in zip(*rows, strict=True)]
        cur = conn.execute(
            "INSERT INTO series (org_id, hash, metric, device, labels, first_ms, last_ms) "
            "SELECT * FROM unnest(%s::bigint[], %s::bytea[], %s::text[], %s::text[], "
            "%s::text[], %s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING RETURNING hash, id",
            cols,
        )
        return [(bytes(h), int(sid)) for h, sid in cur.fetchall()]

    def update_bounds(self, conn: Any, rows: list[tuple[int, int, int]]) -> None:
        # One set-based statement: executemany would be a round trip per series.
        los, his, ids = (list(col) for col in zip(*rows, strict=True))
        conn.execute(
            "UPDATE series SET first_ms = LEAST(first_ms, v.lo), last_ms = GREATEST(last_ms, v.hi) "
            "FROM (SELECT unnest(%s::bigint[]) AS lo, unnest(%s::bigint[]) AS hi, "
            "unnest(%s::bigint[]) AS id) AS v WHERE series.id = v.id",
            (los, his, ids),
        )

    def lock_appends(self, conn: Any) -> None:
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (self._append_key,))

    def lock_compaction(self, conn: Any) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._append_key,))

    def insert_raw(self, conn: Any, rows: list[tuple[int, int, float]]) -> int:
        # COPY into a per-connection temporary table, then one INSERT ... SELECT that
        # skips stored rows: far fewer round trips and parse steps than executemany.
        # raw_in is created per connection (see _connect) and emptied at every commit.
        # Ordered by n last: of two rows with the same (series, ts) in one call the first
        # is inserted first and wins, as on SQLite (PostgreSQL's sort is not stable, and
        # without n the later row won about as often).
        cur = conn.cursor()
        with cur.copy("COPY raw_in (series_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "int8", "float8"])
            for row in rows:
                copy.write_row(row)
        cur.execute(
            "INSERT INTO raw (bucket, series_id, ts, value) "
            f"SELECT ts - ts % {RAW_BUCKET_MS}, series_id, ts, value FROM raw_in "
            "ORDER BY 1, 2, 3, n ON CONFLICT DO NOTHING"
        )
        return int(cur.rowcount)

    def after_compaction(self, conn: Any) -> None:
        # Compaction deletes an hour of rows from raw: without a vacuum their dead index
        # entries make every read of raw wade through them (a 24 h select went from 2 to
        # 90 ms) and the table grows instead of reusing the space.
        conn.execute("VACUUM (ANALYZE) raw")

    def try_claim(self, conn: Any) -> object | None:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._maintain_key,)).fetchone()
        return self._maintain_key if row and row[0] else None

    def release(self, conn: Any, token: object) -> None:
        conn.execute("SELECT pg_advisory_unlock(%s)", (token,))

    def size_bytes(self) -> int:
        conn = self.conn()
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'",
            (self.schema,),
        ).fetchone()
        return int(row[0])

    def drop_schema(self) -> None:
        """Remove the schema and everything in it (tests' throw-away schemas)."""
        conn = self.conn()
        conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
