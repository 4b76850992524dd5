"""The ``columns`` format of agent batches (docs/agent-protocol.md § Metrics), and the
store path that turns known series into rows without a ``Sample`` per point."""

from __future__ import annotations

import copy
import gzip
import math
import time
from datetime import UTC, datetime

import pytest

from steward.agent.metrics import wire
from steward.alerts import runtime, yamlio
from steward.alerts.models import Alert
from steward.metrics import agent, agent_batch
from steward.metrics.store import set_store_for_tests
from steward.tsdb.types import Matcher, MatchOp, MetricType
from tests.metrics.memstore import MemoryStore
from tests.metrics.test_agent_metrics import post

T0 = 1_764_388_800_000


def columns(**overrides) -> dict:
    body = {
        "batch_id": "c-1",
        "sent_at": datetime.now(UTC).isoformat(),
        "timestamps": [T0, T0 + 10_000],
        "families": [
            {
                "name": "node_cpu_seconds_total",
                "type": "counter",
                "unit": "seconds",
                "help": "CPU",
                "series": [
                    {"labels": {"cpu": "0", "mode": "idle"}, "values": [1.5, 2.5]},
                    {"labels": {"cpu": "0", "mode": "user"}, "values": [None, 7]},
                ],
            },
            {"name": "node_load1", "series": [{"values": [0.5, None]}]},
        ],
        "agent_stats": {"spool_bytes": 4096},
    }
    body.update(overrides)
    return body


def the_same_as_points() -> dict:
    """``columns()`` in the points format."""
    return {
        **{k: v for k, v in columns().items() if k != "timestamps"},
        "families": [
            {
                **columns()["families"][0],
                "series": [
                    {
                        "labels": {"cpu": "0", "mode": "idle"},
                        "points": [[T0, 1.5], [T0 + 10_000, 2.5]],
                    },
                    {"labels": {"cpu": "0", "mode": "user"}, "points": [[T0 + 10_000, 7.0]]},
                ],
            },
            {"name": "node_load1", "series": [{"labels": {}, "points": [[T0, 0.5]]}]},
        ],
    }


# --- parsing -----------------------------------------------------------------------------


def test_a_columns_batch_reads_as_its_points_without_the_nulls():
    batch_ = agent_batch.parse_batch(agent_batch.json.dumps(columns()).encode())
    cpu, load = batch_.families
    assert isinstance(cpu, agent_batch.ColumnFamily)
    assert cpu.type is MetricType.COUNTER
    assert cpu.columns() == [
        ({"cpu": "0", "mode": "idle"}, [T0, T0 + 10_000], [1.5, 2.5]),
        ({"cpu": "0", "mode": "user"}, [T0 + 10_000], [7.0]),
    ]
    assert all(type(v) is float for _, _, values in cpu.columns() for v in values)
    assert load.columns() == [({}, [T0], [0.5])]


