"""Running the checks the server assigns to this device (``docs/agent-protocol.md`` § Checks).

The check implementations themselves are ``steward.checks``, the pure package shared with
the server's worker; this package schedules them, keeps their state and delivers their
results. Entry point: ``ChecksService`` (``service``), driven by ``AgentRunner``.
"""

from steward.agent.checks.assignment import AssignedCheck, Assignment, MalformedAssignment
from steward.agent.checks.service import ChecksService, load_cached_assignment, result_to_wire

__all__ = [
    "AssignedCheck",
    "Assignment",
    "ChecksService",
    "MalformedAssignment",
    "load_cached_assignment",
    "result_to_wire",
]
