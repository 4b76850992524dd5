"""The series a device sent before (``agent.KnownSeries``): later batches resolve them by
one lookup, with the same validation, the same stored data and the same answers.

Batches go through Django's test client (the view and the lean route share
``agent.store_batch``), into a real store: only a store that resolves ids uses the cache.
"""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from steward.accounts import tokens
from steward.inventory.models import Device
from steward.metrics import agent, agent_batch, ingest
from steward.metrics.store import set_store_for_tests
from steward.tsdb import open_store
from steward.tsdb.types import Limits, Matcher, MatchOp

URL = "/api/v1/agent/metrics"
BASE_MS = int(time.time() * 1000) - 600_000  # recent: inside the store's window


@pytest.fixture
def real_store(open_real_store):
    return open_real_store(limits=Limits(max_series_per_device=12))


def post(credential: str, body: dict[str, Any] | bytes) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Client().post(
        URL,
        data=gzip.compress(raw),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {credential}",
        HTTP_CONTENT_ENCODING="gzip",
    )


def stamps(n: int, round_: int) -> list[int]:
    base = BASE_MS + round_ * 10_000
    return [base + 1000 * i for i in range(n)]


def columns(round_: int, points: int = 1, **families: list[dict[str, Any]]) -> dict[str, Any]:
    """One batch of ``points`` rounds: node_cpu (two series) and node_load1 by default."""
    body_families = families or {
        "node_cpu_seconds_total": [
            {"labels": {"cpu": "0", "mode": "idle"}, "values": [1.5 + round_] * points},
            {"labels": {"cpu": "0", "mode": "user"}, "values": [0.5 + round_] * points},
        ],
        "app_queue_depth": [{"labels": {}, "values": [float(round_)] * points}],
    }
    return {
        "batch_id": f"k-{round_}",
        "sent_at": datetime.now(UTC).isoformat(),
        "timestamps": stamps(points, round_),
        "families": [
            {"name": name, "type": "gauge", "series": series}
            for name, series in body_families.items()
        ],
        "agent_stats": {"spool_bytes": 0},
    }


def as_points(body: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k != "timestamps"}
    out["families"] = [
        {
            **family,
            "series": [
                {
                    "labels": s["labels"],
                    "points": [
                        [ts, v] for ts, v in zip(body["timestamps"], s["values"], strict=True)
                    ],
                }
                for s in family["series"]
            ],
        }
        for family in body["families"]
    ]
    return out


def stored(store, org_id: int, name: str) -> dict[tuple[tuple[str, str], ...], list[float]]:
    """Values per label set (all labels, sorted) of one metric."""
    matcher = Matcher("__name__", MatchOp.EQ, name)
    now = int(time.time() * 1000)
    return {
        tuple(sorted(s.labels.items())): list(s.values)
        for s in store.select([org_id], [matcher], now - 3_600_000, now)
    }


