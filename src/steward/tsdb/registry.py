"""The series registry: label set -> series id, the cardinality guard and label caches.

Series ids never change and are never reused (series are not deleted, see ADR 0002), so
every process may cache them forever: the append hot path maps a sample's label items to
its id with one dict lookup and never touches the registry table for a known series.

Only committed ids get into the caches: ``register`` runs inside an append's transaction
and says what it learned in a ``Learned`` list, which the store hands to ``learn`` once
the transaction has committed. A rolled-back series row leaves nothing behind, since on
SQLite its id goes to the next series created.
"""

# S608: SQL here is assembled from fixed fragments (table names, IN-list clauses) only;
# every value travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from steward.tsdb.backends import Backend
from steward.tsdb.labels import SeriesKey, canonical, check, parse
from steward.tsdb.types import AppendResult, Labels, Limits

MAX_ERRORS = 10  # messages per AppendResult: the first few tell the story
BOUNDS_SLACK_MS = 10 * 60_000  # series.last_ms is refreshed at most this often per series


def _duration(ms: int) -> str:
    """``86400000`` -> "24 h", ``5400000`` -> "90 min", for the limits' messages."""
    if ms % 3_600_000 == 0:
        return f"{ms // 3_600_000} h"
    if ms % 60_000 == 0:
        return f"{ms // 60_000} min"
    return f"{ms / 1000:g} s"


def add_error(result: AppendResult, message: str) -> None:
    if len(result.errors) < MAX_ERRORS:
        result.errors.append(message)


@dataclass(frozen=True)
class Learned:
    """A series ``register`` found or created: what the caches may keep after commit."""

    org_id: int
    digest: bytes
    series_id: int
    text: str  # canonical labels (``labels.canonical``)
    items: list[tuple[tuple[str, str], ...]]  # the label orders its samples came in
    bounds: tuple[int, int] | None  # (first, last + slack) of a series created here


@dataclass
class Pending:
    """Samples of a label set the process has no id for yet."""

    labels: Labels
    points: list[tuple[int, float]] = field(default_factory=list)


