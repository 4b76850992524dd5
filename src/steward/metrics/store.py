"""The process's time-series store, opened once from the settings.

* SQLite installs: ``<STEWARD_HOME>/metrics.sqlite3``, a file of its own, so a burst of
  ingest holds *its* write lock and never the console's database.
* PostgreSQL installs: the same database as Django, in schema ``tsdb``.

Tests swap the store with ``set_store_for_tests()`` (or the ``metrics_store`` fixture in
``tests/metrics/conftest.py``).
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings

from steward.tsdb.types import Store

SQLITE_FILE = "metrics.sqlite3"
PG_SCHEMA = "tsdb"

_lock = threading.Lock()
_store: Store | None = None
_override: Store | None = None


def get_store() -> Store:
    """The store of this process (opened on first use; thread-safe)."""
    global _store
    if _override is not None:
        return _override
    if _store is None:
        with _lock:
            if _store is None:
                _store = _open()
    return _store


def set_store_for_tests(store: Store | None) -> None:
    """Use ``store`` instead of the configured one (``None`` restores the configured one)."""
    global _override
    _override = store


def uses_postgres() -> bool:
    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


def postgres_url(db: dict[str, Any]) -> str:
    """A Django database definition as a libpq URL (credentials percent-encoded)."""
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or ""
    if ":" in host and not host.startswith("["):  # an IPv6 literal
        host = f"[{host}]"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{auth}{host}{port}/{quote(db.get('NAME') or '', safe='')}"


def store_target() -> str:
    if uses_postgres():
        return postgres_url(settings.DATABASES["default"])
    return str(Path(settings.STEWARD_HOME) / SQLITE_FILE)


# Options in friendlier units than the store's milliseconds: option -> (field, ms a unit).
SCALED_OPTIONS = {
    "metrics_retention_raw_days": ("raw_ms", 86_400_000),
    "metrics_retention_minute_days": ("minute_ms", 86_400_000),
    "metrics_retention_hour_days": ("hour_ms", 86_400_000),
    "metrics_active_series_hours": ("active_series_ms", 3_600_000),
}


def _from_settings(cls: type, prefix: str) -> Any:
    """Build a tsdb settings dataclass from the configured options.

    The store declares its limits and retention as dataclasses. An option named
    ``prefix + field`` sets that field as it is (``metrics_max_series_per_org``; tests
    also set ``metrics_retention_raw_ms`` this way, and it wins); ``SCALED_OPTIONS`` set
    the millisecond fields from days or hours.
    """
    values = settings.STEWARD
    names = {f.name for f in dataclasses.fields(cls)}
    known = {
        name: values[option] * per_unit
        for option, (name, per_unit) in SCALED_OPTIONS.items()
        if name in names and option in values
    }
    known.update((name, values[prefix + name]) for name in names if prefix + name in values)
    return cls(**known)


def _open() -> Store:
    from steward import tsdb
    from steward.tsdb import types

    open_store = tsdb.open_store  # type: ignore[attr-defined]
    kwargs: dict[str, Any] = {}
    parameters = inspect.signature(open_store).parameters
    limits_cls = getattr(tsdb, "Limits", None) or getattr(types, "Limits", None)
    retention_cls = getattr(tsdb, "Retention", None) or getattr(types, "Retention", None)
    if "limits" in parameters and dataclasses.is_dataclass(limits_cls):
        kwargs["limits"] = _from_settings(limits_cls, "metrics_")  # type: ignore[arg-type]
    if "retention" in parameters and dataclasses.is_dataclass(retention_cls):
        kwargs["retention"] = _from_settings(retention_cls, "metrics_retention_")  # type: ignore[arg-type]
    if uses_postgres() and "schema" in parameters:
        kwargs["schema"] = PG_SCHEMA
    from steward.tsdb import chunkcache

    # One cache of decoded chunks per process, shared by every store it opens.
    chunkcache.configure(int(settings.STEWARD.get("metrics_chunk_cache_mb", 64)) * 2**20)
    return open_store(store_target(), **kwargs)


def close_store() -> None:
    """Close the process's store and every connection it holds, in any thread.

    The store keeps one connection per thread for the life of the process: at server
    shutdown, and before a test run drops its database (PostgreSQL refuses while sessions
    remain), they must end. A later ``get_store()`` opens it again.
    """
    global _store
    with _lock:
        store, _store = _store, None
    if store is not None:
        store.close()  # type: ignore[attr-defined]  # _open() gives a tsdb ManagedStore
