"""The scoring job: every stored sample fed once to its series' detector, state kept."""

from __future__ import annotations

import pytest

from steward.insights import scoring, services
from steward.insights.models import DetectorState
from steward.intel import StreamDetector
from steward.tsdb.types import METRIC_NAME, Matcher, MatchOp
from tests.insights.conftest import NOW_MS
from tests.insights.data import CPU_META, cpu, gauge, noisy
from tests.server.conftest import make_device

pytestmark = pytest.mark.django_db
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR


def run(store, world, now_ms):
    store.clock.now_ms = now_ms
    return scoring.score_organization(store, world.acme.pk, world.acme.slug, now_ms)


def load_values(store, world, name, **labels):
    matchers = [Matcher(METRIC_NAME, MatchOp.EQ, name)]
    matchers += [Matcher(k, MatchOp.EQ, v) for k, v in labels.items()]
    return store.select([world.acme.pk], matchers, 0, NOW_MS + 10 * 3_600_000)


def test_each_new_sample_is_scored_exactly_once(store, world):
    device = world.acme_device
    start = NOW_MS - 10 * MIN
    for disk in ("sda", "sdb", "sdc"):
        store.append(
            world.acme.pk, gauge(device, "node_load1", start, NOW_MS, noisy(1, 0.2), disk=disk)
        )

    first = run(store, world, NOW_MS)
    again = run(store, world, NOW_MS)
    store.append(
        world.acme.pk, gauge(device, "node_load1", NOW_MS, NOW_MS + MIN, noisy(1, 0.2), disk="sda")
    )
    later = run(store, world, NOW_MS + MIN)

    assert (first.series, first.samples, first.new_series) == (3, 3 * 60, 3)
    assert (again.series, again.samples) == (0, 0)
    assert (later.series, later.samples, later.new_series) == (1, 6, 0)
    cursors = sorted(DetectorState.objects.values_list("cursor_ms", flat=True))
    assert cursors == [NOW_MS - 10_000, NOW_MS - 10_000, NOW_MS + MIN - 10_000]


def test_state_survives_a_restart_bit_for_bit(store, world):
    """Three runs (three worker processes, say) leave the state one detector would have."""
    device = world.acme_device
    start = NOW_MS - 10 * MIN
    samples = list(
        gauge(device, "node_memory_Active_bytes", start, NOW_MS + 20 * MIN, noisy(5e9, 1e8))
    )
    store.clock.now_ms = NOW_MS + 20 * MIN  # the store refuses samples from its future
    store.append(world.acme.pk, samples)

    for now in (NOW_MS, NOW_MS + 7 * MIN, NOW_MS + 20 * MIN):
        run(store, world, now)

    reference = StreamDetector()
    for s in samples:
        reference.update(s.timestamp_ms / 1000.0, s.value)
    row = DetectorState.objects.get(metric="node_memory_Active_bytes")
    assert bytes(row.state) == reference.to_bytes()
    assert row.cursor_ms == samples[-1].timestamp_ms


def test_counters_are_scored_as_rates(store, world):
    store.set_metadata(world.acme.pk, [CPU_META])
    store.append(world.acme.pk, cpu(world.acme_device, NOW_MS - 5 * MIN, NOW_MS, lambda t: 0.25))

    result = run(store, world, NOW_MS)

    user = services.anomaly_state(
        world.acme.pk,
        [
            Matcher(METRIC_NAME, MatchOp.EQ, "node_cpu_seconds_total"),
            Matcher("mode", MatchOp.EQ, "user"),
            Matcher("cpu", MatchOp.EQ, "0"),
        ],
    )
    assert len(user) == 1
    # 25 % busy, 60 % of it user: 0.15 s of CPU per second; the first sample only primes.
    assert user[0].observed == pytest.approx(0.15)
    assert result.samples == 8 * 29


def test_reads_are_one_per_family_whatever_the_number_of_series(
    store, world, django_assert_max_num_queries
):
    device = world.acme_device
    for n in range(40):
        store.append(
            world.acme.pk,
            gauge(
                device,
                "node_hwmon_temp_celsius",
                NOW_MS - 2 * MIN,
                NOW_MS,
                noisy(50, 2),
                sensor=str(n),
            ),
        )
    calls = []
    select = store.select

    def counting(*args, **kwargs):
        calls.append(args[1])
        return select(*args, **kwargs)

    store.select = counting
    with django_assert_max_num_queries(8):  # load, update batch, insert, transaction
        result = run(store, world, NOW_MS)

    assert result.series == 40
    assert len(calls) == 1  # one select for the 40 series of the family


