"""What every channel integration provides: a transport and the shape of its settings.

A transport sends one ``Message`` or raises ``DeliveryError``. ``permanent=True`` says that
retrying cannot help (a 400 from a webhook, a refused SMTP login, a malformed apprise URL):
the delivery goes straight to the dead letters. Everything else is retried with backoff.
Modelled on Healthchecks ``hc/api/transports.py`` (``TransportError(permanent=...)``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from steward.notify.message import Message

MASK = "********"


class DeliveryError(Exception):
    """A failed attempt. ``retry_after``: seconds the receiver asked us to wait, if any."""

    def __init__(self, message: str, permanent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


class Settings(BaseModel):
    """Base for a kind's ``config`` (visible) and ``secrets`` (write-only) schemas."""

    model_config = ConfigDict(extra="forbid")


class Transport(ABC):
    """Sends messages through one channel. Built per attempt from the stored settings."""

    kind: ClassVar[str]
    Config: ClassVar[type[Settings]]
    Secrets: ClassVar[type[Settings]]

    def __init__(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        self.config = self.Config.model_validate(config)
        self.secrets = self.Secrets.model_validate(secrets)

    @abstractmethod
    def send(self, message: Message) -> None:
        """Deliver ``message`` or raise ``DeliveryError``. Must return within ``timeout``."""

    @classmethod
    def mask(cls, secrets: dict[str, Any]) -> dict[str, str]:
        """How the stored secrets are shown: which are set, never their values."""
        return {key: MASK for key, value in secrets.items() if value}

    @classmethod
    def prepare_secrets(cls, secrets: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Fill secrets the server generates; return (secrets, generated ones to show once)."""
        return secrets, {}
