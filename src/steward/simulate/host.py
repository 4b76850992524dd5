"""One simulated machine: its hardware and the metric series its agent would report.

Pure and deterministic: a ``SimHost`` built from the same ``(index, seed)`` has the same
hardware and the same behaviour, so a re-run tells the same story about the same devices.
Family names, label names and units are the real agent's (``steward.agent.metrics.
families``); the tests check every family sent here against that table.

What the series look like (per host, each with its own parameters):

* CPU: a base utilisation with a daily cycle, noise and occasional bursts of a few
  minutes, split into modes (user, system, iowait, steal on virtual machines, ...), as
  cumulative ``node_cpu_seconds_total`` per core;
* load averages follow CPU demand times core count, smoothed exponentially over 1, 5 and
  15 minutes as the kernel does;
* memory: used memory drifts slowly between bounds; the page cache takes part of the rest;
* filesystems fill slowly and are occasionally cleaned up;
* disk and network byte counters grow with activity (``lo`` included, as on a real host).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

GIB = 2**30
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
DAY_S = 86_400.0

Series = tuple[str, tuple[tuple[str, str], ...]]  # (family, sorted labels)


@dataclass
class Filesystem:
    device: str
    mountpoint: str
    fstype: str
    size: float
    used: float  # fraction
    growth_per_s: float  # fraction per second
    cleanup_chance: float  # per second

    @property
    def free_bytes(self) -> float:
        """Bytes not used (``f_bfree``)."""
        return self.size * (1 - self.used)

    @property
    def avail_bytes(self) -> float:
        """What users may still write (``f_bavail``): ext4 reserves 5 % for root."""
        reserved = self.size * 0.05 if self.fstype == "ext4" else 0.0
        return max(self.free_bytes - reserved, 0.0)


@dataclass
class SimHost:
    """One fake machine; ``step(t)`` advances it to time ``t`` (seconds, epoch)."""

    index: int
    seed: str = "steward"
    prefix: str = "sim"
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = self.rng = random.Random(f"{self.seed}:{self.index}")  # noqa: S311 - not security
        self.hostname = hostname(self.prefix, self.index)
        self.role = rng.choice(("web", "db", "app", "ws", "build", "cache"))
        self.cores = rng.choice((2, 2, 4, 4, 4, 8, 8, 16))
        self.memory = rng.choice((4, 8, 8, 16, 16, 32, 64)) * GIB
        self.swap = rng.choice((0, 1, 2)) * GIB
        self.virtual = rng.random() < 0.6
        self.cpu_base = rng.uniform(0.03, 0.45)
        self.cpu_daily = rng.uniform(0.02, 0.3)
        self.phase = rng.random()
        self.burst_chance = rng.uniform(0.0005, 0.004)  # per second
        self.mem_used = rng.uniform(0.2, 0.75)
        self.mem_floor, self.mem_ceiling = 0.12, rng.uniform(0.8, 0.95)
        self.disk = "nvme0n1" if rng.random() < 0.5 else "sda"
        self.nic = rng.choice(("eth0", "ens18", "enp3s0"))
        self.io_scale = rng.uniform(2e5, 2e7)  # bytes/s at full CPU
        self.net_scale = rng.uniform(5e4, 5e7)
        part = "/dev/nvme0n1p" if self.disk == "nvme0n1" else "/dev/sda"
        root_size = rng.choice((32, 64, 100, 250, 500)) * GIB
        self.filesystems = [
            Filesystem(f"{part}2", "/", "ext4", root_size, rng.uniform(0.15, 0.9),
                       rng.uniform(0.005, 0.06) / DAY_S, rng.uniform(1, 4) / DAY_S),
            Filesystem(f"{part}1", "/boot/efi", "vfat", 512 * 2**20, rng.uniform(0.01, 0.05),
                       0.0, 0.0),
        ]  # fmt: skip
        if self.role in ("db", "build") or rng.random() < 0.2:
            self.filesystems.append(
                Filesystem(f"{part}3", "/var", "xfs", rng.choice((100, 500, 2000)) * GIB,
                           rng.uniform(0.2, 0.8), rng.uniform(0.01, 0.1) / DAY_S, 3 / DAY_S)
            )  # fmt: skip
        self.boot_time = 0.0
        self.t = 0.0
        self.burst_until = 0.0
        self.burst_level = 0.0
        self.load = [0.0, 0.0, 0.0]
        self.counters: dict[Series, float] = {}

    # -- time ---------------------------------------------------------------------------

    def start(self, t: float, rebooted: bool = False) -> None:
        """Place the host at time ``t``, booted some days before (``rebooted``: a minute
        or two before), counters as if running since."""
        rng = self.rng
        up_s = rng.uniform(30, 120) if rebooted else rng.uniform(0.5, 40) * DAY_S
        self.boot_time = float(int(t - up_s))
        self.t = t
        uptime = t - self.boot_time
        busy = self.cpu_base
        self.load = [busy * self.cores] * 3
        for cpu in range(self.cores):
            for mode, share in self._mode_shares(busy).items():
                self.counters[_key("node_cpu_seconds_total", cpu=str(cpu), mode=mode)] = (
                    uptime * share * rng.uniform(0.9, 1.1)
                )
        for key, rate in self._byte_rates(busy).items():
            self.counters[key] = uptime * rate * rng.uniform(0.3, 0.7)

    def disk_use(self) -> list[float]:
        """Each file system's used fraction (``set_disk_use`` puts them back)."""
        return [round(fs.used, 6) for fs in self.filesystems]

    def set_disk_use(self, used: list[float]) -> None:
        """File systems as full as ``disk_use`` said (a re-run of the simulation); a
        list that does not fit this host (another seed's) is ignored."""
        if len(used) == len(self.filesystems) and all(0 <= u <= 1 for u in used):
            for fs, fraction in zip(self.filesystems, used, strict=True):
                fs.used = fraction

    def utilisation(self, t: float) -> float:
        """CPU busy fraction at ``t`` (0..1): base + daily cycle + noise + bursts."""
        daily = math.sin(2 * math.pi * (t / DAY_S + self.phase))
        value = self.cpu_base + self.cpu_daily * max(daily, -0.5)
        value += self.rng.gauss(0, 0.03)
        if t < self.burst_until:
            value += self.burst_level
        return min(max(value, 0.005), 0.995)

    def step(self, t: float) -> None:
        """Advance every series from the previous time to ``t`` (seconds)."""
        dt = max(t - self.t, 0.0)
        self.t = t
        if dt == 0:
            return
        rng = self.rng
        if t >= self.burst_until and rng.random() < self.burst_chance * dt:
            self.burst_until = t + rng.uniform(60, 600)
            self.burst_level = rng.uniform(0.25, 0.6)
        busy = self.utilisation(t)
        for cpu in range(self.cores):
            jitter = min(max(busy + rng.gauss(0, 0.04), 0.0), 1.0)
            for mode, share in self._mode_shares(jitter).items():
                key = _key("node_cpu_seconds_total", cpu=str(cpu), mode=mode)
                self.counters[key] = self.counters.get(key, 0.0) + share * dt
        demand = busy * self.cores * rng.uniform(0.85, 1.3)
        for i, window in enumerate((60.0, 300.0, 900.0)):
            self.load[i] += (demand - self.load[i]) * (1 - math.exp(-dt / window))
        drift = rng.gauss(0, 0.002) * math.sqrt(dt / 10)
        self.mem_used = min(max(self.mem_used + drift, self.mem_floor), self.mem_ceiling)
        for fs in self.filesystems:
            fs.used = min(fs.used + fs.growth_per_s * dt * rng.uniform(0, 2), 0.995)
            if rng.random() < fs.cleanup_chance * dt:
                fs.used = max(fs.used - rng.uniform(0.05, 0.25), 0.05)
        for key, rate in self._byte_rates(busy).items():
            self.counters[key] = self.counters.get(key, 0.0) + rate * dt * rng.uniform(0.5, 1.5)

    # -- output -------------------------------------------------------------------------

    def gauges(self) -> Iterator[tuple[Series, float]]:
        total = float(self.memory)
        used = total * self.mem_used
        rest = total - used
        cached = rest * 0.55
        buffers = rest * 0.05
        free = rest - cached - buffers
        for name, value in (
            ("MemTotal", total),
            ("MemFree", free),
            ("MemAvailable", free + cached * 0.9 + buffers),
            ("Buffers", buffers),
            ("Cached", cached),
            ("SwapTotal", float(self.swap)),
            ("SwapFree", float(self.swap) * 0.97),
        ):
            yield _key(f"node_memory_{name}_bytes"), round(value)
        for name, value in zip(("node_load1", "node_load5", "node_load15"), self.load, strict=True):
            yield _key(name), round(value, 2)
        for fs in self.filesystems:
            labels = {"device": fs.device, "fstype": fs.fstype, "mountpoint": fs.mountpoint}
            yield _key("node_filesystem_size_bytes", **labels), fs.size
            yield _key("node_filesystem_free_bytes", **labels), round(fs.free_bytes)
            yield _key("node_filesystem_avail_bytes", **labels), round(fs.avail_bytes)
        yield _key("node_boot_time_seconds"), self.boot_time

    def samples(self) -> Iterator[tuple[Series, float]]:
        """Every series' current value (counters rounded as the kernel reports them)."""
        for key, value in self.counters.items():
            yield key, round(value, 2)
        yield from self.gauges()

    def inventory(self) -> dict:
        """The inventory document an agent on this host would send (no software list)."""
        rng = random.Random(f"{self.seed}:{self.index}:inventory")  # noqa: S311
        octet = self.index % 250 + 2
        return {
            "hostname": self.hostname,
            "fqdn": f"{self.hostname}.sim.example",
            "os": {"family": "linux", "name": "Debian GNU/Linux", "version": "12",
                   "kernel": "6.1.0-28-amd64", "arch": "x86_64"},
            "cpu": {"model": rng.choice(("Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz",
                                         "AMD EPYC 7313P 16-Core Processor")),
                    "physical_cores": max(self.cores // 2, 1), "logical_cores": self.cores},
            "memory": {"total_bytes": self.memory, "swap_total_bytes": self.swap},
            "disks": [{"name": self.disk, "size_bytes": int(sum(f.size for f in self.filesystems)),
                       "model": "QEMU HARDDISK" if self.virtual else "Samsung SSD 980",
                       "rotational": False}],
            "partitions": [
                {"device": f.device, "mountpoint": f.mountpoint, "fstype": f.fstype,
                 "total_bytes": int(f.size), "used_bytes": int(f.size * f.used),
                 # What users may still write, as the agent reports it (psutil's free),
                 # rounded as node_filesystem_avail_bytes is.
                 "free_bytes": round(f.avail_bytes)}
                for f in self.filesystems
            ],
            "network": [{"name": self.nic, "mac": "52:54:00:" + ":".join(
                            f"{(self.index >> shift) & 255:02x}" for shift in (16, 8, 0)),
                         "is_up": True, "speed_mbps": 1000, "mtu": 1500,
                         "addresses": [{"family": "ipv4",
                                        "address": f"10.{self.index // 250 % 250}.0.{octet}",
                                        "netmask": "255.255.255.0"}]}],
            "hardware": {"vendor": "QEMU" if self.virtual else "Dell Inc.",
                         "model": "Standard PC (Q35 + ICH9, 2009)" if self.virtual
                         else "PowerEdge R650", "serial": f"SIM{self.index:06d}"},
        }  # fmt: skip

    # -- parts --------------------------------------------------------------------------

    def _mode_shares(self, busy: float) -> dict[str, float]:
        steal = 0.03 * busy if self.virtual else 0.0
        iowait = 0.08 * busy * (1.5 if self.role in ("db", "build") else 1.0)
        system = 0.2 * busy
        small = 0.01 * busy
        user = max(busy - steal - iowait - system - 3 * small, 0.0)
        return {"user": user, "nice": small, "system": system, "idle": 1 - busy,
                "iowait": iowait, "irq": small, "softirq": small, "steal": steal}  # fmt: skip

    def _byte_rates(self, busy: float) -> dict[Series, float]:
        io, net = self.io_scale * busy, self.net_scale * busy
        return {
            _key("node_disk_read_bytes_total", device=self.disk): io * 0.6,
            _key("node_disk_written_bytes_total", device=self.disk): io,
            _key("node_disk_reads_completed_total", device=self.disk): io * 0.6 / 16384,
            _key("node_disk_writes_completed_total", device=self.disk): io / 16384,
            _key("node_network_receive_bytes_total", device=self.nic): net,
            _key("node_network_transmit_bytes_total", device=self.nic): net * 0.4,
            _key("node_network_receive_packets_total", device=self.nic): net / 900,
            _key("node_network_transmit_packets_total", device=self.nic): net * 0.4 / 900,
            _key("node_network_receive_bytes_total", device="lo"): 2e3,
            _key("node_network_transmit_bytes_total", device="lo"): 2e3,
        }


def hostname(prefix: str, index: int) -> str:
    return f"{prefix}-{index:04d}"


def _key(family: str, **labels: str) -> Series:
    return family, tuple(sorted(labels.items()))