def test_work_grows_linearly_with_the_number_of_series(store, world):
    device = world.acme_device
    for n in range(50):
        store.append(
            world.acme.pk,
            gauge(device, f"fam_{n % 5}", NOW_MS - MIN, NOW_MS, noisy(1, 0.1, seed=n), n=str(n)),
        )
    small = run(store, world, NOW_MS)
    for n in range(50, 250):
        store.append(
            world.acme.pk,
            gauge(device, f"fam_{n % 5}", NOW_MS, NOW_MS + MIN, noisy(1, 0.1, seed=n), n=str(n)),
        )
    for n in range(50):
        store.append(
            world.acme.pk,
            gauge(device, f"fam_{n % 5}", NOW_MS, NOW_MS + MIN, noisy(1, 0.1, seed=n), n=str(n)),
        )
    big = run(store, world, NOW_MS + MIN)

    assert (small.series, small.samples, small.families) == (50, 300, 5)
    assert (big.series, big.samples, big.families) == (250, 1500, 5)


def test_a_state_of_another_detector_version_starts_afresh(store, world):
    device = world.acme_device
    store.append(
        world.acme.pk, gauge(device, "node_load1", NOW_MS - 2 * MIN, NOW_MS, noisy(1, 0.2))
    )
    run(store, world, NOW_MS - MIN)
    DetectorState.objects.update(state=b"\x01 an older layout")

    result = run(store, world, NOW_MS)

    row = DetectorState.objects.get()
    assert result.samples == 5 and row.cursor_ms == NOW_MS - 10_000
    assert StreamDetector.from_bytes(bytes(row.state)).count == 5


def test_the_last_anomaly_is_kept_by_later_runs_that_find_none(store, world):
    device = world.acme_device
    start = NOW_MS - 60 * MIN
    spike = NOW_MS - 5 * MIN
    calm = noisy(1, 0.1)
    store.clock.now_ms = NOW_MS + 10 * MIN
    store.append(
        world.acme.pk,
        gauge(
            device,
            "node_load1",
            start,
            NOW_MS + 10 * MIN,
            lambda t: 40.0 if t * 1000 == spike else calm(t),
        ),
    )
    for now in range(start + 10 * MIN, NOW_MS + 1, 10 * MIN):
        run(store, world, now)
    found = DetectorState.objects.get().last_verdict

    run(store, world, NOW_MS + 10 * MIN)

    later = DetectorState.objects.get()
    assert found["anomaly"]["ts"] == spike and found["anomaly"]["raw_score"] >= 0.5
    assert later.last_verdict["ts"] == NOW_MS + 10 * MIN - 10_000
    assert later.last_verdict["anomaly"] == found["anomaly"]  # kept for the API and alerts
    assert later.last_score == later.last_verdict["score"]
    assert set(later.last_verdict) == set(found)


def test_a_run_that_sees_only_a_counter_reset_keeps_the_last_verdict(store, world):
    device = world.acme_device
    name = "node_network_receive_bytes_total"
    store.append(world.acme.pk, gauge(device, name, NOW_MS - 5 * MIN, NOW_MS, lambda t: 1000.0 * t))
    run(store, world, NOW_MS - 10_000)
    before = DetectorState.objects.get()
    store.append(world.acme.pk, gauge(device, name, NOW_MS, NOW_MS + 10_000, lambda t: 5.0))

    result = run(store, world, NOW_MS)

    after = DetectorState.objects.get()
    assert (result.series, result.samples) == (1, 0)
    assert after.cursor_ms == NOW_MS and after.last_raw == 5.0
    assert bytes(after.state) == bytes(before.state)
    assert after.last_verdict == before.last_verdict and before.last_verdict["ts"] > 0
    assert after.last_score == before.last_score


def test_saves_in_batches_keep_every_row(store, world, monkeypatch):
    """New and updated rows are written SAVE_BATCH at a time (a transaction each, so the
    write lock is never held for a whole family): none is lost at the batch edges."""
    monkeypatch.setattr(scoring, "SAVE_BATCH", 3)
    device = world.acme_device
    for n in range(10):
        store.append(
            world.acme.pk,
            gauge(device, "fam", NOW_MS - MIN, NOW_MS, noisy(1, 0.1, seed=n), n=str(n)),
        )
    first = run(store, world, NOW_MS)
    for n in range(10):
        store.append(
            world.acme.pk,
            gauge(device, "fam", NOW_MS, NOW_MS + MIN, noisy(1, 0.1, seed=n), n=str(n)),
        )
    later = run(store, world, NOW_MS + MIN)

    assert (first.new_series, later.series, later.new_series) == (10, 10, 0)
    cursors = list(DetectorState.objects.values_list("cursor_ms", flat=True))
    assert cursors == [NOW_MS + MIN - 10_000] * 10