@pytest.mark.parametrize(
    "change",
    [
        lambda b: None,
        lambda b: b.pop("sent_at"),
        lambda b: b["families"][0]["series"][0]["values"].__setitem__(0, 2**62),
        lambda b: b["families"][1].update(series=[]),
        lambda b: b.update(families=[]),
    ],
)
def test_valid_columns_batches_read_the_same_on_both_paths(change):
    data = columns()
    change(data)
    fast = agent_batch.fast_columns_batch(copy.deepcopy(data))
    assert fast is not None
    assert fast == agent_batch._validated(data)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda b: b.update(timestamps=[]), "timestamps: List should have at least 1 item"),
        (lambda b: b.update(timestamps=[T0, -1]), "timestamps.1: Input should be greater"),
        (lambda b: b.update(timestamps=[T0, True]), "timestamps.1: Input should be a valid int"),
        (lambda b: b.update(timestamps=[T0, 1.5]), "timestamps.1: Input should be a valid int"),
        (
            lambda b: b["families"][0]["series"][1]["values"].__setitem__(1, math.inf),
            "families.0.series.1.values.1: Input should be a finite number",
        ),
        (
            lambda b: b["families"][0]["series"][0]["values"].__setitem__(0, math.nan),
            "families.0.series.0.values.0: Input should be a finite number",
        ),
        (
            lambda b: b["families"][0]["series"][0]["values"].__setitem__(0, "1"),
            "families.0.series.0.values.0: Input should be a valid number",
        ),
        (
            lambda b: b["families"][0]["series"][0]["values"].__setitem__(0, True),
            "families.0.series.0.values.0: Input should be a valid number",
        ),
        (
            lambda b: b["families"][0]["series"][0]["values"].pop(),
            "families.0.series.0.values: 1 values for 2 timestamps",
        ),
        (
            lambda b: b["families"][1]["series"][0].update(values=[None, None]),
            "families.1.series.0.values: every value is null",
        ),
        (
            lambda b: b["families"][1]["series"][0].update(points=[[T0, 1.0]], values=None),
            "families.1.series.0.values",
        ),
        (
            lambda b: b["families"][0]["series"][0]["labels"].update({"_x": "y"}),
            "families.0.series.0.labels._x",
        ),
        (lambda b: b["families"][0].update(name="1bad"), "families.0.name"),
    ],
)
def test_invalid_columns_batches_name_the_first_error(change, error):
    data = columns()
    change(data)
    assert agent_batch.fast_columns_batch(copy.deepcopy(data)) is None
    with pytest.raises(agent_batch.ApiError) as raised:
        agent_batch.parse_batch(agent_batch.json.dumps(data).encode())
    assert (raised.value.status, raised.value.code) == (422, "invalid_request")
    assert raised.value.detail.startswith(error), raised.value.detail


# --- the endpoint -------------------------------------------------------------------------

pytestmark = pytest.mark.django_db


def test_both_formats_store_the_same_samples(credential, metrics_store):
    response = post(credential, columns())
    assert response.status_code == 200, response.content
    assert response.headers["Steward-Metrics-Formats"] == "points, columns"
    answer = response.json()
    assert answer["accepted"] == 4
    as_columns = sorted(map(repr, metrics_store.find("node_cpu_seconds_total")))

    fresh = MemoryStore()
    set_store_for_tests(fresh)
    again = post(credential, the_same_as_points())
    assert again.json() == answer
    assert sorted(map(repr, fresh.find("node_cpu_seconds_total"))) == as_columns


def test_a_bad_columns_batch_is_refused_whole(credential, metrics_store):
    data = columns()
    data["families"][1]["series"][0]["values"] = [0.5]
    response = post(credential, data)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("families.1.series.0.values: 1 values for 2")
    assert metrics_store.sample_count() == 0


# --- the real store: known series become rows ---------------------------------------------


@pytest.fixture
def real_store(open_real_store):
    return open_real_store()


def recent(n: int) -> list[int]:
    now = int(time.time() * 1000) - 120_000
    return [now + 1000 * i for i in range(n)]


@pytest.mark.django_db(transaction=True)
def test_known_series_are_stored_as_rows_and_replays_stay_duplicates(
    world,
    credential,
    real_store,
):
    stamps = recent(4)
    first = columns(batch_id="r-1", timestamps=stamps[:2])
    second = columns(batch_id="r-2", timestamps=stamps[2:])
    second["families"][0]["series"][0]["values"] = [3.5, 4.5]
    for body in (first, second):  # the second batch's series are all known
        response = post(credential, body)
        assert response.status_code == 200, response.content
        assert response.json()["accepted"] == 4  # the batch only, not the agent's stats
    replay = post(credential, second)
    assert replay.json()["accepted"] == 0
    assert replay.json()["duplicates"] == 4
    matcher = Matcher("__name__", MatchOp.EQ, "node_cpu_seconds_total")
    series = {
        s.labels["mode"]: s
        for s in real_store.select([world.acme.pk], [matcher], stamps[0], stamps[-1])
    }
    assert list(zip(series["idle"].timestamps, series["idle"].values, strict=True)) == [
        (stamps[0], 1.5),
        (stamps[1], 2.5),
        (stamps[2], 3.5),
        (stamps[3], 4.5),
    ]
    assert series["idle"].labels["steward_device"] == str(world.acme_device.pk)
    assert list(series["user"].values) == [7.0, 7.0]


