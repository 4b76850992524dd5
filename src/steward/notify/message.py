"""The message every channel sends, independent of where it came from (alert, ticket, job).

Plain data: the alert engine, the help desk and the automation layer build a ``Message``;
each transport renders it in its own way. Stored on the delivery as JSON (``as_dict`` /
``from_dict``) so that the worker can send it long after the caller is gone.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    OK = "ok"  # a problem is over (resolved)
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITY_RANK = {Severity.OK: 0, Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


@dataclass(frozen=True)
class Link:
    url: str
    title: str = ""


@dataclass(frozen=True)
class Message:
    """One notification.

    ``html`` is *trusted* markup built by server code (never raw user input); when empty,
    the email channel renders ``text`` itself. ``idempotency_key`` makes enqueueing the
    same message twice to one channel a no-op: the alert engine uses e.g.
    ``"alert:17:firing:3"``. ``recipients`` overrides the email channel's addressees (the
    help desk writes to one requester); other channels ignore it.
    """

    subject: str
    text: str
    html: str = ""
    severity: Severity = Severity.INFO
    event_kind: str = "generic"
    labels: dict[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    idempotency_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    recipients: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["links"] = [asdict(link) for link in self.links]
        data["recipients"] = list(self.recipients)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(
            subject=data["subject"],
            text=data.get("text", ""),
            html=data.get("html", ""),
            severity=Severity(data.get("severity", Severity.INFO)),
            event_kind=data.get("event_kind", "generic"),
            labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
            links=tuple(Link(**link) for link in data.get("links") or ()),
            idempotency_key=data.get("idempotency_key") or uuid.uuid4().hex,
            recipients=tuple(data.get("recipients") or ()),
        )
