"""Who is acting right now, for the audit log.

Set by the request middleware (console and API), by the API's authentication (token
users), by the CLI commands and by the agent API. A ``ContextVar`` follows the code
through sync and async Django alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Actor:
    user: Any = None  # accounts.User or None
    label: str = "system"  # "alice@example.com", "device:17", "system"
    source: str = "system"  # console, api, cli, agent, worker, system
    address: str | None = None


_SYSTEM = Actor()
_current: ContextVar[Actor | None] = ContextVar("steward_audit_actor", default=None)


def current() -> Actor:
    return _current.get() or _SYSTEM


def set_actor(actor: Actor) -> None:
    _current.set(actor)


@contextmanager
def acting_as(
    user: Any = None,
    label: str | None = None,
    source: str | None = None,
    address: str | None = None,
) -> Iterator[Actor]:
    base = current()
    actor = replace(
        base,
        user=user if user is not None else base.user,
        label=label or (getattr(user, "email", None) if user is not None else None) or base.label,
        source=source or base.source,
        address=address if address is not None else base.address,
    )
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)