RULE = """
rules:
  - name: Queue too long
    kind: threshold
    metric: app_queue_depth
    op: ">"
    threshold: 100
    severity: warning
"""


@pytest.mark.django_db(transaction=True)
def test_rules_see_samples_of_known_series(world, credential, real_store):
    yamlio.apply(RULE, world.acme.pk)
    stamps = recent(6)

    def send(n: int, values: list[float]) -> None:
        body = {
            "batch_id": f"q-{n}",
            "sent_at": datetime.now(UTC).isoformat(),
            "timestamps": stamps[2 * n : 2 * n + 2],
            "families": [
                {"name": "app_queue_depth", "series": [{"labels": {}, "values": values}]},
                {"name": "app_other", "series": [{"labels": {}, "values": [1.0, 2.0]}]},
            ],
        }
        response = post(credential, body)
        assert response.status_code == 200, response.content

    send(0, [5.0, 7.0])
    send(1, [9.0, 11.0])  # known now: the rows path
    assert runtime.settle()  # samples are judged within a fraction of a second
    assert not Alert.objects.filter(organization=world.acme).exists()
    send(2, [250.0, 260.0])
    assert runtime.settle()
    assert Alert.objects.filter(organization=world.acme).exists()


def test_the_agents_two_encodings_of_a_batch_read_the_same_on_the_server():
    """The agent (steward.agent.metrics.wire) and this server agree on the columns format."""
    payload = the_same_as_points()
    stamp = payload.pop("sent_at")
    batches = [
        agent_batch.parse_batch(gzip.decompress(wire.encode_batch(payload, stamp, {}, c)[0]))
        for c in (False, True)
    ]
    added = {"instance": "h"}
    as_points, as_columns = (agent.batch_samples(b, added) for b in batches)
    assert isinstance(batches[1].families[0], agent_batch.ColumnFamily)
    assert sorted(as_columns, key=repr) == sorted(as_points, key=repr)


@pytest.mark.django_db(transaction=True)
def test_history_older_than_the_rules_can_use_is_stored_but_not_judged(
    world, credential, real_store
):
    # A spool replayed after a long outage (or a simulator's backfill): an hour-old
    # "last value" of 250 must not fire "Queue too long" now, as if it were current; it
    # is stored all the same. A recent batch reaches the rules as before.
    yamlio.apply(RULE, world.acme.pk)
    hour_ago = int(time.time() * 1000) - 3_600_000
    old = {
        "batch_id": "h-1",
        "sent_at": datetime.now(UTC).isoformat(),
        "timestamps": [hour_ago, hour_ago + 10_000],
        "families": [
            {"name": "app_queue_depth", "series": [{"labels": {}, "values": [250.0, 260.0]}]}
        ],
    }
    for _ in range(2):  # the second time its series is known: the rows path
        old["batch_id"] += "x"
        response = post(credential, old)
        assert response.status_code == 200, response.content
    assert runtime.settle()
    assert not Alert.objects.filter(organization=world.acme).exists()
    matcher = Matcher("__name__", MatchOp.EQ, "app_queue_depth")
    (stored,) = real_store.select([world.acme.pk], [matcher], hour_ago, hour_ago + 10_000)
    assert list(stored.values) == [250.0, 260.0]

    fresh = {**old, "batch_id": "h-2", "timestamps": recent(2)}
    assert post(credential, fresh).status_code == 200
    assert runtime.settle()
    assert Alert.objects.filter(organization=world.acme).exists()
