"""The server's list of checks for this device, validated with ``steward.checks``.

``GET /api/v1/agent/checks`` answers ``{"revision": "...", "checks": [{"id": 12, "type":
"tcp", "target": ..., "params": {...}, "interval": 10, "timeout": 5, "retries": 0}]}``
(``docs/agent-protocol.md`` § Checks). Every entry with an integer ``id`` becomes an
``AssignedCheck``: runnable (``spec`` set) or not (``problem`` says why: a type this agent
does not know, a server-only type, a parameter out of range), so that the agent can tell
the server once instead of silently skipping it. An entry without an ``id`` cannot be
reported against anything and is only logged.

Keys other than the spec's are ignored, so a newer server may describe checks with more
than this agent knows (a display name, say) without every check turning *unknown*.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from steward.agent import AGENT_VERSION

if TYPE_CHECKING:
    from steward.checks import CheckSpec

# ``steward.checks`` is imported where a check is first validated or run, not at start:
# importing it loads every check type with its libraries (httpx for http, dnspython for
# dns: about 20 MB of RSS), which an agent with no checks assigned never needs.

logger = logging.getLogger(__name__)

SPEC_KEYS = frozenset({"type", "target", "params", "interval", "timeout", "retries"})


class MalformedAssignment(ValueError):
    """The answer is not an assignment at all (no ``checks`` list): nothing in it is used."""


@dataclass(frozen=True, slots=True)
class AssignedCheck:
    """One check the server assigned. ``fingerprint`` identifies its exact configuration:
    an unchanged fingerprint across fetches keeps the check's schedule and state."""

    check_id: int
    fingerprint: str
    spec: CheckSpec | None
    problem: str | None = None
    # The server's entry as sent (for listings); the fingerprint already stands for it.
    entry: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def runnable(self) -> bool:
        return self.spec is not None


@dataclass(frozen=True, slots=True)
class Assignment:
    revision: str | None
    checks: tuple[AssignedCheck, ...]

    def by_id(self, check_id: int) -> AssignedCheck | None:
        return next((c for c in self.checks if c.check_id == check_id), None)


def parse_assignment(data: Mapping[str, Any]) -> Assignment:
    """Validate the server's answer. Raises ``MalformedAssignment`` when ``checks`` is not
    a list; a bad entry only makes that check not runnable."""
    entries = data.get("checks")
    if not isinstance(entries, list):
        raise MalformedAssignment("the answer has no list of checks")
    revision = data.get("revision")
    checks: dict[int, AssignedCheck] = {}
    for index, entry in enumerate(entries):
        check_id = entry.get("id") if isinstance(entry, Mapping) else None
        if isinstance(check_id, bool) or not isinstance(check_id, int):
            logger.error("check #%d in the server's list has no integer id; ignored", index)
            continue
        if check_id in checks:
            logger.error("check %d is listed twice by the server; the first one is used", check_id)
            continue
        checks[check_id] = parse_check(check_id, entry)
    return Assignment(
        revision=revision if isinstance(revision, str) else None,
        checks=tuple(checks.values()),
    )


def parse_check(check_id: int, entry: Mapping[str, Any]) -> AssignedCheck:
    fingerprint = json.dumps(entry, sort_keys=True, default=str)
    fields = {key: value for key, value in entry.items() if key in SPEC_KEYS}
    from steward.checks import CheckSpec, Side, SpecError, validate

    try:
        spec = CheckSpec.from_dict(fields)
        validate(spec, Side.AGENT)
    except SpecError as error:
        problem = f"not run by steward-agent {AGENT_VERSION}: {error}"
        return AssignedCheck(check_id, fingerprint, None, problem, entry)
    return AssignedCheck(check_id, fingerprint, spec, None, entry)
