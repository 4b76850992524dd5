"""Rounds grouped into one wire batch: each family's metadata once, each series once with
all its points (``docs/agent-protocol.md`` § Metrics)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from steward.agent.metrics.engine import Round
from steward.agent.metrics.families import BY_NAME

logger = logging.getLogger(__name__)


class BatchBuilder:
    """Accumulates rounds until the pipeline seals them into a batch."""

    def __init__(self) -> None:
        self._series: dict[str, dict[tuple[str, ...], list[list[float]]]] = {}
        self.rounds = 0
        self.samples = 0

    def add(self, round_: Round) -> None:
        ts = round_.timestamp_ms
        for name, labels, value in round_.samples:
            family = self._series.get(name)
            if family is None:
                if name not in BY_NAME:
                    logger.error("dropping samples of %r: not in the families table", name)
                    continue
                family = self._series[name] = {}
            points = family.get(labels)
            if points is None:
                points = family[labels] = []
            points.append([ts, value])
            self.samples += 1
        self.rounds += 1

    def payload(self, batch_id: str | None = None) -> dict[str, Any]:
        """The batch without ``sent_at`` and ``agent_stats`` (stamped at each send)."""
        families = []
        for name, series in self._series.items():
            family = BY_NAME[name]
            families.append(
                {
                    "name": name,
                    "type": family.type,
                    "unit": family.unit,
                    "help": family.help,
                    "series": [
                        {"labels": dict(zip(family.labels, labels, strict=True)), "points": points}
                        for labels, points in series.items()
                    ],
                }
            )
        return {"batch_id": batch_id or str(uuid.uuid4()), "families": families}
