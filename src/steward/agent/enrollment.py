"""Enrollment: trade a one-time token for a device credential and keep it.

Neither the token nor the credential is ever logged: logs are shipped, shared in tickets
and read by people who should not be able to impersonate the machine.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from steward.agent.client import AgentClient
from steward.agent.platforms import Platform, current_platform
from steward.agent.state import AgentState, ensure_state_dir, save_state

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Enrollment:
    """The saved state plus what the server said about where the device landed."""

    state: AgentState
    organization: str | None
    site: str | None
    heartbeat_interval: int | None
    inventory_interval: int | None


def enroll_device(
    server_url: str,
    token: str,
    state_dir: Path,
    ca_file: str | None = None,
    platform: Platform | None = None,
) -> Enrollment:
    """Enroll this machine and save the credential in ``state_dir``.

    The state directory is checked first: a token may be single-use, and a credential the
    agent cannot store is a token spent for nothing. Raises the client's exceptions
    (``EnrollmentRejected``, ``ServerUnavailable``, ...) and ``StateError``.
    """
    platform = platform if platform is not None else current_platform()
    # Stored absolute: the service that reads it later does not run from this directory.
    ca_file = str(Path(ca_file).resolve()) if ca_file else None
    ensure_state_dir(state_dir)
    machine_id = platform.machine_id(state_dir)
    hostname = socket.gethostname()
    logger.info("enrolling %s with %s", hostname, server_url)
    with AgentClient(server_url, ca_file=ca_file) as client:
        response = client.enroll(
            token=token, hostname=hostname, machine_id=machine_id, platform=platform.family
        )
    state = AgentState(
        server_url=client.server_url,
        device_id=response.device_id,
        credential=response.credential,
        ca_file=ca_file,
    )
    path = save_state(state, state_dir)
    logger.info("enrolled as device %d; state saved to %s", state.device_id, path)
    return Enrollment(
        state=state,
        organization=response.organization,
        site=response.site,
        heartbeat_interval=response.heartbeat_interval,
        inventory_interval=response.inventory_interval,
    )


def enroll(server_url: str, token: str, state_dir: Path, ca_file: str | None = None) -> AgentState:
    """Enroll this machine and return the saved state (see ``enroll_device``)."""
    return enroll_device(server_url, token, state_dir, ca_file).state
