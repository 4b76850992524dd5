"""``steward simulate`` against a live server: real enrollment, heartbeats, metrics."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from steward.cli.main import build_parser
from steward.cli.simulate import configure, duration
from steward.inventory.models import Device, EnrollmentToken
from steward.metrics import ingest
from steward.metrics.store import set_store_for_tests
from steward.promql.memstore import MemoryStore
from steward.simulate.runner import Options, run
from steward.tsdb.types import Matcher, MatchOp


@pytest.fixture
def store():
    store = MemoryStore()
    set_store_for_tests(store)
    ingest.devices.clear()
    yield store
    set_store_for_tests(None)
    ingest.devices.clear()


def options(live_server, tmp_path, token: str | None, **extra) -> Options:
    # One request at a time: the live server shares one SQLite connection between threads.
    values = {"interval": 1.0, "duration": 3.0, "concurrency": 1, **extra}
    return Options(live_server.url, 5, token=token, state_dir=tmp_path, **values)


def test_five_agents_enroll_report_and_reuse_their_devices_on_a_rerun(
    transactional_db, live_server, world, store, tmp_path
) -> None:
    _, token = EnrollmentToken.issue(world.acme_hq, "sim", timedelta(hours=1), max_uses=5)

    stats = run(options(live_server, tmp_path, token, backfill=60.0))

    assert stats.errors == {}, stats.summary()
    assert (stats.enrolled, stats.reused) == (5, 0)
    devices = Device.objects.filter(hostname__startswith="sim-")
    assert sorted(d.hostname for d in devices) == [f"sim-{i:04d}" for i in range(5)]
    assert all(d.last_seen is not None and d.last_inventory_at is not None for d in devices)
    assert stats.samples > 0 and stats.accepted == stats.samples
    series = store.series(
        [world.acme.pk], [Matcher("__name__", MatchOp.EQ, "node_cpu_seconds_total")], 0, 2**62
    )
    device_ids = {str(d.pk) for d in devices}
    assert {s["steward_device"] for s in series} == device_ids
    assert {s["job"] for s in series} == {"steward"}
    assert {s["steward_org"] for s in series} == {world.acme.slug}
    assert {s["mode"] for s in series} >= {"user", "system", "idle", "iowait", "steal"}
    saved = json.loads((tmp_path / "simulate.json").read_text())[live_server.url]
    assert sorted(saved) == [f"sim-{i:04d}" for i in range(5)]
    assert (tmp_path / "simulate.json").stat().st_mode & 0o777 == 0o600

    again = run(options(live_server, tmp_path, None, duration=1.5))  # no token needed

    assert again.errors == {}, again.summary()
    assert (again.enrolled, again.reused) == (0, 5)
    assert Device.objects.filter(hostname__startswith="sim-").count() == 5


def test_a_refused_token_stops_the_agents_and_is_counted(
    transactional_db, live_server, world, store, tmp_path
) -> None:
    stats = run(options(live_server, tmp_path, "set_not-a-token", duration=1.0))

    assert stats.stopped == 5
    assert stats.errors == {"/api/v1/agent/enroll: 401 invalid_token": 5}
    assert not Device.objects.filter(hostname__startswith="sim-").exists()


def test_the_command_line() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    configure(parser.add_subparsers())
    args = parser.parse_args(["simulate", "--agents", "1000", "--duration", "2m"])
    assert (args.agents, args.interval, args.duration) == (1000, 10.0, 120.0)
    assert duration("1.5h") == 5400
    assert "simulate" in build_parser().format_help()  # wired in steward/cli/main.py


def test_heartbeats_go_on_while_history_requests_are_slow(tmp_path) -> None:
    # Unit test (no server): a backfill of a day of 60 s rounds is 4 requests; on a busy
    # server each may wait long for its turn. Heartbeats come from a task of their own,
    # as the agent's do, so the host does not show offline meanwhile.
    import asyncio

    from steward.simulate import runner as sim

    simulation = sim.Simulation(
        Options("http://sim.invalid", 1, interval=60.0, backfill=86_400.0, state_dir=tmp_path)
    )
    posts: list[str] = []

    async def post(path, body, credential):
        posts.append(path)
        if path == sim.METRICS_PATH:
            await asyncio.sleep(0.2)  # each history request takes a while
            return {"accepted": 0}
        return {"heartbeat_interval": 0.05}

    simulation._post = post
    host = sim.SimHost(0, "steward", "sim")
    host.start(simulation.clock() - 86_400.0)  # as ``_agent`` does before ``_run``

    asyncio.run(simulation._run(host, "cred", simulation.clock(), 10.0))

    assert posts.count(sim.METRICS_PATH) == 4
    during = posts[: len(posts) - 1 - posts[::-1].index(sim.METRICS_PATH)]
    assert during.count(sim.HEARTBEAT_PATH) >= 8, posts  # ~16 in the 0.8 s it took


def test_no_heartbeats_when_they_are_off(tmp_path) -> None:
    import asyncio

    from steward.simulate import runner as sim

    simulation = sim.Simulation(
        Options("http://sim.invalid", 1, interval=60.0, backfill=3_600.0, state_dir=tmp_path,
                heartbeats=False)
    )  # fmt: skip
    posts = record_paths(simulation)
    host = sim.SimHost(0, "steward", "sim")
    host.start(simulation.clock() - 3_600.0)
    asyncio.run(simulation._run(host, "cred", simulation.clock(), 10.0))
    assert posts == [sim.METRICS_PATH, sim.INVENTORY_PATH]  # the history, then the host now


def test_a_backfill_request_that_times_out_is_tried_again_not_the_end_of_the_host(
    tmp_path, monkeypatch
) -> None:
    # A busy server answered one history request too late: the simulated host stopped
    # for good (198 of 200 in a 1-day backfill). It now retries, as the agent's spool does.
    import asyncio

    from steward.simulate import runner as sim

    monkeypatch.setattr(sim, "HISTORY_BACKOFF_S", 0.0)
    simulation = sim.Simulation(
        Options("http://sim.invalid", 1, interval=60.0, state_dir=tmp_path, heartbeats=False)
    )
    answers = iter(
        [sim.Refused(0, "ReadTimeout"), sim.Refused(503, ""), {"accepted": 1}]
        + [{"accepted": 1}] * 3
        + [sim.Refused(422, "invalid_batch")]
    )
    posts: list[str] = []

    async def post(path, body, credential):
        posts.append(path)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    simulation._post = post
    host = sim.SimHost(0, "steward", "sim")
    now = simulation.clock()
    host.start(now - 86_400 * 5 / 4)  # 5 requests of 360 rounds

    asyncio.run(simulation._backfill(host, "cred", now))

    # the first request took three tries; the last was refused (4xx) and dropped
    assert posts == [sim.METRICS_PATH] * 7


def test_heartbeats_do_not_wait_behind_metrics_requests(tmp_path) -> None:
    # Every metrics connection busy with history (a backfill on a busy server): a
    # heartbeat still goes out at once, on a connection of its own.
    import asyncio

    import httpx

    from steward.simulate import runner as sim

    async def scenario() -> list[str]:
        simulation = sim.Simulation(
            Options("http://sim.invalid", 1, state_dir=tmp_path, concurrency=4)
        )
        sent: list[str] = []

        class Http:
            async def post(self, path, content, headers):
                sent.append(path)
                return httpx.Response(200, json={"heartbeat_interval": 10})

        simulation._http = Http()
        for _ in range(4):  # every metrics connection, held by slow batches
            await simulation._slots.acquire()
        await asyncio.wait_for(
            simulation._post(sim.HEARTBEAT_PATH, {"sent_at": "x"}, "cred"), timeout=2
        )
        return sent

    assert asyncio.run(scenario()) == [sim.HEARTBEAT_PATH]


def test_a_backfilled_host_booted_before_its_history(tmp_path) -> None:
    # `--backfill 1d` sent a day of history, yet the inventory (the device page's
    # "Booted") said the host booted when the simulation started: it was sent before the
    # host was placed in time. Boot time, uptime and history must tell one story.
    import asyncio
    from datetime import datetime

    from steward.simulate import runner as sim

    simulation = sim.Simulation(
        Options("http://sim.invalid", 1, token="t", interval=60.0, backfill=86_400.0,
                state_dir=tmp_path)
    )  # fmt: skip
    bodies: dict[str, list[dict]] = {}

    async def post(path, body, credential):
        bodies.setdefault(path, []).append(body)
        await asyncio.sleep(0)  # a request takes a while: the heartbeat task gets its turn
        if path == sim.ENROLL_PATH:
            return {"device_id": 1, "credential": "cred", "heartbeat_interval": 10}
        return {"accepted": 0, "heartbeat_interval": 10}

    simulation._post = post
    started = simulation.clock()
    asyncio.run(simulation._agent(sim.SimHost(0, "steward", "sim"), deadline=started))

    # Two inventories: before the history, and the host as it is once the history is in.
    inventory, latest = bodies[sim.INVENTORY_PATH]
    booted = datetime.fromisoformat(inventory["boot_time"]).timestamp()
    assert latest["boot_time"] == inventory["boot_time"]
    points = [
        (ts / 1000, value, series["labels"])
        for batch in bodies[sim.METRICS_PATH]
        for family in batch["families"]
        if family["name"] == "node_boot_time_seconds"
        for series in family["series"]
        for ts, value in series["points"]
    ]
    first = min(t for t, _, _ in points)
    assert first < started - 86_000  # a day of history ...
    assert booted < first  # ... after the boot the inventory reports
    assert {value for _, value, _ in points} == {booted}  # one boot, the same everywhere
    [heartbeat, *_] = bodies[sim.HEARTBEAT_PATH]
    assert heartbeat["uptime_seconds"] > started - first > 0


@pytest.mark.parametrize(
    ("agents", "interval", "concurrency", "light"),
    [
        (5, 10.0, 32, 8),  # a small fleet: a quarter of the metrics connections
        (1000, 10.0, 32, 100),  # 100 heartbeats/s: a connection for each in a second
        (1000, 60.0, 32, 17),
        (1000, 0.5, 32, 1000),  # intervals under a second count as one
        (1000, 10.0, 3, 0),  # below 4 everything shares the metrics connections
    ],
)
def test_heartbeat_connections_scale_with_the_fleet(
    tmp_path, agents, interval, concurrency, light
) -> None:
    from steward.simulate import runner as sim

    opts = Options(
        "http://sim.invalid", agents, interval=interval, concurrency=concurrency, state_dir=tmp_path
    )
    assert sim.light_connections(opts) == light


def test_after_a_backfill_the_inventory_tells_what_the_charts_show(tmp_path) -> None:
    # The device page showed a file system 44 % used in its table (the inventory, sent
    # before six hours of history) and 20 % in its chart (the history's last values).
    import asyncio

    from steward.simulate import runner as sim

    simulation = sim.Simulation(
        Options("http://sim.invalid", 1, token="t", interval=60.0, backfill=6 * 3600.0,
                state_dir=tmp_path)
    )  # fmt: skip
    bodies: dict[str, list[dict]] = {}

    async def post(path, body, credential):
        bodies.setdefault(path, []).append(body)
        if path == sim.ENROLL_PATH:
            return {"device_id": 1, "credential": "cred", "heartbeat_interval": 10}
        return {"accepted": 0, "heartbeat_interval": 10}

    simulation._post = post
    host = sim.SimHost(3, "steward", "sim")
    asyncio.run(simulation._agent(host, deadline=simulation.clock()))

    last_avail: dict[str, tuple[int, float]] = {}  # mount point -> (ts, bytes) of the history
    for batch in bodies[sim.METRICS_PATH]:
        for family in batch["families"]:
            if family["name"] == "node_filesystem_avail_bytes":
                for series in family["series"]:
                    mount = series["labels"]["mountpoint"]
                    points = [tuple(point) for point in series["points"]]
                    last_avail[mount] = max([last_avail.get(mount, (0, 0.0)), *points])
    first, latest = bodies[sim.INVENTORY_PATH]
    assert {p["mountpoint"]: p["free_bytes"] for p in latest["partitions"]} == {
        mount: round(value) for mount, (_, value) in last_avail.items()
    }
    # Six hours of filling and clean-ups: the first inventory no longer tells it.
    assert first["partitions"] != latest["partitions"]


def test_a_live_host_sends_its_inventory_hourly(tmp_path) -> None:
    import asyncio

    from steward.simulate import runner as sim

    now = [1_800_000_000.0]

    def clock() -> float:
        now[0] += 5.0  # time passes as the host works; no real waiting
        return now[0]

    simulation = sim.Simulation(
        Options("http://sim.invalid", 1, interval=10.0, heartbeats=False, state_dir=tmp_path),
        clock=clock,
    )
    sent = record_paths(simulation)
    host = sim.SimHost(0, "steward", "sim")
    host.start(now[0])
    asyncio.run(simulation._live(host, "cred", deadline=now[0] + 2.5 * 3600))
    assert sent.count(sim.INVENTORY_PATH) == 2  # at one and two hours
    assert sent.count(sim.METRICS_PATH) > 500


def test_a_re_run_goes_on_after_the_history_sent_and_reboots_the_host(tmp_path) -> None:
    # A second `--backfill 6h` run against the same server sent six hours again over
    # the first run's: the server kept the first of each (series, time), so the stored
    # counters alternated between the two runs' values and the CPU chart read 3,000,000 %.
    import asyncio
    from datetime import datetime

    from steward.simulate import runner as sim

    now = [1_800_000_000.0]

    def runs(backfill: float) -> dict[str, list[dict]]:
        simulation = sim.Simulation(
            Options("http://sim.invalid", 2, token="t", interval=5.0, backfill=backfill,
                    duration=0.0, heartbeats=False, state_dir=tmp_path),
            clock=lambda: now[0],
        )  # fmt: skip
        bodies: dict[str, list[dict]] = {}

        async def post(path, body, credential):
            bodies.setdefault(path, []).append(body)
            if path == sim.ENROLL_PATH:
                return {"device_id": len(bodies[path]), "credential": "c", "heartbeat_interval": 10}
            return {"accepted": 0}

        simulation._post = post
        asyncio.run(simulation.run())
        return bodies

    def avail_at(bodies: dict[str, list[dict]], t: float) -> list[float]:
        return sorted(
            v
            for batch in bodies[sim.METRICS_PATH]
            for f in batch["families"]
            if f["name"] == "node_filesystem_avail_bytes"
            for s in f["series"]
            for ts, v in s["points"]
            if ts == t * 1000
        )

    first = runs(3600.0)
    first_end = max(
        ts for batch in first[sim.METRICS_PATH] for f in batch["families"]
        for s in f["series"] for ts, _ in s["points"]
    ) / 1000  # fmt: skip
    assert first_end == now[0]
    now[0] += 1800.0  # half an hour later, the same again
    second = runs(3600.0)
    assert sim.ENROLL_PATH not in second  # the same devices
    stamps = [
        ts / 1000 for batch in second[sim.METRICS_PATH] for f in batch["families"]
        for s in f["series"] for ts, _ in s["points"]
    ]  # fmt: skip
    assert min(stamps) > first_end  # nothing sent twice: only the half hour since
    # The file systems go on as full as they were (a reboot keeps the files): five
    # seconds of filling apart. A host started afresh is off by up to tens of percent.
    assert avail_at(second, first_end + 5.0) == pytest.approx(avail_at(first, first_end), rel=1e-4)
    assert max(stamps) == now[0]
    for inventory in second[sim.INVENTORY_PATH]:  # rebooted where the last run stopped
        booted = datetime.fromisoformat(inventory["boot_time"]).timestamp()
        assert first_end - 120 <= booted <= first_end


def record_paths(simulation) -> list[str]:
    """Stand in for the simulation's HTTP: every request answered, its path recorded."""
    paths: list[str] = []

    async def post(path, body, credential):
        paths.append(path)
        return {"accepted": 0}

    simulation._post = post
    return paths
