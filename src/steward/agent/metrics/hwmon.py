"""Temperatures and fan speeds from /sys/class/hwmon, named as node_exporter names them.

A chip's label comes from its device path (``platform_coretemp_0``), which is stable
across reboots, unlike the ``hwmonN`` numbering that follows module load order; the
human-readable ``name`` file goes into ``node_hwmon_chip_names`` (node_exporter's
``hwmonName``). Chips are rediscovered every ``REDISCOVER_SECONDS``; sensor values are
read every round. Machines without sensors (most virtual machines) report nothing.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from steward.agent.metrics.collectors import Host, Sample

REDISCOVER_SECONDS = 300.0
_INVALID = re.compile(r"[^a-z0-9:_]")
_SENSOR_INPUT = re.compile(r"^(temp|fan)(\d+)_input$")


def clean_name(raw: str) -> str:
    """node_exporter's cleanMetricName: lower case, [^a-z0-9:_] to "_", trimmed of "_"."""
    return _INVALID.sub("_", raw.strip().lower()).strip("_")


@dataclass(frozen=True, slots=True)
class Sensor:
    chip: str
    sensor: str  # "temp1", "fan2"
    kind: str  # "temp" or "fan"
    path: str  # the *_input file


def chip_label(hwmon_dir: str) -> str:
    device = os.path.join(hwmon_dir, "device")
    if os.path.exists(device):
        prefix, dev_name = os.path.split(os.path.realpath(device))
        dev_type = clean_name(os.path.basename(prefix))
        dev_name = clean_name(dev_name)
        if dev_type and dev_name:
            return f"{dev_type}_{dev_name}"
        if dev_name:
            return dev_name
    try:
        with open(os.path.join(hwmon_dir, "name"), encoding="utf-8") as handle:
            name = clean_name(handle.read())
        if name:
            return name
    except OSError:
        pass
    return clean_name(os.path.basename(os.path.realpath(hwmon_dir)))


class HwmonCollector:
    name = "hwmon"
    period = 0.0

    def __init__(self, host: Host, clock: Callable[[], float] = time.monotonic) -> None:
        self.host = host
        self._clock = clock
        self._sensors: list[Sensor] = []
        self._chip_names: dict[str, str] = {}
        self._discovered_at: float | None = None

    def discover(self) -> None:
        sensors: list[Sensor] = []
        chip_names: dict[str, str] = {}
        base = self.host.path("sys/class/hwmon")
        try:
            entries = sorted(os.listdir(base))
        except OSError:
            entries = []
        for entry in entries:
            directory = os.path.join(base, entry)
            chip = chip_label(directory)
            try:
                with open(os.path.join(directory, "name"), encoding="utf-8") as handle:
                    chip_names[chip] = handle.read().strip()
            except OSError:
                pass
            try:
                files = sorted(os.listdir(directory))
            except OSError:
                continue
            for file in files:
                match = _SENSOR_INPUT.match(file)
                if match:
                    kind = match[1]
                    sensors.append(
                        Sensor(chip, f"{kind}{match[2]}", kind, os.path.join(directory, file))
                    )
        self._sensors = sensors
        self._chip_names = chip_names
        self._discovered_at = self._clock()

    def collect(self) -> list[Sample]:
        if self._discovered_at is None or self._clock() - self._discovered_at > REDISCOVER_SECONDS:
            self.discover()
        samples: list[Sample] = [
            ("node_hwmon_chip_names", (chip, name), 1) for chip, name in self._chip_names.items()
        ]
        for sensor in self._sensors:
            try:
                with open(sensor.path, "rb", buffering=0) as handle:
                    raw = int(handle.read().strip())
            except (OSError, ValueError):
                continue  # a sensor that is absent or faulty right now (EIO, ENODATA)
            if sensor.kind == "temp":
                samples.append(
                    ("node_hwmon_temp_celsius", (sensor.chip, sensor.sensor), raw / 1000)
                )
            else:
                samples.append(("node_hwmon_fan_rpm", (sensor.chip, sensor.sensor), raw))
        return samples