def recording_selects(store):
    """Wrap the real store's ``select``: the (metric, start) of each family read."""
    calls = []
    select = store.select

    def recording(org_ids, matchers, start_ms, *args, **kwargs):
        calls.append((matchers[0].value, start_ms))
        return select(org_ids, matchers, start_ms, *args, **kwargs)

    store.select = recording
    return calls


def test_a_stopped_series_does_not_hold_back_its_familys_read(store, world):
    """A removed disk keeps its old cursor; the family is still read from the running ones."""
    device = world.acme_device
    store.append(world.acme.pk, gauge(device, "node_load1", NOW_MS - 3 * HOUR, NOW_MS - 2 * HOUR,
                                      noisy(1, 0.2), disk="gone"))  # fmt: skip
    run(store, world, NOW_MS - 2 * HOUR)
    store.clock.now_ms = NOW_MS
    store.append(world.acme.pk, gauge(device, "node_load1", NOW_MS - 5 * MIN, NOW_MS,
                                      noisy(1, 0.2), disk="sda"))  # fmt: skip
    run(store, world, NOW_MS)
    store.append(world.acme.pk, gauge(device, "node_load1", NOW_MS, NOW_MS + MIN,
                                      noisy(1, 0.2), disk="sda"))  # fmt: skip
    calls = recording_selects(store)

    later = run(store, world, NOW_MS + MIN)

    assert calls == [("node_load1", NOW_MS - 10_000 + 1)]  # after sda's cursor, not 1 h back
    assert (later.series, later.samples) == (1, 6)


def test_after_a_worker_outage_every_series_catches_up(store, world):
    """All series behind by the outage are running: the read goes back to the oldest."""
    device = world.acme_device
    for disk in ("sda", "sdb"):
        store.append(world.acme.pk, gauge(device, "node_load1", NOW_MS - 5 * MIN, NOW_MS,
                                          noisy(1, 0.2), disk=disk))  # fmt: skip
    store.append(world.acme.pk, gauge(device, "node_load1", NOW_MS - 5 * MIN, NOW_MS - 2 * MIN,
                                      noisy(1, 0.2), disk="sdc"))  # fmt: skip
    run(store, world, NOW_MS)
    store.clock.now_ms = NOW_MS + 30 * MIN
    for disk in ("sda", "sdb", "sdc"):  # sdc 2 min behind the others, still running
        store.append(world.acme.pk, gauge(device, "node_load1", NOW_MS, NOW_MS + 30 * MIN,
                                          noisy(1, 0.2), disk=disk))  # fmt: skip
    calls = recording_selects(store)

    later = run(store, world, NOW_MS + 30 * MIN)

    assert calls == [("node_load1", NOW_MS - 2 * MIN - 10_000 + 1)]
    assert (later.series, later.samples) == (3, 3 * 180)


def test_states_of_series_silent_for_a_week_are_forgotten(store, world):
    retired = make_device(world.acme_hq, "acme-ws-retired")
    device = world.acme_device
    store.set_metadata(world.acme.pk, [CPU_META])
    at = NOW_MS - 8 * DAY  # the retired device's last day
    store.clock.now_ms = at
    store.append(world.acme.pk, gauge(retired, "node_load1", at - 5 * MIN, at, noisy(1, 0.2)))
    store.append(world.acme.pk, cpu(retired, at - 5 * MIN, at, lambda t: 0.25))
    run(store, world, at)
    at = NOW_MS - 6 * DAY  # a disk of this device last seen six days ago
    store.clock.now_ms = at
    store.append(world.acme.pk, gauge(device, "node_load1", at - 5 * MIN, at, noisy(1, 0.2),
                                      disk="sdb"))  # fmt: skip
    run(store, world, at)
    store.clock.now_ms = NOW_MS
    store.append(world.acme.pk, gauge(device, "node_load1", NOW_MS - 5 * MIN, NOW_MS,
                                      noisy(1, 0.2), disk="sda"))  # fmt: skip
    store.append(world.acme.pk, cpu(device, NOW_MS - 5 * MIN, NOW_MS, lambda t: 0.5))
    retired_rows = DetectorState.objects.filter(device_id=retired.pk)
    assert retired_rows.count() == 1 + 8 + 1  # load, 2 cores x 4 modes, the CPU signal

    result = run(store, world, NOW_MS)

    assert result.forgotten == 10
    assert not retired_rows.exists()
    kept = DetectorState.objects.filter(device_id=device.pk, metric="node_load1")
    assert sorted(row.labels["disk"] for row in kept) == ["sda", "sdb"]
    assert DetectorState.objects.filter(device_id=device.pk).count() == 2 + 8 + 1

    again = run(store, world, NOW_MS)
    assert again.forgotten == 0