def known_of(device: Device) -> agent.KnownSeries:
    return agent._known[device.pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shape", [columns, lambda n: as_points(columns(n))])
def test_known_series_resolve_by_lookup_and_store_the_same(world, credential, real_store, shape):
    for n in range(4):
        response = post(credential, shape(n))
        assert response.status_code == 200, response.content
        assert response.json()["accepted"] == 3
        assert response.json()["duplicates"] == 0
    # Round 0 created the series, round 1 learnt them; rounds 2 and 3 used the cache.
    known = known_of(world.acme_device)
    assert known.size == 3
    assert set(known.families) == {"node_cpu_seconds_total", "app_queue_depth"}
    cpu = stored(real_store, world.acme.pk, "node_cpu_seconds_total")
    assert sorted(cpu.values()) == [[0.5, 1.5, 2.5, 3.5], [1.5, 2.5, 3.5, 4.5]]
    labels = dict(next(iter(cpu)))
    assert labels["steward_device"] == str(world.acme_device.pk)
    assert labels["instance"] == "acme-ws-01"
    assert labels["job"] == "steward"


@pytest.mark.django_db(transaction=True)
def test_a_replay_of_a_known_batch_is_all_duplicates(world, credential, real_store):
    for n in range(3):
        assert post(credential, columns(n)).status_code == 200
    replay = post(credential, columns(2) | {"batch_id": "again"})
    assert replay.status_code == 200
    assert replay.json() | {"interval": 0} == {
        "accepted": 0,
        "duplicates": 3,
        "rejected": 0,
        "errors": [],
        "interval": 0,
    }


def test_parse_reports_what_known_holds_and_only_for_exact_label_sets():
    body = columns(0)
    known = {"node_cpu_seconds_total": {(("cpu", "0"), ("mode", "idle")): "idle-ref"}}
    batch = agent_batch.parse_batch(json.dumps(body).encode(), known)
    assert batch.families[0].refs == ["idle-ref", None]
    assert batch.families[1].refs == [None]
    # Same labels in another order: another key (resolved the slow way, never wrongly).
    body["families"][0]["series"][0]["labels"] = {"mode": "idle", "cpu": "0"}
    batch = agent_batch.parse_batch(json.dumps(body).encode(), known)
    assert batch.families[0].refs == [None, None]
    # Without ``known``: no refs at all (the old callers' batches).
    assert agent_batch.parse_batch(json.dumps(body).encode()).families[0].refs is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("series", "detail"),
    [
        # A known label set with a bad value: the values are checked every time.
        (
            {"labels": {"cpu": "0", "mode": "idle"}, "values": ["1.5"]},
            "families.0.series.0.values.0: Input should be a valid number",
        ),
        (
            {"labels": {"cpu": "0", "mode": "idle"}, "values": [None]},
            "families.0.series.0.values: every value is null",
        ),
        (
            {"labels": {"cpu": "0", "mode": "idle"}, "values": [True]},
            "families.0.series.0.values.0: Input should be a valid number",
        ),
        (
            {"labels": {"cpu": "0", "mode": "idle"}, "values": [1.0, 2.0]},
            "families.0.series.0.values: 2 values for 1 timestamps",
        ),
        # A new label set in a known family: its labels are checked.
        (
            {"labels": {"cpu": "0", "bad-name": "x"}, "values": [1.0]},
            "families.0.series.0.labels.bad-name",
        ),
        # Not hashable, not a label set: 422, never a 500.
        (
            {"labels": {"cpu": ["0"], "mode": "idle"}, "values": [1.0]},
            "families.0.series.0.labels.cpu: Input should be a valid string",
        ),
        ({"labels": ["cpu"], "values": [1.0]}, "families.0.series.0.labels"),
    ],
)
def test_known_families_are_still_validated_whole(world, credential, real_store, series, detail):
    for n in range(2):
        assert post(credential, columns(n)).status_code == 200
    assert known_of(world.acme_device).size == 3
    before = stored(real_store, world.acme.pk, "app_queue_depth")
    body = columns(
        5,
        node_cpu_seconds_total=[series],
        app_queue_depth=[{"labels": {}, "values": [9.0]}],
    )
    response = post(credential, body)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid_request"
    assert response.json()["detail"].startswith(detail)
    # Refused whole: the good series of the batch were not stored either.
    assert stored(real_store, world.acme.pk, "app_queue_depth") == before


@pytest.mark.django_db(transaction=True)
def test_a_renamed_device_starts_afresh_with_its_new_host_name(world, credential, real_store):
    for n in range(2):
        assert post(credential, columns(n)).status_code == 200
    old = known_of(world.acme_device)
    Device.objects.filter(pk=world.acme_device.pk).update(hostname="acme-ws-99")
    response = post(credential, columns(2))
    assert response.json()["accepted"] == 3
    assert known_of(world.acme_device) is not old
    instances = {
        dict(labels)["instance"]: values
        for labels, values in stored(real_store, world.acme.pk, "app_queue_depth").items()
    }
    assert instances == {"acme-ws-01": [0.0, 1.0], "acme-ws-99": [2.0]}


