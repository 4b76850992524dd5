"""Delivery through the ``apprise`` library: one apprise URL per channel.

The URL carries the service's credentials (``slack://TokenA/TokenB/TokenC``,
``tgram://bottoken/chat``), so it is stored as a secret and shown only as its scheme.
Apprise reports failure as ``False`` and explains in its log, which is captured into the
error. Its own timeouts (``cto``/``rto``, seconds) are set from the channel's ``timeout``.
An URL apprise cannot parse is a permanent error; a refused notification is retried.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import apprise
from pydantic import Field

from steward.notify.channels.base import MASK, DeliveryError, Settings, Transport
from steward.notify.message import Message, Severity

NOTIFY_TYPES = {
    Severity.OK: apprise.NotifyType.SUCCESS,
    Severity.INFO: apprise.NotifyType.INFO,
    Severity.WARNING: apprise.NotifyType.WARNING,
    Severity.CRITICAL: apprise.NotifyType.FAILURE,
}


class Config(Settings):
    timeout: float = Field(10.0, gt=0, le=60)


class Secrets(Settings):
    url: str = Field(min_length=3, max_length=4000)


def body_of(message: Message) -> str:
    lines = [message.text]
    lines += [f"{k}: {v}" for k, v in sorted(message.labels.items())]
    lines += [f"{link.title}: {link.url}" if link.title else link.url for link in message.links]
    return "\n".join(line for line in lines if line)


class AppriseTransport(Transport):
    kind = "apprise"
    Config: ClassVar[type[Settings]] = Config
    Secrets: ClassVar[type[Settings]] = Secrets
    config: Config
    secrets: Secrets

    def __init__(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        super().__init__(config, secrets)
        if apprise.Apprise.instantiate(self.secrets.url) is None:
            raise DeliveryError("apprise: the URL is not one apprise understands", permanent=True)

    @classmethod
    def mask(cls, secrets: dict[str, Any]) -> dict[str, str]:
        url = str(secrets.get("url") or "")
        if not url:
            return {}
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return {"url": f"{scheme}://{MASK}" if scheme else MASK}

    def send(self, message: Message) -> None:
        server = apprise.Apprise.instantiate(self.secrets.url)
        server.socket_connect_timeout = self.config.timeout
        server.socket_read_timeout = self.config.timeout
        notifier = apprise.Apprise()
        notifier.add(server)
        with apprise.LogCapture(level=logging.WARNING) as log:
            ok = notifier.notify(
                title=message.subject,
                body=body_of(message) or message.subject,
                notify_type=NOTIFY_TYPES.get(message.severity, apprise.NotifyType.INFO),
            )
            captured = log.getvalue().strip()
        if not ok:
            reason = captured.splitlines()[-1] if captured else "the service refused it"
            raise DeliveryError(f"apprise ({server.service_name}): {reason}"[:1000])
