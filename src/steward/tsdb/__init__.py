"""Steward's time-series store: series, samples, rollup tiers and retention (no Django).

``types.py`` is the contract between the parts of the metrics pipeline: ingest appends
``Sample`` batches, the PromQL engine reads ``SeriesData`` through ``Store.select``.
``open_store`` opens the implementation (``store.py``) on a SQLite file or PostgreSQL;
docs/adr/0002-tsdb.md explains its design.
"""

from steward.tsdb.backends import StoreError
from steward.tsdb.codec import ChunkError
from steward.tsdb.store import TimeSeriesStore, open_store

__all__ = ["ChunkError", "StoreError", "TimeSeriesStore", "open_store"]
