"""One folder per channel kind; ``TRANSPORTS`` is the table the rest of the app reads.

To add a kind: a folder with ``transport.py`` defining a ``Transport`` subclass (its
``Config`` and ``Secrets`` schemas, ``send``), and an entry here.
"""

from __future__ import annotations

from steward.notify.channels.apprise.transport import AppriseTransport
from steward.notify.channels.base import MASK, DeliveryError, Transport
from steward.notify.channels.email.transport import EmailTransport
from steward.notify.channels.webhook.transport import WebhookTransport

TRANSPORTS: dict[str, type[Transport]] = {
    t.kind: t for t in (EmailTransport, WebhookTransport, AppriseTransport)
}

__all__ = ["MASK", "TRANSPORTS", "DeliveryError", "Transport"]