class Registry:
    """Series ids and label sets, cached per process; registration under the limits."""

    def __init__(self, backend: Backend, limits: Limits, clock: Callable[[], int]) -> None:
        self.backend = backend
        self.limits = limits
        self.clock = clock  # the store's, for the active series' window
        # org -> tuple(labels.items()) -> id: the hot-path cache (insertion order counts,
        # so one series may sit here under several orders; all map to the same id).
        self.by_items: dict[int, dict[tuple[tuple[str, str], ...], int]] = {}
        self._by_digest: dict[tuple[int, bytes], int] = {}
        # id -> (org, labels): what readers match against.
        self.labels: dict[int, tuple[int, dict[str, str]]] = {}
        # id -> (first_ms, last_ms + slack) as this process last wrote them.
        self.bounds: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def items_cache(self, org_id: int) -> dict[tuple[tuple[str, str], ...], int]:
        cache = self.by_items.get(org_id)
        if cache is None:
            with self._lock:
                cache = self.by_items.setdefault(org_id, {})
        return cache

    def register(
        self,
        conn: Any,
        org_id: int,
        pending: dict[tuple[tuple[str, str], ...], Pending],
        result: AppendResult,
        learned: list[Learned],
    ) -> tuple[list[tuple[int, int, float]], list[tuple[int, int]]]:
        """Ids for new label sets (creating series within the limits).

        Returns their rows and, as (id, ts), those of series this call did not create
        (whose first/last times the caller must widen). Each series looked up or created
        is added to ``learned``, for ``learn`` after the commit.

        Runs inside the append's write transaction, so the counts it checks are the
        committed ones (exact on SQLite, whose writers are serialised).
        """
        cache = self.items_cache(org_id)
        rows: list[tuple[int, int, float]] = []
        new_rows: list[tuple[int, int]] = []
        todo: dict[bytes, tuple[SeriesKey, list[Pending]]] = {}
        for items, p in pending.items():
            problem = check(p.labels, self.limits)
            if problem:
                result.rejected += len(p.points)
                add_error(result, problem)
                continue
            key = canonical(p.labels)
            sid = self._by_digest.get((org_id, key.digest))
            if sid is not None:
                cache[items] = sid
                rows.extend((sid, ts, v) for ts, v in p.points)
                new_rows.extend((sid, ts) for ts, _ in p.points)
            else:
                todo.setdefault(key.digest, (key, []))[1].append(p)
        if todo:
            found = self._lookup(conn, org_id, list(todo))
            new = [d for d in todo if d not in found]
            created: dict[bytes, int] = {}
            if new:
                created = self._create(conn, org_id, [todo[d] for d in new], result)
                found.update(created)
                # Another writer may have created some meanwhile (PostgreSQL): its ids.
                raced = [d for d in new if d not in created]
                if raced:
                    found.update(self._lookup(conn, org_id, raced))
            for digest, (key, group) in todo.items():
                sid = found.get(digest)
                if sid is None:
                    continue
                for p in group:
                    rows.extend((sid, ts, v) for ts, v in p.points)
                    if digest not in created:
                        new_rows.extend((sid, ts) for ts, _ in p.points)
                bounds = None
                if digest in created:  # created with this batch's first/last times
                    stamps = [ts for p in group for ts, _ in p.points]
                    bounds = (min(stamps), max(stamps) + BOUNDS_SLACK_MS)
                items = [tuple(p.labels.items()) for p in group]
                learned.append(Learned(org_id, digest, sid, key.text, items, bounds))
        return rows, new_rows

    def learn(
        self, learned: Iterable[Learned], widened: Mapping[int, Sequence[int]] | None = None
    ) -> None:
        """Cache what ``register`` found, and the (first, last) times written to existing
        series (``widened``), once their transaction has committed."""
        for entry in learned:
            cache = self.items_cache(entry.org_id)
            self._by_digest[(entry.org_id, entry.digest)] = entry.series_id
            self.labels.setdefault(entry.series_id, (entry.org_id, parse(entry.text)))
            for items in entry.items:
                cache[items] = entry.series_id
            if entry.bounds is not None:
                self.bounds[entry.series_id] = entry.bounds
        for sid, (lo, hi) in (widened or {}).items():
            old = self.bounds.get(sid)
            self.bounds[sid] = (lo if old is None else min(old[0], lo), hi + BOUNDS_SLACK_MS)

    def _lookup(self, conn: Any, org_id: int, digests: list[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = {}
        for clause, params in self.backend.blob_filters("hash", digests):
            cur = self.backend.execute(
                conn,
                f"SELECT hash, id FROM series WHERE org_id = ? AND {clause}",
                [org_id, *params],
            )
            found.update((bytes(h), int(sid)) for h, sid in cur.fetchall())
        return found

    def _create(
        self,
        conn: Any,
        org_id: int,
        groups: list[tuple[SeriesKey, list[Pending]]],
        result: AppendResult,
    ) -> dict[bytes, int]:
        b = self.backend
        # Active series only (see Limits): index series_active for the organization's.
        since = self.clock() - self.limits.active_series_ms
        window = _duration(self.limits.active_series_ms)
        org_count = b.execute(
            conn, "SELECT count(*) FROM series WHERE org_id = ? AND last_ms >= ?", (org_id, since)
        ).fetchone()[0]
        devices = sorted({key.device for key, _ in groups if key.device})
        device_counts: dict[str, int] = dict.fromkeys(devices, 0)
        if devices:
            clause, param = b.id_filter("device", devices, text=True)
            cur = b.execute(
                conn,
                f"SELECT device, count(*) FROM series WHERE org_id = ? AND {clause} "
                "AND last_ms >= ? GROUP BY device",
                (org_id, param, since),
            )
            device_counts.update((d, int(n)) for d, n in cur.fetchall())
        accepted: list[tuple[SeriesKey, list[Pending]]] = []
        for key, group in groups:
            points = sum(len(p.points) for p in group)
            if org_count >= self.limits.max_series_per_org:
                result.rejected += points
                add_error(
                    result,
                    f"{key.metric}: the organization has {org_count} series active in "
                    f"the last {window}, the limit is {self.limits.max_series_per_org}; "
                    "new series are refused",
                )
                continue
            if key.device:
                if device_counts[key.device] >= self.limits.max_series_per_device:
                    result.rejected += points
                    add_error(
                        result,
                        f"{key.metric}: device {key.device} has "
                        f"{device_counts[key.device]} series active in the last {window}, "
                        f"the limit is {self.limits.max_series_per_device}; "
                        "new series are refused",
                    )
                    continue
                device_counts[key.device] += 1
            org_count += 1
            accepted.append((key, group))
        rows = []
        for key, group in accepted:
            stamps = [ts for p in group for ts, _ in p.points]
            rows.append(
                (org_id, key.digest, key.metric, key.device, key.text, min(stamps), max(stamps))
            )
        created = dict(b.insert_series(conn, rows)) if rows else {}
        result.new_series += len(created)
        return created

    def load_labels(self, conn: Any, ids: Iterable[int]) -> None:
        """Fill the label cache for ids not in it yet."""
        missing = [sid for sid in ids if sid not in self.labels]
        if not missing:
            return
        for i in range(0, len(missing), 20_000):
            where, param = self.backend.id_filter("id", missing[i : i + 20_000])
            cur = self.backend.execute(
                conn, f"SELECT id, org_id, labels FROM series WHERE {where}", (param,)
            )
            for sid, org_id, text in cur.fetchall():
                self.labels[int(sid)] = (int(org_id), parse(text))
