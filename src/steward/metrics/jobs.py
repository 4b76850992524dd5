"""Worker jobs of the metrics app (listed in ``steward.jobs.schedule.JOBS``)."""

from __future__ import annotations

from steward.metrics.ingest import now_ms
from steward.metrics.scrape import scrape_due_targets
from steward.metrics.store import get_store

__all__ = ["maintain_store", "scrape_due_targets"]


def maintain_store() -> object:
    """Rollups and retention: the store does the work, the worker only keeps time."""
    return get_store().maintain(now_ms())  # type: ignore[attr-defined]
