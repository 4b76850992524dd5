"""The agent batch's fast validation (``agent.fast_batch``) agrees with the pydantic schema,
and ingest work runs on the long-lived ingest threads outside a sync caller."""

from __future__ import annotations

import asyncio
import contextvars
import copy
import math
import threading
from datetime import UTC, datetime

import pytest

from steward.metrics import agent, ingest
from steward.tsdb.types import MetricType

T0 = 1_764_388_800_000


def valid() -> dict:
    return {
        "batch_id": "b-1",
        "sent_at": datetime(2026, 11, 29, 7, 0, 0, 123456, tzinfo=UTC).isoformat(),
        "families": [
            {
                "name": "node_cpu_seconds_total",
                "type": "counter",
                "unit": "seconds",
                "help": "CPU",
                "series": [
                    {"labels": {"cpu": "0", "mode": "idle"}, "points": [[T0, 1.5], [T0 + 1, 2]]},
                    {"points": [[0, -3]]},
                ],
                "extra": "ignored",
            },
            {"name": "node_load1", "series": []},
        ],
        "agent_stats": {"spool_bytes": 4096, "collector_errors": 0.5},
    }


def pydantic_batch(data: dict) -> agent.Batch:
    return agent._from_model(agent.MetricsBatchIn.model_validate(data))


@pytest.mark.parametrize(
    "change",
    [
        lambda b: None,
        lambda b: b.update(sent_at="2026-11-29T07:00:00Z"),
        lambda b: b.update(sent_at="2026-11-29T07:00:00-05:30"),
        lambda b: b.pop("sent_at"),
        lambda b: b.update(sent_at=None),
        lambda b: b.pop("agent_stats"),
        lambda b: b["families"][0].pop("type"),
        lambda b: b["families"][0]["series"][0]["points"].append([T0 + 2, 2**62]),
    ],
)
def test_valid_batches_read_the_same_on_both_paths(change):
    data = valid()
    change(data)
    fast = agent.fast_batch(copy.deepcopy(data))
    assert fast is not None
    assert fast == pydantic_batch(data)


def test_the_fast_path_builds_plain_data():
    batch = agent.fast_batch(valid())
    assert batch is not None
    family = batch.families[0]
    assert family.type is MetricType.COUNTER
    assert family.series[0][1] == [(T0, 1.5), (T0 + 1, 2.0)]
    assert all(type(v) is float for _, points in family.series for _, v in points)
    assert batch.agent_stats == {"spool_bytes": 4096.0, "collector_errors": 0.5}


@pytest.mark.parametrize(
    "change",
    [
        # Valid for pydantic, left to it (lax conversions, other date forms).
        lambda b: b["families"][0]["series"][0]["points"].append([T0 + 2, "1.5"]),
        lambda b: b.update(sent_at="2026-11-29T07:00:00"),
        lambda b: b.update(sent_at=1764399600),
        # Invalid dates of the agent's form: pydantic's error, not a crash.
        lambda b: b.update(sent_at="2026-13-29T07:00:00+00:00"),
        lambda b: b.update(sent_at="2026-11-29T07:00:00+25:00"),
        lambda b: b["agent_stats"].update(spool_bytes="12"),
        # Invalid: pydantic names the error.
        lambda b: b["families"][0]["series"][0]["points"].append([T0, math.inf]),
        lambda b: b["families"][0]["series"][0]["points"].append([T0, math.nan]),
        lambda b: b["families"][0]["series"][0]["points"].append([True, 1.0]),
        lambda b: b["families"][0]["series"][0]["points"].append([-1, 1.0]),
        lambda b: b["families"][0]["series"][0]["points"].append([T0, True]),
        lambda b: b["families"][0]["series"][0]["points"].append([T0, 1.0, 2.0]),
        lambda b: b["families"][0]["series"][0]["points"].append([T0, 2**70]),
        lambda b: b["families"][0]["series"][0].update(points=[]),
        lambda b: b["families"][0]["series"][0]["labels"].update({"_x": "y"}),
        lambda b: b["families"][0]["series"][0]["labels"].update({"x": 1}),
        lambda b: b["families"][0]["series"][0]["labels"].update({"x": "v" * 1025}),
        lambda b: b["families"][0].update(name="1bad"),
        lambda b: b["families"][0].update(type="histogram"),
        lambda b: b["families"][0].update(unit="u" * 65),
        lambda b: b["families"][0].update(help=None),
        lambda b: b.update(batch_id=""),
        lambda b: b.update(batch_id=7),
        lambda b: b["agent_stats"].update(spool_bytes=-1),
        lambda b: b["agent_stats"].update(Bad=1),
        lambda b: b.update(families={}),
    ],
)
def test_anything_unusual_goes_to_pydantic(change):
    data = valid()
    change(data)
    assert agent.fast_batch(data) is None


def test_pydantic_still_answers_what_the_fast_path_leaves_to_it():
    data = valid()
    data["families"][0]["series"][0]["points"].append([T0 + 2, "1.5"])
    assert pydantic_batch(data).families[0].series[0][1][-1] == (T0 + 2, 1.5)


def test_ingest_work_runs_on_long_lived_threads_with_the_callers_context():
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    def where() -> tuple[str, str]:
        return threading.current_thread().name, var.get()

    async def main() -> list[tuple[str, str]]:
        var.set("request")
        return await asyncio.gather(*(ingest.in_ingest_thread(where) for _ in range(4)))

    seen = asyncio.run(main())
    assert {value for _, value in seen} == {"request"}
    assert all(name.startswith("steward-ingest") for name, _ in seen)
    again = asyncio.run(main())
    assert {name for name, _ in again} <= {name for name, _ in seen} | {
        t.name for t in threading.enumerate()
    }


def test_errors_in_ingest_work_reach_the_caller():
    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(ingest.in_ingest_thread(fail))
