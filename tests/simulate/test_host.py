"""The simulated host: the real agent's families and labels, believable values, stable."""

from __future__ import annotations

from steward.agent.metrics.families import BY_NAME
from steward.simulate.host import CPU_MODES, SimHost
from steward.simulate.runner import build_batch

T0 = 1_764_000_000.0


def run(host: SimHost, seconds: int, step: int = 10) -> dict:
    host.start(T0)
    for k in range(1, seconds // step + 1):
        host.step(T0 + k * step)
    return dict(host.samples())


def test_every_family_and_label_is_the_real_agents() -> None:
    host = SimHost(3)
    values = run(host, 60)
    for name, labels in values:
        family = BY_NAME[name]
        assert {k for k, _ in labels} == set(family.labels), name
    batch = build_batch({key: [[1, 0.0]] for key in values})
    for family in batch["families"]:
        assert family["type"] == BY_NAME[family["name"]].type


def test_counters_only_grow_and_cpu_time_matches_wall_time() -> None:
    host = SimHost(5)
    host.start(T0)
    before = dict(host.samples())
    host.step(T0 + 100)
    after = dict(host.samples())
    for key, value in before.items():
        if key[0].endswith("_total"):
            assert after[key] >= value, key
    per_cpu = sum(
        after[("node_cpu_seconds_total", (("cpu", "0"), ("mode", m)))]
        - before[("node_cpu_seconds_total", (("cpu", "0"), ("mode", m)))]
        for m in CPU_MODES
    )
    assert abs(per_cpu - 100) < 0.5  # every second of wall time is spent in some mode


def test_gauges_stay_physical() -> None:
    host = SimHost(9)
    values = run(host, 3600)
    total = values[("node_memory_MemTotal_bytes", ())]
    assert 0 < values[("node_memory_MemAvailable_bytes", ())] < total
    for (name, labels), value in values.items():
        if name == "node_filesystem_avail_bytes":
            size = values[("node_filesystem_size_bytes", labels)]
            assert 0 <= value <= size
    assert values[("node_load1", ())] >= 0


def test_the_same_index_is_the_same_host_and_hosts_differ() -> None:
    a, b, c = SimHost(1), SimHost(1), SimHost(2)
    assert (a.hostname, a.cores, a.memory, a.cpu_base) == (
        b.hostname, b.cores, b.memory, b.cpu_base
    )  # fmt: skip
    assert (a.cores, a.memory, a.cpu_base) != (c.cores, c.memory, c.cpu_base)
    assert a.hostname == "sim-0001"


def test_a_rebooted_host_booted_a_minute_or_two_ago_and_its_counters_are_small() -> None:
    host = SimHost(5)
    host.start(T0, rebooted=True)
    assert T0 - 120 <= host.boot_time <= T0 - 30
    uptime = T0 - host.boot_time
    cpu = {k: v for k, v in host.samples() if k[0] == "node_cpu_seconds_total"}
    assert cpu and all(0 <= v <= 1.1 * uptime for v in cpu.values())
    long_running = SimHost(5)
    long_running.start(T0)
    assert long_running.boot_time < T0 - 0.4 * 86_400