@pytest.mark.django_db(transaction=True)
def test_devices_do_not_share_known_series(world, credential, real_store):
    other = tokens.new_secret(tokens.DEVICE_CREDENTIAL_PREFIX)
    second = Device.objects.create(
        organization=world.acme,
        site=world.acme_hq,
        hostname="acme-ws-02",
        credential_hash=tokens.hash_secret(other),
    )
    for n in range(3):
        assert post(credential, columns(n)).json()["accepted"] == 3
        assert post(other, columns(n)).json()["accepted"] == 3
    devices = {
        dict(labels)["steward_device"]: values
        for labels, values in stored(real_store, world.acme.pk, "app_queue_depth").items()
    }
    assert devices == {
        str(world.acme_device.pk): [0.0, 1.0, 2.0],
        str(second.pk): [0.0, 1.0, 2.0],
    }


@pytest.mark.django_db(transaction=True)
def test_another_store_is_never_given_the_old_ids(world, credential, real_store, tmp_path):
    for n in range(2):
        assert post(credential, columns(n)).status_code == 200
    fresh = open_store(tmp_path / "other.sqlite3")
    set_store_for_tests(fresh)
    try:
        response = post(credential, columns(2))
        assert response.json()["accepted"] == 3
        assert response.json()["errors"] == []
        assert list(stored(fresh, world.acme.pk, "app_queue_depth").values()) == [[2.0]]
    finally:
        set_store_for_tests(real_store)
        fresh.close()


@pytest.mark.django_db(transaction=True)
def test_a_series_over_the_limit_is_rejected_and_the_known_ones_still_stored(
    world, credential, real_store
):
    """The store allows 12 series per device here: 3 of the batch, the agent's own
    spool_bytes series, then 8 more; the ninth and tenth new ones are refused."""
    for n in range(2):
        assert post(credential, columns(n)).status_code == 200
    extra = [{"labels": {"n": str(i)}, "values": [1.0]} for i in range(10)]
    body = columns(2)
    body["families"].append({"name": "app_extra", "series": extra})
    answer = post(credential, body).json()
    assert answer["accepted"] == 3 + 8
    assert answer["rejected"] == 2
    assert "app_extra" in answer["errors"][0]
    assert stored(real_store, world.acme.pk, "app_queue_depth")  # the known series: stored
    assert len(stored(real_store, world.acme.pk, "app_extra")) == 8


def test_the_cache_stops_growing_at_its_bound(monkeypatch):
    monkeypatch.setattr(agent, "MAX_KNOWN_PER_DEVICE", 2)
    known = agent.KnownSeries(lambda: None, 1, {})  # type: ignore[arg-type]
    for i in range(5):
        known.remember("m", {"i": str(i)}, (i, {"i": str(i)}))
    assert known.size == 2
    assert list(known.families["m"]) == [(("i", "0"),), (("i", "1"),)]


@pytest.mark.django_db(transaction=True)
def test_health_series_share_the_batch_transaction_and_the_answer_counts_the_batch(
    world, credential, real_store, monkeypatch
):
    """Once the store knows the agent's health series (after the first batch), they go
    in the batch's one write transaction; the answer still counts the batch alone, a
    replay included (its health samples are fresh, the batch's are duplicates)."""
    writes = []
    real_write = real_store.backend.write

    def counted(conn):
        writes.append(1)
        return real_write(conn)

    assert post(credential, columns(0)).json()["accepted"] == 3
    monkeypatch.setattr(real_store.backend, "write", counted)
    answers = []
    for body in (columns(1), columns(1), columns(2)):  # the second: a replay
        del writes[:]
        answer = post(credential, body).json()
        assert len(writes) == 1
        answers.append((answer["accepted"], answer["duplicates"], answer["rejected"]))
    assert answers == [(3, 0, 0), (0, 3, 0), (3, 0, 0)]
    spool = stored(real_store, world.acme.pk, "steward_agent_spool_bytes")
    [(labels, values)] = spool.items()
    assert dict(labels)["steward_device"] == str(world.acme_device.pk)
    assert len(values) == 4  # one per batch, the replay too: each is a new observation


def test_health_samples_of_a_device_never_share_a_millisecond(monkeypatch):
    known = agent.KnownSeries(lambda: None, 1, {})  # type: ignore[arg-type]
    monkeypatch.setattr(ingest, "now_ms", lambda: 1_000)
    assert [agent.stats_time(known) for _ in range(3)] == [1_000, 1_001, 1_002]
    monkeypatch.setattr(ingest, "now_ms", lambda: 5_000)
    assert agent.stats_time(known) == 5_000
