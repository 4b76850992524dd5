"""The constants of agent protocol version 1, in one place (``docs/agent-protocol.md``).

Paths, error codes, limits and the wire encoding are read by the client (to build and
classify requests), by the inventory (to stay inside the limits) and by the tests (to
check both against the document), so a change to the contract is a change to this file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

ENROLL_PATH: Final = "/api/v1/agent/enroll"
HEARTBEAT_PATH: Final = "/api/v1/agent/heartbeat"
INVENTORY_PATH: Final = "/api/v1/agent/inventory"
METRICS_PATH: Final = "/api/v1/agent/metrics"
CHECKS_PATH: Final = "/api/v1/agent/checks"
CHECK_RESULTS_PATH: Final = "/api/v1/agent/check-results"
SCRAPE_TARGETS_PATH: Final = "/api/v1/agent/scrape-targets"
SCRAPE_RESULTS_PATH: Final = "/api/v1/agent/scrape-results"

# Stable error codes the agent reacts to (every error body is {"detail", "code"}).
CODE_DEVICE_REVOKED: Final = "device_revoked"
CODE_INVALID_CREDENTIAL: Final = "invalid_credential"
CODE_CLOCK_SKEW: Final = "clock_skew"

# Metrics: the collection interval the server may ask for, in seconds, and the keys of a
# batch's agent_stats (exactly these: a server validating the schema refuses others).
MIN_METRICS_INTERVAL: Final = 1
MAX_METRICS_INTERVAL: Final = 3600
AGENT_STATS_KEYS: Final = (
    "spool_bytes",
    "spool_dropped_samples",
    "collector_errors",
    "collectors_skipped",
)

# Checks: the assignment is fetched at least this often (seconds), besides on start and
# when a heartbeat answer carries a different ``checks_revision``.
CHECKS_FETCH_INTERVAL: Final = 300.0
# Results waiting at most this long are sent together: the alert engine evaluates on
# arrival, so coalescing stops far below the protocol's 1 s ceiling.
RESULTS_COALESCE_SECONDS: Final = 0.1
# One POST carries at most this many results (a replay after an outage is several POSTs).
MAX_RESULTS_PER_POST: Final = 200
# Bodies above this many bytes are gzip'd; below it the gzip header costs more than it saves.
GZIP_ABOVE_BYTES: Final = 1024

# Limits the server enforces; a report over any of them is rejected whole, so the agent
# trims before sending rather than lose a big machine's entire inventory.
MAX_STRING: Final = 1024
MAX_NAME: Final = 255
MAX_BODY_BYTES: Final = 2 * 1024 * 1024
LIST_LIMITS: Final[Mapping[str, int]] = {
    "software": 20_000,
    "partitions": 512,
    "network": 512,
    "disks": 256,
    "users": 1_000,
    "addresses": 64,
}
# Keys whose string values are names or identifiers and get the tighter MAX_NAME cap. The
# document leaves "names" open; capping every short identifier at 255 cannot hurt a real
# value (versions, addresses and terminals are far shorter) and keeps a server that reads
# them as names from rejecting the whole report over one odd entry.
NAME_KEYS: Final = frozenset(
    {
        "name",
        "hostname",
        "fqdn",
        "version",
        "arch",
        "fstype",
        "mac",
        "address",
        "netmask",
        "terminal",
        "host",
    }
)

OS_FAMILIES: Final = frozenset({"linux", "windows", "macos", "bsd", "other"})
SOFTWARE_SOURCES: Final = frozenset(
    {"dpkg", "rpm", "apk", "pacman", "msi", "winget", "brew", "pkg", "other"}
)

# Top-level keys of an inventory report, in the document's order. ``sent_at`` is stamped by
# the client at send time, not by the collector (see ``AgentClient``).
INVENTORY_KEYS: Final = (
    "sent_at",
    "agent_version",
    "hostname",
    "fqdn",
    "os",
    "cpu",
    "memory",
    "disks",
    "partitions",
    "network",
    "hardware",
    "boot_time",
    "users",
    "software",
)


def isoformat(moment: datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with a ``Z`` suffix, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_now() -> str:
    """Now, in the protocol's time format (used for ``sent_at``)."""
    return isoformat(datetime.now(UTC))


def timestamp_to_iso(epoch_seconds: float) -> str:
    """A POSIX timestamp (psutil's boot time, login time) in the protocol's time format."""
    return isoformat(datetime.fromtimestamp(epoch_seconds, UTC))


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent on the wire.

    Compact separators and raw UTF-8 keep big inventories well under ``MAX_BODY_BYTES``;
    the inventory uses the same function to measure a report, so what it measures is what
    the server receives.
    """
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
