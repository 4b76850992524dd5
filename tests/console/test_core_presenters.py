"""Pure helpers of the console: inventory presenters and template filters."""

from __future__ import annotations

import pytest

from steward.console.core import presenters
from steward.console.templatetags.steward import alert_value, bytes_iec, gib, link_speed


def test_file_systems_compute_usage_and_levels():
    rows = presenters.file_systems(
        {
            "partitions": [
                {
                    "device": "/dev/sda2",
                    "mountpoint": "/var",
                    "fstype": "xfs",
                    "total_bytes": 200,
                    "used_bytes": 170,
                    "free_bytes": 30,
                },
                {
                    "device": "/dev/sda1",
                    "mountpoint": "/",
                    "fstype": "ext4",
                    "total_bytes": 100,
                    "used_bytes": 40,
                    "free_bytes": 60,
                },
                {"device": "tmpfs", "mountpoint": "/run", "total_bytes": 0, "used_bytes": 0},
                {
                    "device": "/dev/sdb1",
                    "mountpoint": "/data",
                    "total_bytes": 100,
                    "used_bytes": 95,
                },
            ]
        }
    )
    assert [r.mountpoint for r in rows] == ["/", "/data", "/run", "/var"]
    assert [r.percent_used for r in rows] == [40.0, 95.0, None, 85.0]
    assert [r.level for r in rows] == ["ok", "critical", "unknown", "warning"]


def test_file_system_usage_counts_root_reserved_space_as_used():
    # As ``df`` reports a disk with 5 % reserved for root: used + free < total. The
    # usage is what nobody but root can write any more (1 - free / total), the figure
    # the device charts, the fleet ranking and the filesystem alerts use.
    (fs,) = presenters.file_systems(
        {
            "partitions": [
                {
                    "device": "/dev/vda",
                    "mountpoint": "/",
                    "total_bytes": 1000,
                    "used_bytes": 400,
                    "free_bytes": 550,
                }
            ]
        }
    )
    assert fs.percent_used == pytest.approx(45.0)
    assert fs.reserved_bytes == 50
    (tight,) = presenters.file_systems(
        {
            "partitions": [
                {"mountpoint": "/", "total_bytes": 1000, "used_bytes": 400, "free_bytes": 595}
            ]
        }
    )
    assert tight.reserved_bytes is None  # under 1 %: not worth a mention


@pytest.mark.parametrize(
    "inventory",
    [None, {}, {"partitions": None}, {"partitions": "x"}, {"partitions": [None, 3, "x"]}],
)
def test_presenters_tolerate_missing_or_malformed_sections(inventory):
    assert presenters.file_systems(inventory) == []
    assert presenters.disks(inventory) == []
    assert presenters.interfaces(inventory) == []
    assert presenters.sessions(inventory) == []
    assert presenters.swap_bytes(inventory) is None
    assert presenters.bios_version(inventory) == ""
    assert presenters.cpu_max_mhz(inventory) is None


def test_nulls_stay_unknown_instead_of_becoming_zero():
    (fs,) = presenters.file_systems(
        {
            "partitions": [
                {"device": "d", "mountpoint": "/", "total_bytes": None, "used_bytes": None}
            ]
        }
    )
    assert fs.total_bytes is None and fs.percent_used is None
    (disk,) = presenters.disks({"disks": [{"name": "sda", "rotational": None}]})
    assert disk.media == ""
    assert presenters.disks({"disks": [{"name": "sda", "rotational": True}]})[0].media == "HDD"


def test_interfaces_list_up_ones_first_and_loopback_last():
    rows = presenters.interfaces(
        {
            "network": [
                {
                    "name": "lo",
                    "is_up": True,
                    "addresses": [{"family": "ipv4", "address": "127.0.0.1"}],
                },
                {"name": "wlan0", "is_up": False},
                {
                    "name": "eth0",
                    "is_up": True,
                    "mac": "aa:bb",
                    "addresses": [
                        {"family": "ipv4", "address": "10.0.0.5", "netmask": "255.0.0.0"}
                    ],
                },
            ]
        }
    )
    assert [r.name for r in rows] == ["eth0", "lo", "wlan0"]
    assert rows[0].addresses[0].address == "10.0.0.5"


def test_sessions_parse_start_times_newest_first():
    rows = presenters.sessions(
        {
            "users": [
                {"name": "bob", "started": "2026-11-29T01:00:00Z"},
                {"name": "carol", "started": "not a date"},
                {"name": "alice", "started": "2026-11-29T03:00:00Z"},
            ]
        }
    )
    assert [r.name for r in rows] == ["alice", "bob", "carol"]
    assert rows[0].started.hour == 3 and rows[2].started is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        (True, ""),
        ("x", ""),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (8 * 2**30, "8.0 GiB"),
        (3 * 2**40, "3.0 TiB"),
    ],
)
def test_bytes_use_binary_units(value, expected):
    assert bytes_iec(value) == expected


def test_memory_is_shown_in_gib():
    assert gib(8337182720) == "7.8 GiB"
    assert gib(None) == ""


@pytest.mark.parametrize(
    ("mbps", "expected"),
    [
        (100, "100 Mb/s"),
        (1000, "1 Gb/s"),
        (2500, "2.5 Gb/s"),
        (0, ""),
        (None, ""),
    ],
)
def test_link_speed(mbps, expected):
    assert link_speed(mbps) == expected


class _Rule:
    def __init__(self, condition):
        self.condition = condition


@pytest.mark.parametrize(
    ("value", "rule", "expected"),
    [
        ("0.9153804204165935", _Rule({"metric": "steward_filesystem_used_ratio"}), "91.5 %"),
        ("0.04", _Rule({"kind": "threshold", "metric": "steward_memory_available_ratio"}), "4.0 %"),
        ("3221225472.0", _Rule({"metric": "node_memory_MemAvailable_bytes"}), "3.0 GiB"),
        ("2.3456789", _Rule({"metric": "steward_load_per_core"}), "2.346"),
        ("135.25", None, "135.2"),  # no rule any more (deleted): the number alone
        ("0.9153804204165935", _Rule({"kind": "device_offline"}), "0.9154"),
        (
            "/var full in 2 d 4 h (1 d 20 h to 2 d 15 h)",
            None,
            "/var full in 2 d 4 h (1 d 20 h to 2 d 15 h)",
        ),
        ("nan", _Rule({"metric": "x_ratio"}), "nan"),
        ("", None, ""),
    ],
)
def test_alert_values_read_in_their_metrics_unit(value, rule, expected):
    assert alert_value(value, rule) == expected
